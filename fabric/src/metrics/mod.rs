//! Metrics as CloudWatch embedded metric format (EMF): JSON lines on stdout that
//! CloudWatch Logs turns into metrics, with no API call and no extra latency.
//!
//! One [`Metrics`] collects an invocation's values; [`Metrics::documents`] writes
//! them as EMF documents within CloudWatch's limits (at most 100 metrics per
//! document and 100 values per metric, splitting into more documents; at most 30
//! dimensions per dimension set, splitting into more sets).
//!
//! ```
//! use fabric::metrics::{Metrics, Unit};
//!
//! let metrics = Metrics::new("Chat").dimension("service", "send");
//! metrics.add("Invocations", 1.0);
//! metrics.add_with_unit("Duration", Unit::Milliseconds, 3.5);
//! metrics.property("requestId", "r-1");
//! let documents = metrics.documents(1_700_000_000_000);
//! assert_eq!(documents.len(), 1);
//! assert_eq!(documents[0]["Invocations"], 1.0);
//! assert_eq!(documents[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Chat");
//! ```

mod check;
mod output;

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use smallvec::SmallVec;

pub use check::{EmfProblem, check_document};
pub use output::{EmfWriter, MetricsConfig};
#[allow(unused_imports)] // which a build uses depends on its transports
pub(crate) use output::{Invocation, Stream, count_invocation, finish_to, function_name};

/// The most metrics one EMF document may define.
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// The most values one metric may carry in one document.
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// The most dimensions one dimension set may have.
pub const MAX_DIMENSIONS_PER_SET: usize = 30;

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// No unit.
    #[default]
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Bytes.
    Bytes,
    /// No unit at all (`None`).
    None,
}

impl Unit {
    /// CloudWatch's name of the unit.
    ///
    /// ```
    /// assert_eq!(fabric::metrics::Unit::Milliseconds.as_str(), "Milliseconds");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}

/// The namespace: `FABRIC_METRICS_NAMESPACE`, then `POWERTOOLS_METRICS_NAMESPACE`,
/// then `default`.
///
/// ```
/// let namespace = fabric::metrics::namespace_from_env("Fabric");
/// # let _ = namespace;
/// ```
pub fn namespace_from_env(default: &str) -> String {
    crate::env::first(&["FABRIC_METRICS_NAMESPACE", "POWERTOOLS_METRICS_NAMESPACE"])
        .unwrap_or_else(|| default.to_owned())
}

/// A metric, dimension or property name: borrowed when static, as Fabric's own are.
type Name = Cow<'static, str>;

/// One metric's values in the order added.
struct Series {
    name: Name,
    unit: Unit,
    values: SmallVec<[f64; 1]>,
}

#[derive(Default)]
struct Collected {
    writer: Option<EmfWriter>,
    dimensions: Vec<(Name, Name)>,
    // A few entries each: a linear search beats a map's allocations and hashing.
    values: Vec<Series>,
    properties: Vec<(Name, Value)>,
}

struct Shared {
    namespace: Arc<str>,
    collected: Mutex<Collected>,
}

/// One invocation's metrics. Cheap to clone; clones add to the same collection and
/// share its dimensions. A disabled one ([`Metrics::disabled`]) drops everything.
#[derive(Clone)]
pub struct Metrics {
    shared: Option<Arc<Shared>>,
}

impl Metrics {
    /// Metrics in `namespace`, with no dimensions yet.
    pub fn new(namespace: impl Into<Arc<str>>) -> Metrics {
        let collected = Collected {
            // What a WebSocket or HTTP invocation adds, without growing.
            dimensions: Vec::with_capacity(4),
            values: Vec::with_capacity(8),
            properties: Vec::with_capacity(2),
            writer: None,
        };
        Metrics {
            shared: Some(Arc::new(Shared {
                namespace: namespace.into(),
                collected: Mutex::new(collected),
            })),
        }
    }

    /// These metrics, written to `writer` instead of stdout when flushed.
    ///
    /// ```
    /// use fabric::metrics::{EmfWriter, Metrics};
    ///
    /// let metrics = Metrics::new("Shop").with_writer(EmfWriter::new(std::io::sink()));
    /// metrics.add("Orders", 1.0);
    /// metrics.flush();
    /// assert!(metrics.is_empty());
    /// ```
    pub fn with_writer(self, writer: EmfWriter) -> Metrics {
        self.with_collected(|collected| collected.writer = Some(writer));
        self
    }

