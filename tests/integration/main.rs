//! Integration tests: the real `taskrun` binary, run in temporary
//! directories, checked by exit status and output.
//!
//! One test binary (this file and its modules) so that it links once.

#![allow(
    clippy::unwrap_used,
    reason = "a test should stop loudly at the first surprise"
)]
#![allow(
    clippy::format_push_string,
    clippy::format_collect,
    reason = "building test inputs is clearer with format! than write!"
)]

mod book;
mod broker;
mod cache;
mod check;
mod correctness;
mod daily;
mod diff;
mod examples;
mod gc;
mod graph;
mod harness;
mod history;
mod junit;
mod order;
mod passing;
mod prune;
mod recall;
mod reports;
mod run;
mod script;
mod search;
mod signals;
mod slurm;
mod slurm_steps;
mod stats;
mod structured;
mod terminal;
mod timeline;
mod watch;
