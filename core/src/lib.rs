//! remesos: Apache Mesos remade in Rust.
//!
//! # Layout
//!
//! | module | layer | what lives there |
//! |---|---|---|
//! | [`cli`] | 4 | the subcommands of the `remesos` binary: flag loading and wiring only |
//! | `fuzzing` (hidden) | 4 | the bodies of the fuzz targets in `fuzz/`, replayed by `tests/fuzz_corpora.rs` |
//! | [`master`] | 3 | the master actor: frameworks, agents, tasks, offers; `http/` (scheduler + operator APIs); `service` (the agents' gRPC service); `flags` (its flag table and Config) |
//! | [`agent`] | 3 | the agent: executors and tasks, status updates, sandboxes and `meta/` checkpoints, fetcher, `/files`; `flags`, `daemon` (an agent in this process) |
//! | [`executor`] | 3 | the built-in executors (command, default): clients of the v1 executor API (Mesos's `src/launcher/`) |
//! | [`client`] | 3 | Rust clients of the v1 scheduler and executor APIs; `client::driver`: the scheduler and executor drivers and `org.apache.mesos.state` (`State` over a `Storage`: ZooKeeper, embedded, in-memory) behind libmesos.so (`jni-driver/`) |
//! | [`local`] | 3 | a master and agents in one process: `remesos local` and the driver's `local` master |
//! | [`allocator`] | 2 | the pure hierarchical DRF allocator: roles, weights, quota, filters; no I/O, no clock |
//! | [`registry`] | 2 | the master's durable registry: records, operations, the `RegistryStore` seam and its file, in-memory and ZooKeeper stores (Mesos's `src/state/storage.hpp`); `master::registrar` batches writes over it |
//! | [`security`] | 2 | the daemons' security configuration: Mesos's security flags, refused until implemented |
//! | [`zk`] | 2 | ZooKeeper: leader election and detection with Mesos's znode layout, the session the registry's ZooKeeper store shares |
//! | [`api`] | 2 | plumbing shared by the v1 HTTP APIs (content negotiation, call decoding, RecordIO streams), the daemons' server (`api::serve`), `/logging/toggle` |
//! | [`supervisor`] | 2 | what a daemon does when its master or agent actor panics: exit, never serve on as "healthy" |
//! | [`resources`] | 1 | Resource arithmetic: scalars, ranges, sets, roles, reservations, Mesos's text form |
//! | [`common`] | 1 | what every layer shares: validated ids, protocol predicates, version facts, the task JSON model, the daemon's address |
//! | [`flags`], [`duration`] | 1 | Mesos-style flags (`--name=value`, `MESOS_<NAME>`) and stout's duration/bytes text |
//!
//! The protocol types, Mesos's JSON dialect and RecordIO live in the `remesos_proto` crate
//! (`core/proto`) so that master and agent changes do not recompile generated code.
//!
//! # The dependency rule
//!
//! A module uses only modules of lower layers (DESIGN.md §1). Nothing points up; a circle
//! is a design bug.
//!
//! ```text
//! 4  cli        fuzzing
//!     │            │
//!     ▼            ▼
//! 3  master   agent   executor ──► client ──► local ──► master, agent
//!     │         │        │           │
//!     ▼         ▼        ▼           ▼
//! 2  allocator   registry ──► zk   security   api   supervisor
//!     │             │               │          │
//!     ▼             ▼               ▼          ▼
//! 1  resources ◄── common ──► flags ──► duration
//!     │             │
//!     ▼             ▼
//! 0  remesos_proto (crate)
//! ```
//!
//! Every arrow may skip layers downwards (cli uses flags; master uses common). Within a
//! layer only the drawn edges exist: `local` runs a master and agents; the driver (`client`)
//! starts `local` for the master string `local`, as Mesos's `sched.cpp` calls
//! `local::launch`; the executors speak the executor API through `client`; the registry's
//! ZooKeeper store uses `zk`; the task JSON model (`common`) shows resources and the address
//! flags read `flags`. `core/tests/layers.rs` checks every `crate::` and `super::` path of
//! `core/src` against this table, test code included, and names each offending line; it
//! allows no exception.

// clippy.toml bans clock reads and process spawning outside the shells that need them;
// unit tests do both freely.
#![cfg_attr(
    test,
    allow(
        clippy::disallowed_methods,
        reason = "unit tests read the clock and start processes"
    )
)]

pub mod agent;
pub mod allocator;
pub mod api;
pub mod cli;
pub mod client;
pub mod common;
pub mod duration;
pub mod executor;
pub mod flags;
#[doc(hidden)]
pub mod fuzzing;
pub mod local;
pub mod master;
pub mod registry;
pub mod resources;
pub mod security;
pub mod supervisor;
pub mod zk;
