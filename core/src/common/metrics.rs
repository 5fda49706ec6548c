//! `/metrics`: the daemons' metrics in the Prometheus text format (version 0.0.4) and in
//! OpenMetrics 1.0, and the histograms Mesos lacks.
//!
//! Mesos serves its metrics only as the flat JSON object of `/metrics/snapshot` (libprocess
//! `3rdparty/libprocess/src/metrics/metrics.cpp`); its names and types are listed in
//! `docs/monitoring.md`. This module owns what turns such a snapshot into an exposition a
//! Prometheus server scrapes, with one rule for the names ([`map_key`]) and one for the
//! types ([`kind`]), and the lock-free [`Histogram`]s the runtimes feed with the durations
//! they measure (the state machines never read a clock: a duration comes in computed from
//! the `now`s they are given, or measured by the async shell around them).
//!
//! # The mapping rule
//!
//! 1. Where Mesos puts a variable in a key, the variable becomes a label and the key's
//!    fixed words the name: `master/frameworks/<name>/<id>/tasks/active/<state>` is
//!    `mesos_master_framework_tasks_active{framework_name, framework_id, state}`. The
//!    patterns are [`PATTERNS`]; label values are percent-decoded (Mesos encodes the
//!    framework's name in the key).
//! 2. The statistics Mesos adds below a timer (`allocator/mesos/allocation_run_ms/p99`)
//!    become the timer's name with a `quantile` label (`p50` → `0.5`, `p9999` → `0.9999`),
//!    or `_count`, `_min`, `_max` appended.
//! 3. Any other key is `mesos_` followed by the key with every character outside
//!    `[A-Za-z0-9_]` turned into `_`: `master/tasks_running` is `mesos_master_tasks_running`,
//!    `slave/tasks_running` `mesos_slave_tasks_running` (Mesos's own word `slave` is kept).
//! 4. A counter (Mesos's type, [`kind`]) gets the suffix `_total`, in both formats:
//!    `master/tasks_finished` is `mesos_master_tasks_finished_total`. A gauge keeps its
//!    name even when Mesos's ends in `_total` (`mesos_master_cpus_total`).
//!
//! The histograms remesos adds are named `remesos_*_seconds` (see the daemons' `/metrics`
//! handlers) and have the buckets of [`LATENCY_BUCKETS`].
//!
//! # Formats
//!
//! A scrape whose `Accept` names `application/openmetrics-text` gets OpenMetrics 1.0
//! (counter families named without `_total`, their samples with it, `# EOF` at the end);
//! every other scrape gets the text format 0.0.4 ([`Format::negotiate`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms: 0.5 ms to a minute.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// A Mesos metric's type (`docs/monitoring.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// The Mesos keys `docs/monitoring.md` types as counters, and the families of counters
/// (a `*` stands for one variable segment). Everything else is a gauge.
const COUNTERS: &[&str] = &[
    "master/slave_registrations",
    "master/slave_removals",
    "master/slave_removals/*",
    "master/slave_reregistrations",
    "master/slave_unreachable_scheduled",
    "master/slave_unreachable_canceled",
    "master/slave_unreachable_completed",
    "master/frameworks/*/*/calls",
    "master/frameworks/*/*/calls/*",
    "master/frameworks/*/*/events",
    "master/frameworks/*/*/events/*",
    "master/frameworks/*/*/operations",
    "master/frameworks/*/*/operations/*",
    "master/frameworks/*/*/tasks/terminal/*",
    "master/frameworks/*/*/offers/*",
    "master/tasks_error",
    "master/tasks_failed",
    "master/tasks_finished",
    "master/tasks_killed",
    "master/tasks_lost",
    "master/tasks_dropped",
    "master/tasks_gone",
    "master/tasks_gone_by_operator",
    "master/invalid_executor_to_framework_messages",
    "master/invalid_framework_to_executor_messages",
    "master/invalid_operation_status_update_acknowledgements",
    "master/invalid_status_update_acknowledgements",
    "master/invalid_status_updates",
    "master/dropped_messages",
    "master/recovery_slave_removals",
    "master/valid_framework_to_executor_messages",
    "master/valid_operation_status_update_acknowledgements",
    "master/valid_status_update_acknowledgements",
    "master/valid_status_updates",
    "master/valid_executor_to_framework_messages",
    "master/task_*/*/*",
    "allocator/mesos/allocation_runs",
    "containerizer/mesos/container_destroy_errors",
    "containerizer/fetcher/task_fetches_succeeded",
    "containerizer/fetcher/task_fetches_failed",
    "gc/path_removals_failed",
    "gc/path_removals_succeeded",
    "slave/container_launch_errors",
    "slave/executors_preempted",
    "slave/executors_terminated",
    "slave/tasks_failed",
    "slave/tasks_finished",
    "slave/tasks_killed",
    "slave/tasks_lost",
    "slave/tasks_gone",
    "slave/invalid_framework_messages",
    "slave/invalid_status_updates",
    "slave/valid_framework_messages",
    "slave/valid_status_updates",
];

