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

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

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

#[derive(Default)]
struct Collected {
    values: BTreeMap<String, (Unit, Vec<f64>)>,
    properties: Map<String, Value>,
}

/// One invocation's metrics. Cheap to clone; clones add to the same collection. A
/// disabled one ([`Metrics::disabled`]) drops everything.
#[derive(Clone)]
pub struct Metrics {
    namespace: Arc<str>,
    dimensions: Arc<Vec<(String, String)>>,
    collected: Option<Arc<Mutex<Collected>>>,
    /// Where the EMF lines go instead of stdout.
    writer: Option<EmfWriter>,
}

impl Metrics {
    /// Metrics in `namespace`, with no dimensions yet.
    pub fn new(namespace: impl Into<Arc<str>>) -> Metrics {
        Metrics {
            namespace: namespace.into(),
            dimensions: Arc::new(Vec::new()),
            collected: Some(Arc::default()),
            writer: None,
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
    pub fn with_writer(mut self, writer: EmfWriter) -> Metrics {
        self.writer = Some(writer);
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
        Metrics {
            namespace: Arc::from(""),
            dimensions: Arc::new(Vec::new()),
            collected: None,
            writer: None,
        }
    }

    /// These metrics with the dimension `name` = `value` (replacing one of that name).
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Metrics {
        let name = name.into();
        let dimensions = Arc::make_mut(&mut self.dimensions);
        dimensions.retain(|(existing, _)| *existing != name);
        dimensions.push((name, value.into()));
        self
    }

    /// Adds a count (or any unitless value) to the metric `name`.
    pub fn add(&self, name: &str, value: f64) {
        self.add_with_unit(name, Unit::Count, value);
    }

    /// Adds `value` in `unit` to the metric `name`. Values that are not finite are
    /// dropped: CloudWatch rejects them.
    pub fn add_with_unit(&self, name: &str, unit: Unit, value: f64) {
        let Some(collected) = &self.collected else {
            return;
        };
        if !value.is_finite() {
            return;
        }
        let mut collected = lock(collected);
        let entry = collected
            .values
            .entry(name.to_owned())
            .or_insert((unit, Vec::new()));
        entry.1.push(value);
    }

    /// Adds a property: searchable in the logs, not a metric or dimension (request
    /// and connection ids go here).
    pub fn property(&self, name: &str, value: impl Into<Value>) {
        if let Some(collected) = &self.collected {
            lock(collected)
                .properties
                .insert(name.to_owned(), value.into());
        }
    }

    /// Whether anything was added.
    pub fn is_empty(&self) -> bool {
        self.collected
            .as_ref()
            .is_none_or(|collected| lock(collected).values.is_empty())
    }

    /// The EMF documents for what was added, stamped `timestamp_ms` (milliseconds
    /// since the epoch), within CloudWatch's limits; empty when nothing was added.
    pub fn documents(&self, timestamp_ms: i64) -> Vec<Value> {
        let Some(collected) = &self.collected else {
            return Vec::new();
        };
        let collected = lock(collected);
        // Round r holds each metric's r-th chunk of at most 100 values.
        let mut rounds: Vec<Vec<(&str, Unit, &[f64])>> = Vec::new();
        for (name, (unit, values)) in &collected.values {
            for (round, chunk) in values.chunks(MAX_VALUES_PER_METRIC).enumerate() {
                if rounds.len() <= round {
                    rounds.push(Vec::new());
                }
                rounds[round].push((name, *unit, chunk));
            }
        }
        let dimension_sets: Vec<Vec<&str>> = self
            .dimensions
            .chunks(MAX_DIMENSIONS_PER_SET)
            .map(|set| set.iter().map(|(name, _)| name.as_str()).collect())
            .collect();
        let mut documents = Vec::new();
        for round in &rounds {
            for group in round.chunks(MAX_METRICS_PER_DOCUMENT) {
                let mut document = collected.properties.clone();
                for (name, value) in self.dimensions.iter() {
                    document.insert(name.clone(), Value::from(value.as_str()));
                }
                let mut definitions = Vec::with_capacity(group.len());
                for (name, unit, values) in group {
                    definitions.push(json!({ "Name": name, "Unit": unit.as_str() }));
                    let value = match values {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    document.insert((*name).to_owned(), value);
                }
                document.insert(
                    "_aws".to_owned(),
                    json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": &*self.namespace,
                            "Dimensions": dimension_sets,
                            "Metrics": definitions,
                        }],
                    }),
                );
                documents.push(Value::Object(document));
            }
        }
        documents
    }

    /// Writes the documents, one line each, to the writer if one was given, else to
    /// stdout, and starts a fresh collection (the dimensions stay). On Lambda the
    /// runtimes call this once per invocation.
    pub fn flush(&self) {
        self.write_to(Stream::Stdout);
    }

    /// [`flush`](Self::flush), with `stream` where no writer was given.
    fn write_to(&self, stream: Stream) {
        let now = chrono::Utc::now().timestamp_millis();
        let documents = self.documents(now);
        self.reset();
        if documents.is_empty() {
            return;
        }
        let mut text = String::new();
        for document in &documents {
            text.push_str(&document.to_string());
            text.push('\n');
        }
        match &self.writer {
            Some(writer) => writer.write(text.as_bytes()),
            None => stream.write(text.as_bytes()),
        }
    }

    /// Drops what was collected (the dimensions stay).
    fn reset(&self) {
        if let Some(collected) = &self.collected {
            *lock(collected) = Collected::default();
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
        let Some(collected) = &self.collected else {
            return String::new();
        };
        lock(collected)
            .values
            .iter()
            .map(|(name, (unit, values))| {
                let values: Vec<String> = values.iter().map(f64::to_string).collect();
                format!("{name}={} {}", values.join(","), unit.as_str())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .field("dimensions", &self.dimensions)
            .field("enabled", &self.collected.is_some())
            .field("writer", &self.writer.is_some())
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
            metrics.add(&format!("m{i:03}"), i as f64);
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
    fn flush_starts_a_fresh_collection() {
        let metrics = Metrics::new("Test");
        metrics.add("X", 1.0);
        metrics.flush();
        assert!(metrics.is_empty());
    }
}