    /// Metrics that record nothing (what `ctx.metrics()` gives when metrics are off).
    ///
    /// ```
    /// let off = fabric::metrics::Metrics::disabled();
    /// off.add("Anything", 1.0);
    /// assert!(off.documents(0).is_empty());
    /// ```
    pub fn disabled() -> Metrics {
        Metrics { shared: None }
    }

    /// These metrics with the dimension `name` = `value` (replacing one of that
    /// name). Clones share the dimensions, so set them before handing clones out.
    ///
    /// ```
    /// let metrics = fabric::metrics::Metrics::new("Shop").dimension("service", "orders");
    /// metrics.add("Orders", 1.0);
    /// assert_eq!(metrics.documents(0)[0]["service"], "orders");
    /// ```
    pub fn dimension(
        self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Metrics {
        let (name, value) = (name.into(), value.into());
        self.with_collected(|collected| {
            collected
                .dimensions
                .retain(|(existing, _)| *existing != name);
            collected.dimensions.push((name, value));
        });
        self
    }

    /// Adds a count (or any unitless value) to the metric `name`.
    pub fn add(&self, name: impl Into<Cow<'static, str>>, value: f64) {
        self.add_with_unit(name, Unit::Count, value);
    }

    /// Adds `value` in `unit` to the metric `name`. Values that are not finite are
    /// dropped: CloudWatch rejects them.
    pub fn add_with_unit(&self, name: impl Into<Cow<'static, str>>, unit: Unit, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.with_collected(|collected| {
            let name = name.into();
            match collected
                .values
                .iter_mut()
                .find(|series| series.name == name)
            {
                Some(series) => series.values.push(value),
                None => collected.values.push(Series {
                    name,
                    unit,
                    values: smallvec::smallvec![value],
                }),
            }
        });
    }

