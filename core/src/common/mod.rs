//! What every layer shares (DESIGN.md §1): validated ids first; protocol predicates and
//! version facts move here with the architecture step.

pub mod backoff;
pub mod id;
