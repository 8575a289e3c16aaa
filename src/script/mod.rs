//! `Taskfile.rhai`: tasks, hooks, retry policies and evaluated tasks
//! written in Rhai.
//!
//! A script produces the same [`TaskSpec`](crate::task::TaskSpec)s as the
//! task file parser, so validation, scheduling and recording are shared.
//! Scripts are evaluated with limits (see [`engine`]) so that a runaway
//! script stops with an error instead of hanging taskrun.

mod api;
mod engine;
mod eval;
mod hooks;
mod load;
mod policy;
mod view;

pub(crate) use engine::Place;
pub(crate) use eval::{Evaluation, Evaluator};
pub(crate) use hooks::Hooks;
pub(crate) use load::{Script, load};
pub(crate) use policy::Policy;
pub(crate) use view::TaskView;
