//! Apache Mesos 1.11 protocol types for remesos.
//!
//! - [`mesos`], [`mesos::v1`] and their sub-packages: prost types generated from schemas that are
//!   field-for-field those of Apache's published jar (checked by `tests/compat.rs`).
//! - [`json`]: Mesos's JSON dialect (stout's rules, reference/mesos-contract.md §3.1) for every
//!   message, driven by the descriptors.
//! - [`recordio`]: the `<length>\n<bytes>` framing of the v1 streaming APIs.
//! - [`internal`]: remesos's own master<->agent gRPC service.
//! - [`mesos::Acls`]: the local authorizer's ACLs (`mesos/authorizer/acls.proto`, package `mesos`).

#![allow(clippy::all)] // generated code below; our own modules opt back in

pub mod json;
pub mod recordio;

/// The `mesos` package (v0) and its children.
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod mesos {
    include!(concat!(env!("OUT_DIR"), "/mesos.rs"));
    pub mod scheduler {
        include!(concat!(env!("OUT_DIR"), "/mesos.scheduler.rs"));
    }
    pub mod executor {
        include!(concat!(env!("OUT_DIR"), "/mesos.executor.rs"));
    }
    /// The `mesos.v1` package: the types of the v1 HTTP APIs.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));
        pub mod scheduler {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
        }
        pub mod executor {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.executor.rs"));
        }
        pub mod master {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.master.rs"));
        }
        pub mod agent {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.agent.rs"));
        }
        pub mod quota {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.quota.rs"));
        }
        pub mod maintenance {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.maintenance.rs"));
        }
        pub mod allocator {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.allocator.rs"));
        }
        pub mod resource_provider {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.resource_provider.rs"));
        }
    }
}

/// remesos's own packages.
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod remesos {
    /// The internal master<->agent protocol (`proto/remesos/internal.proto`).
    pub mod internal {
        include!(concat!(env!("OUT_DIR"), "/remesos.internal.rs"));
    }
}

pub use remesos::internal;

/// The serialized FileDescriptorSet of every schema above, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

pub use mesos::v1;
