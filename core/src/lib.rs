//! remesos
pub mod allocator;
pub mod resources;
