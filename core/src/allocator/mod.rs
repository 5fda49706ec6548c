//! Hierarchical DRF allocator (in progress).
