//! remesos
