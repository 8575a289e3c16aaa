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

pub use eval::Evaluator;
pub use hooks::Hooks;
pub use load::{Script, load};
pub use policy::Policy;
pub use view::TaskView;