/// Operation states whose Mesos metrics are counters (the terminal ones); the others are
/// gauges (`docs/monitoring.md`, "master/operations/<OPERATION_STATE>").
const TERMINAL_OPERATION_STATES: &[&str] =
    &["finished", "failed", "error", "dropped", "gone_by_operator"];

/// A Mesos key's type: a counter when `docs/monitoring.md` says so, a gauge otherwise.
pub fn kind(key: &str) -> Kind {
    let segments: Vec<&str> = key.split('/').collect();
    if segments.len() >= 3
        && segments[0] == "master"
        && segments[1] == "operations"
        && segments
            .last()
            .is_some_and(|s| TERMINAL_OPERATION_STATES.contains(s))
    {
        return Kind::Counter;
    }
    // `master/messages_*` are all counters.
    if segments.len() == 2 && segments[0] == "master" && segments[1].starts_with("messages_") {
        return Kind::Counter;
    }
    let counter = COUNTERS.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(p, s)| {
                *p == "*" || (p.ends_with('*') && s.starts_with(&p[..p.len() - 1])) || p == s
            })
    });
    if counter { Kind::Counter } else { Kind::Gauge }
}

/// The keys in which Mesos encodes variables, and the names they map to (rule 1 of the
/// module doc). In a pattern a segment `{label}` is a label; `prefix_{label}` a label whose
/// value follows the prefix; `*` a word appended to the name. The second name is the one
/// of the pattern's counters when its gauges and counters would otherwise share a family
/// (`master/operations/<state>`: terminal states count, the others are gauges).
pub const PATTERNS: &[(&str, &str, &str)] = &[
    (
        "master/frameworks/{framework_name}/{framework_id}/subscribed",
        "master_framework_subscribed",
        "master_framework_subscribed",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/calls",
        "master_framework_calls",
        "master_framework_calls",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/calls/{call}",
        "master_framework_calls",
        "master_framework_calls",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/events",
        "master_framework_events",
        "master_framework_events",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/events/{event}",
        "master_framework_events",
        "master_framework_events",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/operations",
        "master_framework_operations",
        "master_framework_operations",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/operations/{operation_type}",
        "master_framework_operations",
        "master_framework_operations",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/tasks/active/{state}",
        "master_framework_tasks_active",
        "master_framework_tasks_active",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/tasks/terminal/{state}",
        "master_framework_tasks_terminal",
        "master_framework_tasks_terminal",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/offers/*",
        "master_framework_offers",
        "master_framework_offers",
    ),
    (
        "master/frameworks/{framework_name}/{framework_id}/roles/{role}/suppressed",
        "master_framework_role_suppressed",
        "master_framework_role_suppressed",
    ),
    (
        "master/operations/total",
        "master_operations",
        "master_operations",
    ),
    (
        "master/operations/{operation_type}/total",
        "master_operations",
        "master_operations",
    ),
    (
        "master/operations/{operation_type}/{state}",
        "master_operations",
        "master_operations_terminal",
    ),
    (
        "master/operations/{state}",
        "master_operations",
        "master_operations_terminal",
    ),
    (
        "master/slave_removals/reason_{reason}",
        "master_slave_removals",
        "master_slave_removals",
    ),
    (
        "master/task_{state}/source_{source}/reason_{reason}",
        "master_task_reasons",
        "master_task_reasons",
    ),
    (
        "allocator/mesos/roles/{role}/shares/dominant",
        "allocator_role_shares_dominant",
        "allocator_role_shares_dominant",
    ),
    (
        "allocator/mesos/offer_filters/roles/{role}/active",
        "allocator_offer_filters_active",
        "allocator_offer_filters_active",
    ),
    (
        "allocator/mesos/quota/roles/{role}/resources/{resource}/*",
        "allocator_quota",
        "allocator_quota",
    ),
    (
        "allocator/mesos/resources/{resource}/*",
        "allocator_resources",
        "allocator_resources",
    ),
];

/// Where a Mesos key goes in an exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    /// The family's name, without the counter suffix `_total`.
    pub name: String,
    /// Label names and (decoded) values.
    pub labels: Vec<(String, String)>,
    pub kind: Kind,
    /// The key or pattern it came from, for `# HELP`.
    pub help: String,
}

/// The mapping rule of the module doc.
pub fn map_key(key: &str) -> Mapped {
    // remesos's own gauges come named already.
    if key.starts_with("remesos_") && !key.contains('/') {
        return Mapped {
            name: sanitize(key),
            labels: vec![],
            kind: Kind::Gauge,
            help: "remesos gauge".into(),
        };
    }
    let kind = kind(key);
    let segments: Vec<&str> = key.split('/').collect();
    for (pattern, gauge, counter) in PATTERNS {
        if let Some((words, labels)) = match_pattern(pattern, &segments) {
            let mut name = format!(
                "mesos_{}",
                if kind == Kind::Counter {
                    counter
                } else {
                    gauge
                }
            );
            for word in words {
                name.push('_');
                name.push_str(&sanitize(word));
            }
            return Mapped {
                name,
                labels,
                kind,
                help: format!("Mesos metric {pattern}"),
            };
        }
    }
    // Rule 2: a timer's statistics.
    if let Some((timer, stat)) = key.rsplit_once('/')
        && (timer.ends_with("_ms") || timer.ends_with("_secs"))
    {
        let quantile = match stat {
            "p50" => Some("0.5"),
            "p90" => Some("0.9"),
            "p95" => Some("0.95"),
            "p99" => Some("0.99"),
            "p999" => Some("0.999"),
            "p9999" => Some("0.9999"),
            _ => None,
        };
        let base = format!("mesos_{}", sanitize(timer));
        if let Some(q) = quantile {
            return Mapped {
                name: base,
                labels: vec![("quantile".into(), q.into())],
                kind: Kind::Gauge,
                help: format!("Mesos metric {timer}"),
            };
        }
        if matches!(stat, "count" | "min" | "max") {
            return Mapped {
                name: format!("{base}_{stat}"),
                labels: vec![],
                kind: Kind::Gauge,
                help: format!("Mesos metric {key}"),
            };
        }
    }
    let mut name = format!("mesos_{}", sanitize(key));
    if kind == Kind::Counter && name.ends_with("_total") {
        name.truncate(name.len() - "_total".len());
    }
    Mapped {
        name,
        labels: vec![],
        kind,
        help: format!("Mesos metric {key}"),
    }
}

/// Matches `segments` against `pattern`: the words its `*` segments stand for and the
/// labels its `{label}` segments capture.
#[allow(clippy::type_complexity, reason = "a private helper's two lists")]
fn match_pattern<'a>(
    pattern: &str,
    segments: &[&'a str],
) -> Option<(Vec<&'a str>, Vec<(String, String)>)> {
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut words = Vec::new();
    let mut labels = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if *part == "*" {
            words.push(*segment);
        } else if let Some((prefix, rest)) = part.split_once('{') {
            let label = rest.strip_suffix('}')?;
            let value = segment.strip_prefix(prefix)?;
            if value.is_empty() {
                return None;
            }
            labels.push((label.to_string(), percent_decode(value)));
        } else if part != segment {
            return None;
        }
    }
    Some((words, labels))
}

/// `[A-Za-z0-9_]` kept, anything else `_`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `%XX` decoded (Mesos encodes a framework's name in its metric keys); a malformed escape
/// is kept as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A histogram of durations, shared by the threads that observe it and the `/metrics`
/// handler that reads it: atomics only, so observing never waits for a lock (the master's
/// loop observes some of them).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative): `buckets[i]` counts those `<= bounds[i]`
    /// and above `bounds[i - 1]`; the last entry counts those above every bound.
    buckets: Box<[AtomicU64]>,
    /// The sum of the observations, in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    /// A latency histogram.
    fn default() -> Self {
        Histogram::latency()
    }
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds ascend");
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// A latency histogram ([`LATENCY_BUCKETS`]).
    pub fn latency() -> Histogram {
        Histogram::new(LATENCY_BUCKETS)
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let index = self.bounds.partition_point(|b| *b < secs);
        self.buckets[index].fetch_add(1, Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// Cumulative counts per bound (the last for `+Inf`, which is the count), and the sum
    /// in seconds.
    fn read(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Relaxed);
                total
            })
            .collect();
        (cumulative, self.sum_nanos.load(Relaxed) as f64 / 1e9)
    }
}

/// Histograms by one label whose values are fixed when it is made (route templates), so
/// that the label set stays bounded whatever the clients send: any other value is
/// observed under [`HistogramVec::OTHER`].
#[derive(Debug)]
pub struct HistogramVec {
    label: &'static str,
    /// Sorted by value.
    values: Vec<(String, Histogram)>,
    other: Histogram,
}

impl HistogramVec {
    /// The value under which what is not one of the known values is observed.
    pub const OTHER: &'static str = "other";

    pub fn new(label: &'static str, values: impl IntoIterator<Item = String>) -> HistogramVec {
        let mut values: Vec<String> = values.into_iter().collect();
        values.sort();
        values.dedup();
        HistogramVec {
            label,
            values: values
                .into_iter()
                .map(|v| (v, Histogram::latency()))
                .collect(),
            other: Histogram::latency(),
        }
    }

    pub fn observe(&self, value: &str, d: Duration) {
        self.get(value).observe(d);
    }

    /// The histogram of `value` (of [`HistogramVec::OTHER`] when it is not a known value).
    pub fn get(&self, value: &str) -> &Histogram {
        match self.values.binary_search_by(|(v, _)| v.as_str().cmp(value)) {
            Ok(i) => &self.values[i].1,
            Err(_) => &self.other,
        }
    }
}

/// The exposition format a scrape gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `accept` names `application/openmetrics-text` (with a non-zero `q`),
    /// the text format otherwise (what Prometheus's own client libraries do).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let asks = accept.unwrap_or_default().split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !q_zero
        });
        if asks {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One family's samples: `(labels, value)`.
type Samples = Vec<(Vec<(String, String)>, f64)>;

/// An exposition being written: Mesos's metrics first ([`Exposition::mesos`]), then the
/// histograms and counters of remesos. Each family is written once, its samples together.
pub struct Exposition {
    format: Format,
    out: String,
}

impl Exposition {
    pub fn new(format: Format) -> Exposition {
        Exposition {
            format,
            out: String::with_capacity(16 * 1024),
        }
    }

    /// Mesos's metrics (a `/metrics/snapshot`), under the names of [`map_key`].
    pub fn mesos<'a>(&mut self, metrics: impl IntoIterator<Item = (&'a str, f64)>) {
        let mut families: BTreeMap<String, (Kind, String, Samples)> = BTreeMap::new();
        for (key, value) in metrics {
            let m = map_key(key);
            let family = families
                .entry(m.name)
                .or_insert_with(|| (m.kind, m.help, Vec::new()));
            if family.0 != m.kind {
                // The patterns keep kinds apart; a key that still collides is left out
                // rather than written under a wrong type.
                tracing::debug!(
                    key,
                    "metric left out of /metrics: its family has another type"
                );
                continue;
            }
            family.2.push((m.labels, value));
        }
        for (name, (kind, help, samples)) in families {
            self.family(&name, kind, &help, &samples);
        }
    }

    /// One counter without labels.
    pub fn counter(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, Kind::Counter, help, &[(vec![], value)]);
    }

    fn family(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        samples: &[(Vec<(String, String)>, f64)],
    ) {
        let (family, sample, type_) = match (kind, self.format) {
            (Kind::Gauge, _) => (name.to_string(), name.to_string(), "gauge"),
            (Kind::Counter, Format::Text) => {
                (format!("{name}_total"), format!("{name}_total"), "counter")
            }
            (Kind::Counter, Format::OpenMetrics) => {
                (name.to_string(), format!("{name}_total"), "counter")
            }
        };
        let _ = writeln!(self.out, "# HELP {family} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {family} {type_}");
        for (labels, value) in samples {
            self.sample(
                &sample,
                labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                *value,
            );
        }
    }

    /// A histogram without labels.
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.histogram_header(name, help);
        self.histogram_samples(name, None, h);
    }

    /// A histogram family by one label (every known value, then `other` once it has seen
    /// something).
    pub fn histogram_vec(&mut self, name: &str, help: &str, hv: &HistogramVec) {
        self.histogram_header(name, help);
        for (value, h) in &hv.values {
            self.histogram_samples(name, Some((hv.label, value)), h);
        }
        if hv.other.count() > 0 {
            self.histogram_samples(name, Some((hv.label, HistogramVec::OTHER)), &hv.other);
        }
    }

    fn histogram_header(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        if self.format == Format::OpenMetrics {
            let _ = writeln!(self.out, "# UNIT {name} seconds");
        }
        let _ = writeln!(self.out, "# TYPE {name} histogram");
    }

    fn histogram_samples(&mut self, name: &str, label: Option<(&str, &str)>, h: &Histogram) {
        let (cumulative, sum) = h.read();
        let bucket = format!("{name}_bucket");
        for (i, count) in cumulative.iter().enumerate() {
            let le = match h.bounds.get(i) {
                Some(b) => format!("{b:?}"),
                None => "+Inf".to_string(),
            };
            let labels = label.into_iter().chain([("le", le.as_str())]);
            self.sample(&bucket, labels, *count as f64);
        }
        let count = cumulative.last().copied().unwrap_or(0);
        self.sample(&format!("{name}_count"), label.into_iter(), count as f64);
        self.sample(&format!("{name}_sum"), label.into_iter(), sum);
    }

    fn sample<'a>(
        &mut self,
        name: &str,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
        value: f64,
    ) {
        self.out.push_str(name);
        let mut first = true;
        for (k, v) in labels {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
        }
        if !first {
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }

    /// The exposition's text (OpenMetrics ends with `# EOF`).
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

/// A sample value as both formats write it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/monitoring.md: `master/tasks_running` is a gauge, `master/tasks_finished` a
    /// counter; rule 3 and 4 of the module doc.
    #[test]
    fn flat_keys_become_mesos_names_and_counters_end_in_total() {
        let running = map_key("master/tasks_running");
        assert_eq!(running.name, "mesos_master_tasks_running");
        assert_eq!(running.kind, Kind::Gauge);
        let finished = map_key("master/tasks_finished");
        assert_eq!(finished.name, "mesos_master_tasks_finished");
        assert_eq!(finished.kind, Kind::Counter);
        assert_eq!(map_key("master/cpus_total").kind, Kind::Gauge);
        assert_eq!(map_key("master/messages_launch_tasks").kind, Kind::Counter);
        assert_eq!(map_key("slave/tasks_finished").kind, Kind::Counter);
        assert_eq!(
            map_key("slave/tasks_running").name,
            "mesos_slave_tasks_running"
        );
        assert_eq!(
            map_key("containerizer/fetcher/cache_size_total_bytes").kind,
            Kind::Gauge
        );

        let mut e = Exposition::new(Format::Text);
        e.mesos([
            ("master/tasks_finished", 3.0),
            ("master/tasks_running", 2.0),
        ]);
        let text = e.finish();
        assert!(text.contains("# TYPE mesos_master_tasks_finished_total counter\n"));
        assert!(text.contains("\nmesos_master_tasks_finished_total 3\n"));
        assert!(
            text.contains(
                "# TYPE mesos_master_tasks_running gauge\nmesos_master_tasks_running 2\n"
            )
        );
    }

    /// Rule 1: variables in a Mesos key become labels (docs/monitoring.md's per-framework
    /// and per-operation keys); the encoded framework name is decoded.
    #[test]
    fn variables_in_keys_become_labels() {
        let m = map_key("master/frameworks/my%20app/f-1/tasks/active/task_running");
        assert_eq!(m.name, "mesos_master_framework_tasks_active");
        assert_eq!(
            m.labels,
            vec![
                ("framework_name".into(), "my app".into()),
                ("framework_id".into(), "f-1".into()),
                ("state".into(), "task_running".into()),
            ]
        );
        let sent = map_key("master/frameworks/a/f-1/offers/sent");
        assert_eq!(sent.name, "mesos_master_framework_offers_sent");
        assert_eq!(sent.kind, Kind::Counter);
        let op = map_key("master/operations/reserve/finished");
        assert_eq!(op.name, "mesos_master_operations_terminal");
        assert_eq!(op.kind, Kind::Counter);
        assert_eq!(
            op.labels,
            vec![
                ("operation_type".into(), "reserve".into()),
                ("state".into(), "finished".into())
            ]
        );
        let pending = map_key("master/operations/reserve/pending");
        assert_eq!(pending.name, "mesos_master_operations");
        assert_eq!(pending.kind, Kind::Gauge);
        assert_eq!(map_key("master/operations/total").labels, vec![]);
        let lost = map_key("master/task_lost/source_master/reason_slave_removed");
        assert_eq!(lost.name, "mesos_master_task_reasons");
        assert_eq!(lost.kind, Kind::Counter);
        assert_eq!(lost.labels[2], ("reason".into(), "slave_removed".into()));
        let share = map_key("allocator/mesos/roles/web/shares/dominant");
        assert_eq!(share.name, "mesos_allocator_role_shares_dominant");
        assert_eq!(share.labels, vec![("role".into(), "web".into())]);
        let removals = map_key("master/slave_removals/reason_unhealthy");
        assert_eq!(removals.name, "mesos_master_slave_removals");
        assert_eq!(removals.labels, vec![("reason".into(), "unhealthy".into())]);
    }

    /// Rule 2: Mesos's timer statistics (`docs/monitoring.md`, `allocation_run_ms/p99`).
    #[test]
    fn timer_statistics_become_quantiles() {
        let p99 = map_key("allocator/mesos/allocation_run_ms/p99");
        assert_eq!(p99.name, "mesos_allocator_mesos_allocation_run_ms");
        assert_eq!(p99.labels, vec![("quantile".into(), "0.99".into())]);
        assert_eq!(
            map_key("registrar/state_store_ms/count").name,
            "mesos_registrar_state_store_ms_count"
        );
    }

    /// A label value from a framework's name cannot break the exposition.
    #[test]
    fn label_values_are_escaped() {
        let mut e = Exposition::new(Format::Text);
        e.mesos([("master/frameworks/a%22b%0Ac%5C/f-1/subscribed", 1.0)]);
        assert!(
            e.finish()
                .contains("{framework_name=\"a\\\"b\\nc\\\\\",framework_id=\"f-1\"} 1\n")
        );
    }

    /// OpenMetrics 1.0: counter families are named without `_total`, their samples with
    /// it; histograms carry a unit; the exposition ends with `# EOF`.
    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let mut e = Exposition::new(Format::OpenMetrics);
        e.mesos([("master/tasks_finished", 3.0)]);
        let h = Histogram::latency();
        h.observe(Duration::from_millis(3));
        e.histogram("remesos_x_seconds", "x", &h);
        let text = e.finish();
        assert!(text.contains(
            "# TYPE mesos_master_tasks_finished counter\nmesos_master_tasks_finished_total 3\n"
        ));
        assert!(text.contains("# UNIT remesos_x_seconds seconds\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    /// Buckets are cumulative, `+Inf` is the count, the sum is in seconds.
    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::latency();
        h.observe(Duration::from_micros(700)); // <= 0.001
        h.observe(Duration::from_millis(20)); // <= 0.025
        h.observe(Duration::from_secs(100)); // above every bound
        let mut e = Exposition::new(Format::Text);
        e.histogram("h_seconds", "h", &h);
        let text = e.finish();
        assert!(text.contains("h_seconds_bucket{le=\"0.0005\"} 0\n"));
        assert!(text.contains("h_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(text.contains("h_seconds_bucket{le=\"0.025\"} 2\n"));
        assert!(text.contains("h_seconds_bucket{le=\"60.0\"} 2\n"));
        assert!(text.contains("h_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("h_seconds_count 3\n"));
        assert!(text.contains("h_seconds_sum 100.0207\n"));
    }

    /// Route templates are fixed: a path nobody routes is observed as `other`, so clients
    /// cannot grow the label set.
    #[test]
    fn unknown_label_values_are_observed_as_other() {
        let hv = HistogramVec::new("endpoint", ["/a".to_string(), "/b".to_string()]);
        hv.observe("/a", Duration::from_millis(1));
        hv.observe("/no/such/path/123", Duration::from_millis(1));
        hv.observe("/no/such/path/456", Duration::from_millis(1));
        assert_eq!(hv.get("/a").count(), 1);
        assert_eq!(hv.get("/zzz").count(), 2);
        let mut e = Exposition::new(Format::Text);
        e.histogram_vec("r_seconds", "r", &hv);
        let text = e.finish();
        assert!(text.contains("r_seconds_count{endpoint=\"other\"} 2\n"));
        assert!(text.contains("r_seconds_count{endpoint=\"/b\"} 0\n"));
        assert!(!text.contains("123"));
    }

    /// Prometheus's scrape `Accept` asks for OpenMetrics; curl's `*/*` gets the text format.
    #[test]
    fn openmetrics_only_when_asked() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
    }
}
