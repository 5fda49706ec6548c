//! The built-in executors (DESIGN.md §1, §5): [`command`] (`remesos executor`, Mesos's
//! `mesos-executor`, `src/launcher/executor.cpp`), its docker mode [`docker`] (`remesos
//! executor --docker_run=…`, Mesos's `mesos-docker-executor`, `src/docker/executor.cpp`)
//! and [`default`] (`remesos executor --default`, Mesos's `mesos-default-executor`,
//! `src/launcher/default_executor.cpp`).
//!
//! They are clients of the v1 executor API, not part of the agent: each runs as a process
//! of its own in the executor's sandbox and talks to the agent only over HTTP, through
//! [`crate::client::executor`] — as Mesos keeps them in `src/launcher/`, apart from
//! `src/slave/`. So this module sits beside `client` and imports neither the agent nor the
//! master; `cli/executor.rs` only parses flags and the environment and calls [`command::run`]
//! or [`default::run`].

pub mod checks;
pub mod command;
pub mod default;
pub mod docker;