    /// Adds a property: searchable in the logs, not a metric or dimension (request
    /// and connection ids go here).
    pub fn property(&self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        self.with_collected(|collected| {
            let (name, value) = (name.into(), value.into());
            match collected.properties.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => *existing = value,
                None => collected.properties.push((name, value)),
            }
        });
    }

    /// Whether anything was added.
    pub fn is_empty(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|shared| lock(&shared.collected).values.is_empty())
    }

    /// The EMF documents for what was added, stamped `timestamp_ms` (milliseconds
    /// since the epoch), within CloudWatch's limits; empty when nothing was added.
    pub fn documents(&self, timestamp_ms: i64) -> Vec<Value> {
        let mut text = Vec::new();
        if let Some(shared) = &self.shared {
            write_documents(shared, &lock(&shared.collected), timestamp_ms, &mut text);
        }
        text.split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("EMF lines are JSON"))
            .collect()
    }

    /// Writes the documents, one line each, to the writer if one was given, else to
    /// stdout, and starts a fresh collection (the dimensions stay). On Lambda the
    /// runtimes call this once per invocation.
    pub fn flush(&self) {
        self.write_to(Stream::Stdout);
    }

    /// [`flush`](Self::flush), with `stream` where no writer was given.
    fn write_to(&self, stream: Stream) {
        let Some(shared) = &self.shared else {
            return;
        };
        let now = chrono::Utc::now().timestamp_millis();
        // A MESSAGE event's document is about 500 bytes.
        let mut text = Vec::with_capacity(1024);
        let writer = {
            let mut collected = lock(&shared.collected);
            write_documents(shared, &collected, now, &mut text);
            collected.reset();
            collected.writer.clone()
        };
        if text.is_empty() {
            return;
        }
        match writer {
            Some(writer) => writer.write(&text),
            None => stream.write(&text),
        }
    }

    /// Whether these metrics have a writer of their own.
    fn has_writer(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| lock(&shared.collected).writer.is_some())
    }

    /// Drops what was collected (the dimensions stay).
    fn reset(&self) {
        self.with_collected(Collected::reset);
    }

    /// Runs `change` on the collection, when enabled.
    fn with_collected(&self, change: impl FnOnce(&mut Collected)) {
        if let Some(shared) = &self.shared {
            change(&mut lock(&shared.collected));
        }
    }

    /// The values added so far, one line per metric, for `--verbose`.
    ///
    /// ```
    /// let metrics = fabric::metrics::Metrics::new("N");
    /// metrics.add("Posts", 2.0);
    /// assert_eq!(metrics.readable(), "Posts=2 Count");
    /// ```
    pub fn readable(&self) -> String {
        let Some(shared) = &self.shared else {
            return String::new();
        };
        lock(&shared.collected)
            .values
            .iter()
            .map(|series| {
                let values: Vec<String> = series.values.iter().map(f64::to_string).collect();
                format!(
                    "{}={} {}",
                    series.name,
                    values.join(","),
                    series.unit.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Collected {
    fn reset(&mut self) {
        self.values.clear();
        self.properties.clear();
    }
}

/// Writes `collected` as EMF lines onto `out`: round r holds each metric's r-th
/// chunk of at most 100 values, each round splits into documents of at most 100
/// metrics, and the dimensions into sets of at most 30. Written straight as JSON
/// text, since building a `serde_json::Value` first costs more than the rest of an
/// event. A later kind of field shadows an earlier one of the same name, as when
/// they went into one map: properties, then dimensions, then metrics.
fn write_documents(shared: &Shared, collected: &Collected, timestamp_ms: i64, out: &mut Vec<u8>) {
    let rounds = collected
        .values
        .iter()
        .map(|series| series.values.len().div_ceil(MAX_VALUES_PER_METRIC))
        .max()
        .unwrap_or(0);
    for round in 0..rounds {
        let in_round: Vec<(&str, Unit, &[f64])> = collected
            .values
            .iter()
            .filter_map(|series| {
                let chunk = series.values.chunks(MAX_VALUES_PER_METRIC).nth(round)?;
                Some((series.name.as_ref(), series.unit, chunk))
            })
            .collect();
        for group in in_round.chunks(MAX_METRICS_PER_DOCUMENT) {
            write_document(shared, collected, group, timestamp_ms, out);
        }
    }
}

fn write_document(
    shared: &Shared,
    collected: &Collected,
    group: &[(&str, Unit, &[f64])],
    timestamp_ms: i64,
    out: &mut Vec<u8>,
) {
    let is_metric = |name: &str| group.iter().any(|(metric, _, _)| *metric == name);
    let is_dimension = |name: &str| collected.dimensions.iter().any(|(d, _)| d == name);
    let mut fields = Fields::new(out);
    for (name, value) in &collected.properties {
        if !is_metric(name) && !is_dimension(name) {
            fields.field(name, value);
        }
    }
    for (name, value) in &collected.dimensions {
        if !is_metric(name) {
            fields.field(name, value.as_ref());
        }
    }
    for (name, _, values) in group {
        match values {
            [one] => fields.field(name, one),
            many => fields.field(name, many),
        }
    }
    let out = fields.key("_aws");
    out.extend_from_slice(b"{\"Timestamp\":");
    json(out, &timestamp_ms);
    out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
    json(out, &*shared.namespace);
    out.extend_from_slice(b",\"Dimensions\":[");
    for (index, set) in collected
        .dimensions
        .chunks(MAX_DIMENSIONS_PER_SET)
        .enumerate()
    {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (position, (name, _)) in set.iter().enumerate() {
            if position > 0 {
                out.push(b',');
            }
            json(out, name.as_ref());
        }
        out.push(b']');
    }
    out.extend_from_slice(b"],\"Metrics\":[");
    for (index, (name, unit, _)) in group.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Name\":");
        json(out, name);
        out.extend_from_slice(b",\"Unit\":\"");
        out.extend_from_slice(unit.as_str().as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}]}}\n");
}

/// The top-level fields of one document being written, `_aws` excepted: that name
/// is EMF's own, so a field of that name is left out.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut Vec<u8>) -> Fields<'a> {
        out.push(b'{');
        Fields { out, first: true }
    }

    fn field(&mut self, name: &str, value: &(impl serde::Serialize + ?Sized)) {
        if name != "_aws" {
            json(self.key(name), value);
        }
    }

    /// Starts the field `name`, for its value to follow.
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        json(self.out, name);
        self.out.push(b':');
        self.out
    }
}

/// Appends `value` as JSON (strings escaped, numbers as serde_json writes them).
fn json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Strings, numbers and JSON values always serialize.
    let _ = serde_json::to_writer(out, value);
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field(
                "namespace",
                &self.shared.as_ref().map(|shared| &*shared.namespace),
            )
            .field("enabled", &self.shared.is_some())
            .finish()
    }
}

tokio::task_local! {
    static CURRENT: Metrics;
}

/// Runs `future` with `metrics` as the invocation's metrics ([`current`]).
pub async fn scope<F: std::future::Future>(metrics: Metrics, future: F) -> F::Output {
    CURRENT.scope(metrics, future).await
}

/// The metrics of the invocation this task serves, or disabled ones outside one.
///
/// ```
/// assert!(fabric::metrics::current().documents(0).is_empty());
/// ```
pub fn current() -> Metrics {
    CURRENT
        .try_with(Metrics::clone)
        .unwrap_or_else(|_| Metrics::disabled())
}

