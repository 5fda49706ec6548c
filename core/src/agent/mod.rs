//! The agent: runs executors and tasks for the master (issue 3; being built).
//!
//! - `fetcher`: CommandInfo.URI download and extraction into a sandbox.
//! - `files`: the `/files` endpoints over sandboxes, confined to them.
//! - `command_executor`: the logic of `remesos executor`, the built-in command executor
//!   (a separate process speaking the v1 executor API to the agent).

pub mod command_executor;
pub mod fetcher;
pub mod files;
