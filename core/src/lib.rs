//! remesos

pub mod duration;
pub mod flags;