/// Whether this process has started an invocation before (the `ColdStart` metric is
/// 1 only for the first).
pub fn cold_start() -> bool {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    !STARTED.swap(true, std::sync::atomic::Ordering::Relaxed)
}

/// Ends an invocation's metrics: on Lambda the EMF lines go to stdout; elsewhere
/// they are logged readably at debug level (`--verbose`). Given a writer, the EMF
/// lines go there, on Lambda or not.
pub fn finish(metrics: &Metrics) {
    finish_to(metrics, Stream::Stdout);
}

fn lock(collected: &Mutex<Collected>) -> std::sync::MutexGuard<'_, Collected> {
    // A poisoned lock only means a panic elsewhere mid-push; the map is whole.
    collected
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assert_valid_emf(document: &Value) {
        if let Err(problem) = check_document(document) {
            panic!("{problem}: {document}");
        }
    }

    #[test]
    fn one_hundred_fifty_metrics_split_into_two_documents() {
        let metrics = Metrics::new("Test")
            .dimension("service", "chat")
            .dimension("transport", "websocket");
        for i in 0..150 {
            metrics.add(format!("m{i:03}"), i as f64);
        }
        metrics.property("requestId", "r-9");
        let documents = metrics.documents(1);
        assert_eq!(documents.len(), 2);
        let mut seen = 0;
        for document in &documents {
            assert_valid_emf(document);
            assert_eq!(document["requestId"], "r-9");
            assert_eq!(document["service"], "chat");
            seen += document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len();
        }
        assert_eq!(seen, 150, "every metric in exactly one document");
    }

    #[test]
    fn more_than_a_hundred_values_of_one_metric_split_and_sum_up() {
        let metrics = Metrics::new("Test");
        for _ in 0..250 {
            metrics.add("BroadcastSize", 2.0);
        }
        metrics.add("Invocations", 1.0);
        let documents = metrics.documents(1);
        assert_eq!(documents.len(), 3);
        let total: f64 = documents
            .iter()
            .inspect(|d| assert_valid_emf(d))
            .map(|d| match &d["BroadcastSize"] {
                Value::Array(v) => v.iter().filter_map(Value::as_f64).sum(),
                v => v.as_f64().unwrap(),
            })
            .sum();
        assert_eq!(total, 500.0);
        assert_eq!(
            documents
                .iter()
                .filter(|d| d.get("Invocations").is_some())
                .count(),
            1
        );
    }

    #[test]
    fn more_than_thirty_dimensions_split_into_sets() {
        let mut metrics = Metrics::new("Test");
        for i in 0..45 {
            metrics = metrics.dimension(format!("d{i}"), "v");
        }
        metrics.add("X", 1.0);
        let documents = metrics.documents(1);
        assert_valid_emf(&documents[0]);
        let sets = documents[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            sets.iter()
                .map(|s| s.as_array().unwrap().len())
                .collect::<Vec<_>>(),
            [30, 15]
        );
    }

    #[test]
    fn non_finite_values_and_disabled_metrics_write_nothing() {
        let metrics = Metrics::new("Test");
        metrics.add("Bad", f64::NAN);
        assert!(metrics.documents(1).is_empty());
        assert!(metrics.is_empty());
        let off = Metrics::disabled();
        off.add("X", 1.0);
        off.flush();
        assert!(off.documents(1).is_empty());
    }

    #[test]
    fn names_are_escaped_and_a_later_kind_of_field_shadows_an_earlier_one() {
        let metrics = Metrics::new("Te\"st").dimension("service", "a \"quoted\"\nname");
        metrics.property("service", "shadowed by the dimension");
        metrics.property("Orders", "shadowed by the metric");
        metrics.property("_aws", "never replaces EMF's own field");
        metrics.property("requestId", "r-1");
        metrics.property("requestId", "r-2");
        metrics.add("Orders", 2.0);
        metrics.add("Orders", 3.0);
        let documents = metrics.documents(7);
        assert_eq!(documents.len(), 1);
        let document = &documents[0];
        assert_valid_emf(document);
        assert_eq!(document["service"], "a \"quoted\"\nname");
        assert_eq!(document["Orders"], json!([2.0, 3.0]));
        assert_eq!(document["requestId"], "r-2");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Te\"st"
        );
        assert_eq!(document["_aws"]["Timestamp"], 7);
    }

    #[test]
    fn flush_starts_a_fresh_collection() {
        let metrics = Metrics::new("Test");
        metrics.add("X", 1.0);
        metrics.flush();
        assert!(metrics.is_empty());
    }
}
