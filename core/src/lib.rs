//! remesos: Apache Mesos remade in Rust.
//!
//! # Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`common`] | what every layer shares: ids validated by Mesos's rules ([`common::id`]), the only way to name a directory under a work_dir |
//! | [`resources`] | Resource arithmetic: scalars, ranges, sets, roles, reservations, Mesos's text form |
//! | [`allocator`] | the pure hierarchical DRF allocator: roles, weights, quota, filters; no I/O, no clock |
//! | [`registry`] | the master's durable registry: records, operations, the `RegistryStore` seam and its file, in-memory and ZooKeeper stores |
//! | [`agent`] | the agent: executors and tasks, status updates, sandboxes and `meta/` checkpoints, fetcher, `/files`, the command executor |
//! | [`master`] | the master actor: frameworks, agents, tasks, offers; `http/` (scheduler + operator APIs); `service` (the agents' gRPC service) |
//! | [`api`] | plumbing shared by the v1 HTTP APIs: content negotiation, call decoding, RecordIO streams |
//! | [`flags`], [`duration`] | Mesos-style flags (`--name=value`, `MESOS_<NAME>`) and stout's duration/bytes text |
//! | [`client`] | Rust clients of the v1 scheduler and executor APIs, used by tests, benchmarks and the CLI; `client::driver`: the scheduler and executor drivers behind libmesos.so (`jni-driver/`) |
//! | [`cli`] | the subcommands of the `remesos` binary |
//! | [`supervisor`] | what a daemon does when its master or agent actor panics: exit, never serve on as "healthy" |
//! | `fuzzing` (hidden) | the bodies of the fuzz targets in `fuzz/`, replayed by `tests/fuzz_corpora.rs` |
//! | [`zk`] | ZooKeeper: leader election and detection with Mesos's znode layout, the session the registry's ZooKeeper store shares |
//!
//! The protocol types, Mesos's JSON dialect and RecordIO live in the `remesos_proto` crate
//! (`core/proto`) so that master and agent changes do not recompile generated code.

pub mod agent;
pub mod allocator;
pub mod api;
pub mod cli;
pub mod client;
pub mod common;
pub mod duration;
pub mod flags;
#[doc(hidden)]
pub mod fuzzing;
pub mod master;
pub mod registry;
pub mod resources;
pub mod supervisor;
pub mod zk;
