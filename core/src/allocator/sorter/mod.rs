//! Sorters decide who is offered next: `drf` (weighted dominant resource fairness).

pub(crate) mod drf;
