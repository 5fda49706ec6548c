//! What every layer shares (DESIGN.md §1), below master, agent, executors and clients:
//! validated ids ([`id`]), protocol predicates ([`protocol`]: terminal states,
//! capabilities), version facts ([`version`]), the JSON models of tasks and attributes
//! both daemons serve ([`json`]) and the address a daemon advertises ([`address`]:
//! hostname, IP, address flags), a helper of the actors' bounded queues ([`queue`]), the one backoff ([`backoff`]) and
//! the time handlers are given ([`time`]), dockerd's read-only Engine API ([`docker_api`]: the
//! docker containerizer's and docker executor's questions, without a CLI process), and the validation of task fields both the master
//! and the executors check ([`validation`]: health checks, checks, environments), the
//! Prometheus/OpenMetrics exposition of both daemons' metrics ([`metrics`]), and entering a
//! container image's root filesystem ([`rootfs`]: the command executor's `--rootfs`,
//! `remesos launch` and the agent's nested containers in images do it alike).
//! Mesos keeps the same things in `src/common/`
//! (`validation.cpp`, `protobuf_utils.cpp`, `http.cpp`, `build.hpp`). Nothing here imports
//! a module above `resources` and `flags`.

pub mod address;
pub mod backoff;
pub mod docker_api;
pub mod fdpath;
pub mod id;
pub mod json;
pub mod metrics;
pub mod protocol;
pub mod queue;
pub mod rootfs;
pub mod time;
pub mod validation;
pub mod version;

/// libprocess's `http::encode`: every byte but `A-Za-z0-9-._~` as `%XX` (a metric key's
/// framework name, a registry's query, a URL's query value).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An error with its sources, `: `-separated (hyper's and tonic's own messages hide the
/// cause: a refused certificate, a reset connection).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
