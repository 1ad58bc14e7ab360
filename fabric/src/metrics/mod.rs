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
mod text;

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use smallvec::SmallVec;

pub use check::{EmfProblem, check_document};
pub use output::{EmfWriter, MetricsConfig};
#[allow(unused_imports)] // which a build uses depends on its transports
pub(crate) use output::{
    Invocation, Stream, TransportFields, finish_invocation, finish_to, function_name,
};

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

/// A metric, dimension or property name, or a dimension's value.
type Name = text::Text;

/// A property's value: text (an id) kept as a dimension value is, or any JSON.
enum Property {
    Text(Name),
    Json(Value),
}

/// Fabric's own counts, each in a fixed slot of an invocation's collection and
/// summed there: counting one searches no names and pushes no series, and a
/// broadcast's thousand posts write one value rather than ten documents of them.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(
    not(feature = "websocket"),
    allow(
        dead_code,
        reason = "the connection and post counts are WebSocket events"
    )
)]
pub(crate) enum Count {
    Invocations,
    Errors4xx,
    Errors5xx,
    ValidationFailures,
    ColdStart,
    ConnectionsOpened,
    ConnectionsClosed,
    MessagesPosted,
    PostsGone,
    PostsThrottled,
    PostsFailed,
}

/// How many [`Count`]s there are: one slot and one bit of `Collected::counted` each.
const COUNTS: usize = Count::PostsFailed as usize + 1;
const _: () = assert!(COUNTS <= u16::BITS as usize, "a bit per count");

/// Each count's name, in slot order: kept as text so a document's list of metrics
/// borrows them like any other.
static COUNT_NAMES: [Name; COUNTS] = [
    Name::Static("Invocations"),
    Name::Static("Errors4xx"),
    Name::Static("Errors5xx"),
    Name::Static("ValidationFailures"),
    Name::Static("ColdStart"),
    Name::Static("ConnectionsOpened"),
    Name::Static("ConnectionsClosed"),
    Name::Static("MessagesPosted"),
    Name::Static("PostsGone"),
    Name::Static("PostsThrottled"),
    Name::Static("PostsFailed"),
];

/// The slot of the count a service's metric named `name` adds to: one metric per
/// name.
fn count_slot(name: &str) -> Option<usize> {
    COUNT_NAMES.iter().position(|count| &**count == name)
}

/// One metric's values in the order added.
struct Series {
    name: Name,
    unit: Unit,
    values: SmallVec<[f64; 1]>,
}

/// What an invocation collects. Inline room for what a WebSocket or HTTP invocation
/// adds, so a typical one allocates only its shared cell.
#[derive(Default)]
struct Collected {
    // A few entries each: a linear search beats a map's allocations and hashing.
    dimensions: SmallVec<[(Name, Name); 4]>,
    /// Each [`Count`]'s sum, read only when its bit of `counted` is set.
    counts: [f64; COUNTS],
    counted: u16,
    values: SmallVec<[Series; 4]>,
    properties: SmallVec<[(Name, Property); 2]>,
}

struct Shared {
    namespace: Arc<str>,
    /// Where the documents go instead of stdout. Beside the collection, not in it:
    /// an invocation writes through it without cloning it, and a recycled cell
    /// keeps its adapter's, so a transport's invocation changes no reference count.
    writer: OnceLock<EmfWriter>,
    collected: Mutex<Collected>,
}

thread_local! {
    /// Cells of finished invocations, for the next ones on this thread.
    static SPARE: std::cell::RefCell<Vec<Arc<Shared>>> =
        const { std::cell::RefCell::new(Vec::new()) };
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
        Metrics::in_namespace(&namespace.into(), None, |_| {})
    }

    /// [`new`](Self::new) for a namespace and writer that are kept (an adapter's),
    /// filled by `fill`: a recycled cell that has them already keeps its own, and
    /// the one check that no clone is left serves both emptying the cell and
    /// filling it.
    fn in_namespace(
        namespace: &Arc<str>,
        writer: Option<&EmfWriter>,
        fill: impl FnOnce(&mut Collected),
    ) -> Metrics {
        let mut spare = SPARE.with(|spare| spare.try_borrow_mut().ok()?.pop());
        let shared = match spare.as_mut().and_then(Arc::get_mut) {
            Some(unique) => {
                if !Arc::ptr_eq(&unique.namespace, namespace) {
                    unique.namespace = namespace.clone();
                }
                let same_writer = match (unique.writer.get(), writer) {
                    (None, None) => true,
                    (Some(kept), Some(writer)) => kept.is(writer),
                    _ => false,
                };
                if !same_writer {
                    unique.writer = writer_cell(writer);
                }
                // Emptied here rather than when recycled, for the same reason.
                let collected = unique
                    .collected
                    .get_mut()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                collected.clear();
                fill(collected);
                spare.expect("a spare cell was found")
            }
            None => {
                let mut collected = Collected::default();
                fill(&mut collected);
                Arc::new(Shared {
                    namespace: namespace.clone(),
                    writer: writer_cell(writer),
                    collected: Mutex::new(collected),
                })
            }
        };
        Metrics {
            shared: Some(shared),
        }
    }

    /// Ends these metrics for good, keeping their cell for this thread's next
    /// [`Metrics::new`] when no clone is left: a transport's invocation then
    /// allocates nothing for its metrics.
    pub(crate) fn recycle(self) {
        /// Cells kept per thread: one per invocation in flight on it, usually one.
        const SPARES: usize = 4;
        let Some(shared) = self.shared else {
            return;
        };
        // A plain read: with no clone left none can appear, since this is the last
        // handle (no weak ones are ever made). The next `new` empties the cell.
        if Arc::strong_count(&shared) != 1 {
            return;
        }
        SPARE.with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SPARES {
                    spare.push(shared);
                }
            }
        });
    }

    /// These metrics, written to `writer` instead of stdout when flushed. Set it
    /// before handing clones out: on metrics already cloned, a writer they have
    /// stays, and one they lack is set for every clone.
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
        if let Some(shared) = &mut self.shared {
            match Arc::get_mut(shared) {
                Some(unique) => unique.writer = OnceLock::from(writer),
                // Shared already: the writer is set only if none was.
                None => drop(shared.writer.set(writer)),
            }
        }
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
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Metrics {
        self.build(|collected| collected.set_dimension(name.into().into(), value.into().into()));
        self
    }

    /// Sets a transport's fields on a cell being filled.
    fn fill(collected: &mut Collected, fields: output::TransportFields<'_>) {
        // The cell is empty and a transport's names are distinct, so nothing is
        // replaced: pushed without searching.
        debug_assert!(collected.dimensions.is_empty() && collected.properties.is_empty());
        let dimensions = (fields.dimensions.iter())
            .map(|(name, value)| (Name::Static(name), Name::Static(value)));
        let copied = (fields.copied_dimensions.iter())
            .map(|(name, value)| (Name::Static(name), Name::copy(value)));
        collected.dimensions.extend(dimensions.chain(copied));
        collected.properties.extend(
            (fields.copied_properties.iter())
                .map(|(name, value)| (Name::Static(name), Property::Text(Name::copy(value)))),
        );
    }

    /// These metrics with the property `name` = `value`: [`property`](Self::property)
    /// while building, before clones are handed out.
    ///
    /// ```
    /// let metrics = fabric::metrics::Metrics::new("Shop").with_property("orderId", "o-1");
    /// metrics.add("Orders", 1.0);
    /// assert_eq!(metrics.documents(0)[0]["orderId"], "o-1");
    /// ```
    pub fn with_property(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Metrics {
        let (name, value) = (name.into().into(), Property::Json(value.into()));
        self.build(|collected| collected.set_property(name, value));
        self
    }

    /// Adds a count (or any unitless value) to the metric `name`.
    pub fn add(&self, name: impl Into<Cow<'static, str>>, value: f64) {
        self.add_with_unit(name, Unit::Count, value);
    }

    /// Adds `value` in `unit` to the metric `name`. Values that are not finite are
    /// dropped: CloudWatch rejects them.
    pub fn add_with_unit(&self, name: impl Into<Cow<'static, str>>, unit: Unit, value: f64) {
        self.with_collected(|collected| collected.add(name.into().into(), unit, value));
    }

    /// Adds a property: searchable in the logs, not a metric or dimension (request
    /// and connection ids go here).
    pub fn property(&self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        self.with_collected(|collected| {
            collected.set_property(name.into().into(), Property::Json(value.into()));
        });
    }

    /// Whether anything was added.
    pub fn is_empty(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|shared| lock(&shared.collected).is_empty())
    }

    /// Adds one to Fabric's own `count`.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))] // posts count themselves
    pub(crate) fn count(&self, count: Count) {
        self.with_collected(|collected| collected.count(count as usize, 1.0));
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
        self.end(Stream::Stdout, true, None, |_| {});
    }

    /// Ends the invocation under one lock: logs the values readably off Lambda
    /// (`--verbose`), writes the documents when `write` is set or there is a writer
    /// (to it, else to `stream`), and starts a fresh collection. `record` adds
    /// what a transport counts for every invocation first; `ended`, the clock
    /// reading a transport's finished invocation ended with, gives the timestamp
    /// (none: a flush, read the clock now).
    fn end(
        &self,
        stream: Stream,
        write: bool,
        ended: Option<std::time::Instant>,
        record: impl FnOnce(&mut Collected),
    ) {
        let Some(shared) = &self.shared else {
            return;
        };
        let mut collected = lock(&shared.collected);
        record(&mut collected);
        if collected.is_empty() {
            collected.reset();
            return;
        }
        if !write {
            tracing::debug!(metrics = %Readable(&collected, " "), "metrics");
        }
        let writer = shared.writer.get();
        if writer.is_none() && !write {
            collected.reset();
            return;
        }
        let now = epoch_millis(ended.unwrap_or_else(std::time::Instant::now));
        with_buffer(|text| {
            write_documents(shared, &collected, now, text);
            collected.reset();
            drop(collected);
            match writer {
                Some(writer) => writer.write(text),
                None => stream.write(text),
            }
        });
    }

    /// Runs `change` on the collection, when enabled.
    fn with_collected(&self, change: impl FnOnce(&mut Collected)) {
        if let Some(shared) = &self.shared {
            change(&mut lock(&shared.collected));
        }
    }

    /// Runs `change` on the collection while building: without locking when no
    /// clone exists yet, as when a transport sets an invocation's dimensions.
    fn build(&mut self, change: impl FnOnce(&mut Collected)) {
        if let Some(shared) = &mut self.shared {
            match Arc::get_mut(shared) {
                Some(unique) => change(
                    unique
                        .collected
                        .get_mut()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()),
                ),
                None => change(&mut lock(&shared.collected)),
            }
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
        Readable(&lock(&shared.collected), "\n").to_string()
    }
}

/// A collection's values, one `name=values unit` per metric, `separator` between.
struct Readable<'a>(&'a Collected, &'static str);

impl fmt::Display for Readable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (name, unit, values)) in self.0.metrics().enumerate() {
            if index > 0 {
                f.write_str(self.1)?;
            }
            write!(f, "{name}=")?;
            for (position, value) in values.iter().enumerate() {
                if position > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{value}")?;
            }
            write!(f, " {}", unit.as_str())?;
        }
        Ok(())
    }
}

impl Collected {
    /// Adds `value` to the metric `name`: to its sum when it is one of Fabric's
    /// own counts, else to its values. Values that are not finite are dropped:
    /// CloudWatch rejects them.
    fn add(&mut self, name: Name, unit: Unit, value: f64) {
        match count_slot(&name) {
            Some(slot) => self.count(slot, value),
            None => self.add_series(name, unit, value),
        }
    }

    /// Adds `value` to the sum in `slot` (a [`Count`]'s).
    fn count(&mut self, slot: usize, value: f64) {
        if !value.is_finite() {
            return;
        }
        let bit = 1 << slot;
        let slot = &mut self.counts[slot];
        if self.counted & bit == 0 {
            self.counted |= bit;
            *slot = value;
        } else {
            *slot += value;
        }
    }

    /// Adds `value` to the values of the metric `name`, which is no [`Count`].
    fn add_series(&mut self, name: Name, unit: Unit, value: f64) {
        if !value.is_finite() {
            return;
        }
        match self.values.iter_mut().find(|series| series.name == name) {
            Some(series) => series.values.push(value),
            None => self.values.push(Series {
                name,
                unit,
                values: smallvec::smallvec![value],
            }),
        }
    }

    fn set_dimension(&mut self, name: Name, value: Name) {
        self.dimensions.retain(|(existing, _)| *existing != name);
        self.dimensions.push((name, value));
    }

    fn set_property(&mut self, name: Name, value: Property) {
        match self.properties.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => *existing = value,
            None => self.properties.push((name, value)),
        }
    }

    fn is_empty(&self) -> bool {
        self.counted == 0 && self.values.is_empty()
    }

    /// Every metric: the counts counted, then the series.
    fn metrics(&self) -> impl Iterator<Item = (&Name, Unit, &[f64])> {
        let counts = (COUNT_NAMES.iter().zip(&self.counts).enumerate())
            .filter(|(slot, _)| self.counted & (1 << slot) != 0)
            .map(|(_, (name, sum))| (name, Unit::Count, std::slice::from_ref(sum)));
        let series = (self.values.iter())
            .map(|series| (&series.name, series.unit, series.values.as_slice()));
        counts.chain(series)
    }

    fn reset(&mut self) {
        self.counted = 0;
        self.values.clear();
        self.properties.clear();
    }

    /// Empties everything, in place: a fresh `Collected` assigned over this one
    /// would be built and then copied whole, and it is most of a kilobyte.
    fn clear(&mut self) {
        self.reset();
        self.dimensions.clear();
    }
}

/// A cell's writer slot holding `writer`, if any.
fn writer_cell(writer: Option<&EmfWriter>) -> OnceLock<EmfWriter> {
    writer.cloned().map(OnceLock::from).unwrap_or_default()
}

/// The wall clock at `at`, in epoch milliseconds (see [`crate::clock`]).
fn epoch_millis(at: std::time::Instant) -> i64 {
    crate::clock::epoch_micros(at) / 1000
}

/// Runs `write` with this thread's reusable, emptied buffer for EMF text, so an
/// invocation's documents do not allocate one.
fn with_buffer(write: impl FnOnce(&mut Vec<u8>)) {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // A writer that flushes metrics of its own while writing finds the buffer
    // taken and uses a fresh one.
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut text) => {
            text.clear();
            write(&mut text);
            // An invocation of thousands of values leaves no lasting large buffer.
            if text.capacity() > 64 * 1024 {
                *text = Vec::new();
            }
        }
        Err(_) => write(&mut Vec::new()),
    });
}

/// Writes `collected` as EMF lines onto `out`: round r holds each metric's r-th
/// chunk of at most 100 values, each round splits into documents of at most 100
/// metrics, and the dimensions into sets of at most 30. Written straight as JSON
/// text, since building a `serde_json::Value` first costs more than the rest of an
/// event. A later kind of field shadows an earlier one of the same name, as when
/// they went into one map: properties, then dimensions, then metrics.
fn write_documents(shared: &Shared, collected: &Collected, timestamp_ms: i64, out: &mut Vec<u8>) {
    let rounds = collected
        .metrics()
        .map(|(_, _, values)| values.len().div_ceil(MAX_VALUES_PER_METRIC))
        .max()
        .unwrap_or(0);
    for round in 0..rounds {
        // Inline for a typical invocation's handful of metrics.
        // Filled where it lies: a collected one would be copied out whole.
        let mut in_round: SmallVec<[(&Name, Unit, &[f64]); 16]> = SmallVec::new();
        in_round.extend(collected.metrics().filter_map(|(name, unit, values)| {
            let chunk = values.chunks(MAX_VALUES_PER_METRIC).nth(round)?;
            Some((name, unit, chunk))
        }));
        for group in in_round.chunks(MAX_METRICS_PER_DOCUMENT) {
            write_document(shared, collected, group, timestamp_ms, out);
        }
    }
}

/// One document: `_aws` with the timestamp first, then the layout's fixed text
/// with each value written into its gap: every piece of text that invocations of
/// the same shape share (the rest of `_aws`, the dimension fields, each field's
/// name) is copied in one piece between two values. The layout comes from the
/// shape's [`Layout`], written once per thread.
fn write_document(
    shared: &Shared,
    collected: &Collected,
    group: &[(&Name, Unit, &[f64])],
    timestamp_ms: i64,
    out: &mut Vec<u8>,
) {
    with_layout(shared, collected, group, |layout| {
        out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
        integer(out, timestamp_ms);
        out.extend_from_slice(&layout.text[layout.first.clone()]);
        let properties = collected.properties.iter().zip(&layout.after_properties);
        for ((_, value), after) in properties {
            let Some(after) = after else { continue };
            match value {
                Property::Text(text) => json_text(out, text),
                Property::Json(Value::String(text)) => json_str(out, text),
                Property::Json(other) => json(out, other),
            }
            out.extend_from_slice(&layout.text[after.clone()]);
        }
        for ((_, _, values), after) in group.iter().zip(&layout.after_metrics) {
            let Some(after) = after else { continue };
            match values {
                [one] => number(out, *one),
                many => json(out, many),
            }
            out.extend_from_slice(&layout.text[after.clone()]);
        }
    });
}

/// What a document's layout depends on: the namespace, the dimensions, the
/// properties' names and the metrics' names and units.
struct Shape {
    namespace: Arc<str>,
    dimensions: Vec<(Name, Name)>,
    properties: Vec<Name>,
    metrics: Vec<(Name, Unit)>,
}

impl Shape {
    fn of(shared: &Shared, collected: &Collected, group: &[(&Name, Unit, &[f64])]) -> Shape {
        Shape {
            namespace: shared.namespace.clone(),
            dimensions: collected.dimensions.to_vec(),
            properties: (collected.properties.iter())
                .map(|(name, _)| name.clone())
                .collect(),
            metrics: (group.iter())
                .map(|(name, unit, _)| ((*name).clone(), *unit))
                .collect(),
        }
    }

    fn fits(
        &self,
        shared: &Shared,
        collected: &Collected,
        group: &[(&Name, Unit, &[f64])],
    ) -> bool {
        (Arc::ptr_eq(&self.namespace, &shared.namespace) || self.namespace == shared.namespace)
            && self.dimensions.len() == collected.dimensions.len()
            && self.properties.len() == collected.properties.len()
            && self.metrics.len() == group.len()
            && (self.dimensions.iter().zip(&collected.dimensions))
                .all(|((name, value), (n, v))| name == n && value == v)
            && (self.properties.iter().zip(&collected.properties)).all(|(name, (n, _))| name == n)
            && (self.metrics.iter().zip(group))
                .all(|((name, unit), (n, u, _))| name == *n && unit == u)
    }
}

/// The fixed text of one shape of document, in the pieces that lie between its
/// values: `first` follows the timestamp (the rest of `_aws`, the dimension
/// fields, the first value's name), and each value is followed by its piece (the
/// next value's name, or the document's end). A field that another shadows, or
/// that is named `_aws` (EMF's own), has no piece and is not written.
struct Layout {
    text: Vec<u8>,
    first: std::ops::Range<usize>,
    after_properties: Vec<Option<std::ops::Range<usize>>>,
    after_metrics: Vec<Option<std::ops::Range<usize>>>,
}

/// Which value a piece of a [`Layout`] follows.
#[derive(Clone, Copy)]
enum Gap {
    First,
    Property(usize),
    Metric(usize),
}

impl Layout {
    /// A later kind of field shadows an earlier one of the same name, as when they
    /// went into one map: properties, then dimensions, then metrics.
    fn new(shared: &Shared, collected: &Collected, group: &[(&Name, Unit, &[f64])]) -> Layout {
        let mut layout = Layout {
            text: Vec::new(),
            first: 0..0,
            after_properties: vec![None; collected.properties.len()],
            after_metrics: vec![None; group.len()],
        };
        write_shared_part(shared, collected, group, &mut layout.text);
        let is_metric = |name: &Name| group.iter().any(|(metric, _, _)| *metric == name);
        let is_dimension = |name: &Name| collected.dimensions.iter().any(|(d, _)| d == name);
        let properties = (collected.properties.iter().enumerate())
            .filter(|(_, (name, _))| !is_metric(name) && !is_dimension(name))
            .map(|(index, (name, _))| (Gap::Property(index), name));
        let metrics =
            (group.iter().enumerate()).map(|(index, (name, _, _))| (Gap::Metric(index), *name));
        let shown = properties
            .chain(metrics)
            .filter(|(_, name)| &***name != "_aws");
        // Each field's name ends the piece before its value.
        let (mut open, mut start) = (Gap::First, 0);
        for (gap, name) in shown {
            layout.text.push(b',');
            json_str(&mut layout.text, name);
            layout.text.push(b':');
            layout.close(open, start..layout.text.len());
            (open, start) = (gap, layout.text.len());
        }
        layout.text.extend_from_slice(b"}\n");
        layout.close(open, start..layout.text.len());
        layout
    }

    fn close(&mut self, gap: Gap, piece: std::ops::Range<usize>) {
        match gap {
            Gap::First => self.first = piece,
            Gap::Property(index) => self.after_properties[index] = Some(piece),
            Gap::Metric(index) => self.after_metrics[index] = Some(piece),
        }
    }
}

/// Runs `write` with the layout of this document's shape, from this thread's few
/// most recent shapes when it is one of them: comparing names costs less than
/// escaping and writing them again.
fn with_layout(
    shared: &Shared,
    collected: &Collected,
    group: &[(&Name, Unit, &[f64])],
    write: impl FnOnce(&Layout),
) {
    /// Shapes kept per thread: an API's routes times their usual outcomes.
    const SHAPES: usize = 16;
    /// A larger layout (dozens of dimensions or metrics) is written afresh.
    const LARGEST_KEPT: usize = 4096;
    thread_local! {
        static KNOWN: std::cell::RefCell<Vec<(Shape, Layout)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    KNOWN.with(|known| {
        let Ok(mut known) = known.try_borrow_mut() else {
            return write(&Layout::new(shared, collected, group));
        };
        if let Some((_, layout)) =
            (known.iter()).find(|(shape, _)| shape.fits(shared, collected, group))
        {
            return write(layout);
        }
        let layout = Layout::new(shared, collected, group);
        if layout.text.len() > LARGEST_KEPT {
            return write(&layout);
        }
        if known.len() == SHAPES {
            known.remove(0);
        }
        known.push((Shape::of(shared, collected, group), layout));
        write(&known.last().expect("just pushed").1);
    })
}

/// The rest of `_aws` after its timestamp (namespace, dimension sets of at most
/// 30, the metrics' definitions), then the dimensions' fields that no metric
/// shadows.
fn write_shared_part(
    shared: &Shared,
    collected: &Collected,
    group: &[(&Name, Unit, &[f64])],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
    json_str(out, &shared.namespace);
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
            json_str(out, name);
        }
        out.push(b']');
    }
    out.extend_from_slice(b"],\"Metrics\":[");
    for (index, (name, unit, _)) in group.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Name\":");
        json_str(out, name);
        out.extend_from_slice(b",\"Unit\":\"");
        out.extend_from_slice(unit.as_str().as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}]}");
    // `_aws` was written, so every dimension field follows a comma. A field
    // named `_aws` is left out: that name is EMF's own.
    for (name, value) in &collected.dimensions {
        if &**name != "_aws" && !group.iter().any(|(metric, _, _)| *metric == name) {
            out.push(b',');
            json_str(out, name);
            out.push(b':');
            json_str(out, value);
        }
    }
}

/// Appends a number as serde_json writes it. A whole one, as most counts are, is
/// written (`1.0`) without the general float formatting.
fn number(out: &mut Vec<u8>, value: f64) {
    const WHOLE_UP_TO: f64 = 1e15;
    // A cast rather than `fract`, which is a call into libm here. A negative zero
    // takes the general path, which keeps its sign.
    let whole = value as i64;
    if whole as f64 == value
        && value.abs() < WHOLE_UP_TO
        && (whole != 0 || value.is_sign_positive())
    {
        // Exact: a whole number this small is an i64 with no rounding.
        integer(out, whole);
        out.extend_from_slice(b".0");
    } else if let Some(thousandths) = thousandths(value) {
        // A duration in milliseconds, to the microsecond.
        if thousandths < 0 {
            out.push(b'-');
        }
        let thousandths = thousandths.unsigned_abs();
        integer(out, thousandths / 1000);
        let fraction = thousandths % 1000;
        let digits = [
            b'.',
            b'0' + (fraction / 100) as u8,
            b'0' + (fraction / 10 % 10) as u8,
            b'0' + (fraction % 10) as u8,
        ];
        let trailing_zeros = (fraction % 100 == 0) as usize + (fraction % 10 == 0) as usize;
        out.extend_from_slice(&digits[..digits.len() - trailing_zeros]);
    } else {
        json(out, &value);
    }
}

/// `value` as a whole number of thousandths, when it is exactly one and small: its
/// digits are then the shortest text that reads back as `value`, which is what
/// serde_json writes (any shorter text is at least a thousandth away, and a
/// double's spacing below 10^12 is finer than that).
fn thousandths(value: f64) -> Option<i64> {
    const UP_TO: f64 = 1e12;
    // Zero is whole, and a negative zero's sign only the general path keeps.
    if value.is_nan() || value == 0.0 || value.abs() >= UP_TO {
        return None;
    }
    // Rounded half away from zero by a cast rather than `round`, a call into libm
    // here; the check below holds whichever way a tie went.
    let scaled = (value * 1000.0 + 0.5f64.copysign(value)) as i64;
    (scaled as f64 / 1000.0 == value).then_some(scaled)
}

/// Appends a whole number in one copy (serde_json's writer copies its digits in
/// a call of their own).
fn integer(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends `value` as JSON (strings escaped, numbers as serde_json writes them).
fn json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Strings, numbers and JSON values always serialize.
    let _ = serde_json::to_writer(out, value);
}

/// Appends `text` as a JSON string. Names and ids rarely need escaping, and are
/// then copied whole.
fn json_str(out: &mut Vec<u8>, text: &str) {
    if !json_bytes(out, text.as_bytes()) {
        json(out, text);
    }
}

/// [`json_str`] for kept text, read as bytes: an inline id is not checked as UTF-8
/// again when it needs no escaping.
fn json_text(out: &mut Vec<u8>, text: &Name) {
    if !json_bytes(out, text.bytes()) {
        json(out, &**text);
    }
}

/// Appends `text` quoted when it needs no escaping; whether it did.
fn json_bytes(out: &mut Vec<u8>, text: &[u8]) -> bool {
    // Without short-circuiting, the check compiles to a vectorised loop.
    let needs_escape = text.iter().fold(false, |found, &byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if !needs_escape {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text);
        out.push(b'"');
    }
    !needs_escape
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
///
/// ```
/// use fabric::metrics::{Metrics, current, scope};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let metrics = Metrics::new("Shop");
/// scope(metrics.clone(), async { current().add("Orders", 1.0) }).await;
/// assert_eq!(metrics.readable(), "Orders=1 Count");
/// # })
/// ```
pub fn scope<F: std::future::Future>(
    metrics: Metrics,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    scoped(metrics, future)
}

/// [`scope`] as the task-local future itself, whose
/// [`take_value`](tokio::task::futures::TaskLocalFuture::take_value) gives the
/// metrics back when it is done: a transport then holds the only handle again,
/// without having cloned one. Not an `async fn`: that would move `future` into a
/// second state machine.
pub(crate) fn scoped<F: std::future::Future>(
    metrics: Metrics,
    future: F,
) -> tokio::task::futures::TaskLocalFuture<Metrics, F> {
    CURRENT.scope(metrics, future)
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

/// Runs `use_metrics` on [`current`]'s metrics without cloning them (every post
/// counts itself); nothing runs outside an invocation's scope.
#[cfg_attr(not(feature = "websocket"), allow(dead_code))] // WebSocket posts
pub(crate) fn with_current(use_metrics: impl FnOnce(&Metrics)) {
    let _ = CURRENT.try_with(use_metrics);
}

/// Whether this is the process's first invocation: true once, for the first caller
/// (the `ColdStart` metric is written only then).
pub fn cold_start() -> bool {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static STARTED: AtomicBool = AtomicBool::new(false);
    // A load first: after the first invocation no write is needed.
    !STARTED.load(Relaxed) && !STARTED.swap(true, Relaxed)
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

    /// A writer that keeps what it is given, for tests to read back.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl std::io::Write for Lines {
        fn write(&mut self, text: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(text);
            Ok(text.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_document_whose_only_metric_is_named_aws_is_still_whole() {
        let metrics = Metrics::new("Test").dimension("service", "s");
        metrics.add("_aws", 1.0);
        let document = metrics.documents(7).remove(0);
        assert_eq!(document["_aws"]["Timestamp"], 7);
        assert_eq!(document["service"], "s");
        assert_eq!(document.as_object().unwrap().len(), 2, "{document}");
    }

    /// A writer set on metrics already cloned: one they have stays, one they lack
    /// reaches every clone.
    #[test]
    fn a_writer_set_after_cloning_keeps_the_first_and_reaches_every_clone() {
        let (first, second) = (Lines::default(), Lines::default());
        let metrics = Metrics::new("Shop");
        let clone = metrics.clone();
        let metrics = metrics.with_writer(EmfWriter::new(first.clone()));
        clone.add("Orders", 1.0);
        clone.flush();
        let metrics = metrics.with_writer(EmfWriter::new(second.clone()));
        metrics.add("Orders", 1.0);
        metrics.flush();
        assert_eq!(
            first.text().lines().count(),
            2,
            "both went to the first writer"
        );
        assert!(second.text().is_empty());
    }

    /// Adapters with writers of their own, taking turns on one thread, reuse one
    /// cell: each one's documents still go to its own writer only.
    #[test]
    fn a_recycled_cell_takes_the_writer_of_the_adapter_it_serves() {
        let (a, b) = (Lines::default(), Lines::default());
        let configs = [
            MetricsConfig::new("A").with_writer(Some(EmfWriter::new(a.clone()))),
            MetricsConfig::new("B").with_writer(Some(EmfWriter::new(b.clone()))),
        ];
        let started = std::time::Instant::now();
        for config in configs.iter().cycle().take(6) {
            let metrics = config.start();
            finish_invocation(&metrics, Stream::Stdout, 200, (started, started), None);
            metrics.recycle();
        }
        for (lines, namespace) in [(&a, "A"), (&b, "B")] {
            let text = lines.text();
            assert_eq!(text.lines().count(), 3, "{text}");
            for line in text.lines() {
                let document: Value = serde_json::from_str(line).unwrap();
                assert_eq!(
                    document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                    namespace
                );
            }
        }
    }

    /// Fabric's own counts are sums: a thousand posts write one value, not ten
    /// documents of ones, and a service adding to one of them adds to the same
    /// metric rather than writing its name twice.
    #[test]
    fn fabric_counts_are_one_summed_value_shared_with_a_service_adding_the_same_name() {
        let metrics = Metrics::new("Test")
            .with_writer(EmfWriter::new(std::io::sink()))
            .dimension("service", "chat");
        for _ in 0..1000 {
            metrics.count(Count::MessagesPosted);
        }
        metrics.add("MessagesPosted", 2.0);
        // Not finite: dropped from a count as from any metric.
        metrics.add("MessagesPosted", f64::NAN);
        metrics.add("PostsThrottled", f64::INFINITY);
        metrics.count(Count::PostsGone);
        metrics.add("Shouts", 1.0);
        metrics.add("Shouts", 1.0);
        let documents = metrics.documents(1);
        assert_eq!(documents.len(), 1, "{documents:?}");
        let document = &documents[0];
        assert_valid_emf(document);
        assert_eq!(document["MessagesPosted"], 1002.0);
        assert_eq!(document["PostsGone"], 1.0);
        assert_eq!(
            document["Shouts"],
            json!([1.0, 1.0]),
            "a service's own keep every value"
        );
        let names: Vec<&Value> = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| &metric["Name"])
            .collect();
        assert_eq!(names, ["MessagesPosted", "PostsGone", "Shouts"]);
        assert_eq!(
            metrics.readable(),
            "MessagesPosted=1002 Count\nPostsGone=1 Count\nShouts=1,1 Count"
        );
        metrics.flush();
        assert!(metrics.is_empty(), "the counts start again at nothing");
        metrics.count(Count::PostsGone);
        assert_eq!(metrics.readable(), "PostsGone=1 Count");
    }

    #[test]
    fn flush_starts_a_fresh_collection() {
        let metrics = Metrics::new("Test");
        metrics.add("X", 1.0);
        metrics.flush();
        assert!(metrics.is_empty());
    }

    /// The part of a document kept per thread is reused only for the same shape:
    /// another route, namespace, metric or unit gets its own.
    #[test]
    fn documents_of_different_shapes_never_share_their_fixed_part() {
        let document = |namespace: &str, route: &'static str, metric: &'static str, unit| {
            let metrics = Metrics::new(namespace)
                .dimension("service", "chat")
                .dimension("route", route)
                .with_property("requestId", format!("r-{route}-{metric}"));
            metrics.add("Invocations", 1.0);
            metrics.add_with_unit(metric, unit, 2.5);
            let documents = metrics.documents(7);
            assert_eq!(documents.len(), 1);
            assert_valid_emf(&documents[0]);
            documents.into_iter().next().unwrap()
        };
        // Each shape twice: the second comes from the kept part.
        for _ in 0..2 {
            let join = document("Chat", "join", "Duration", Unit::Milliseconds);
            let send = document("Chat", "send", "Duration", Unit::Milliseconds);
            let bytes = document("Chat", "send", "Duration", Unit::Bytes);
            let posted = document("Chat", "send", "Posted", Unit::Count);
            let other = document("Shop", "send", "Posted", Unit::Count);
            assert_eq!(join["route"], "join");
            assert_eq!(send["route"], "send");
            assert_eq!(send["requestId"], "r-send-Duration");
            assert_eq!(send["Duration"], 2.5);
            assert_eq!(send["Invocations"], 1.0);
            let definitions = |document: &Value| document["_aws"]["CloudWatchMetrics"][0].clone();
            assert_eq!(
                definitions(&send)["Metrics"][1],
                json!({"Name": "Duration", "Unit": "Milliseconds"})
            );
            assert_eq!(
                definitions(&bytes)["Metrics"][1],
                json!({"Name": "Duration", "Unit": "Bytes"})
            );
            assert_eq!(
                definitions(&posted)["Metrics"][1],
                json!({"Name": "Posted", "Unit": "Count"})
            );
            assert_eq!(posted["Posted"], 2.5);
            assert!(posted.get("Duration").is_none());
            assert_eq!(definitions(&other)["Namespace"], "Shop");
            assert_eq!(definitions(&posted)["Namespace"], "Chat");
            assert_eq!(send["_aws"]["Timestamp"], 7);
        }
    }

    /// Property names are part of a document's shape, and a property a metric or
    /// dimension shadows stays out whichever way the layout was made.
    #[test]
    fn property_names_and_shadowing_belong_to_the_shape() {
        for _ in 0..2 {
            for (property, shown) in [("requestId", true), ("orderId", true), ("route", false)] {
                let metrics = Metrics::new("Shape")
                    .dimension("route", "join")
                    .with_property(property, "p-1");
                metrics.add("Invocations", 1.0);
                let document = metrics.documents(0).remove(0);
                assert_valid_emf(&document);
                let expected = if shown { json!("p-1") } else { json!("join") };
                assert_eq!(document[property], expected, "{document}");
            }
        }
    }

    /// A transport's finished metrics leave their cell to the next invocation on
    /// the thread, which starts with nothing of theirs; a cell a clone still holds
    /// is never reused.
    #[test]
    fn a_recycled_cell_starts_empty_and_a_shared_one_is_left_alone() {
        let first = Metrics::new("First")
            .with_writer(EmfWriter::new(std::io::sink()))
            .dimension("route", "join")
            .with_property("requestId", "r-1");
        first.add("Invocations", 1.0);
        let cell = Arc::as_ptr(first.shared.as_ref().unwrap());
        first.recycle();
        let second = Metrics::new("Second");
        assert_eq!(Arc::as_ptr(second.shared.as_ref().unwrap()), cell, "reused");
        assert!(second.is_empty());
        assert!(second.documents(0).is_empty());
        second.add("Orders", 1.0);
        let document = second.documents(0).remove(0);
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Second"
        );
        assert!(document.get("route").is_none() && document.get("requestId").is_none());
        assert!(second.shared.as_ref().unwrap().writer.get().is_none());

        let clone = second.clone();
        second.recycle();
        let third = Metrics::new("Third");
        assert_ne!(
            Arc::as_ptr(third.shared.as_ref().unwrap()),
            cell,
            "still held"
        );
        clone.add("Orders", 1.0);
        assert_eq!(clone.documents(0)[0]["Orders"], json!([1.0, 1.0]));
    }

    /// A clone a service kept after its invocation finished still writes where the
    /// invocation did.
    #[test]
    fn a_finished_invocation_leaves_its_writer_to_a_clone_still_held() {
        let lines = Lines::default();
        let config = MetricsConfig::new("Shop").with_writer(Some(EmfWriter::new(lines.clone())));
        let started = std::time::Instant::now();
        for keep_a_clone in [true, false] {
            let metrics = config.start();
            let kept = keep_a_clone.then(|| metrics.clone());
            let ended = std::time::Instant::now();
            finish_invocation(&metrics, Stream::Stdout, 200, (started, ended), None);
            metrics.recycle();
            if let Some(kept) = kept {
                kept.add("Late", 1.0);
                kept.flush();
            }
        }
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let documents: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(documents.len(), 3, "{text}");
        assert!(
            documents
                .iter()
                .all(|document| check_document(document).is_ok())
        );
        assert_eq!(documents[0]["Invocations"], 1.0);
        assert_eq!(documents[1]["Late"], 1.0, "the clone wrote to the writer");
        assert_eq!(documents[2]["Invocations"], 1.0);
    }

    /// More shapes than a thread keeps: the oldest give way, and each shape's
    /// documents stay its own when it comes back.
    #[test]
    fn shapes_past_the_kept_few_are_written_afresh_and_right() {
        for _ in 0..2 {
            for index in 0..40 {
                let metrics = Metrics::new("Many").dimension("route", format!("r{index}"));
                metrics.add("Invocations", 1.0);
                let document = metrics.documents(0).remove(0);
                assert_valid_emf(&document);
                assert_eq!(document["route"], format!("r{index}"));
            }
        }
    }

    /// A writer that flushes metrics of its own while it writes (it logs, say)
    /// finds the thread's buffer taken; both documents still arrive whole.
    #[test]
    fn a_writer_that_flushes_metrics_itself_gets_both_documents() {
        /// Text shared by both writers; the outer one flushes inner metrics first.
        #[derive(Clone)]
        struct Recording {
            text: Arc<Mutex<Vec<u8>>>,
            nests: bool,
        }
        impl std::io::Write for Recording {
            fn write(&mut self, text: &[u8]) -> std::io::Result<usize> {
                if self.nests {
                    let inner = Recording {
                        nests: false,
                        ..self.clone()
                    };
                    let inner = Metrics::new("Inner").with_writer(EmfWriter::new(inner));
                    inner.add("Nested", 1.0);
                    inner.flush();
                }
                self.text.lock().unwrap().extend_from_slice(text);
                Ok(text.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let recording = Recording {
            text: Arc::default(),
            nests: true,
        };
        let outer = Metrics::new("Outer").with_writer(EmfWriter::new(recording.clone()));
        outer.add("Orders", 2.0);
        outer.flush();
        let text = String::from_utf8(recording.text.lock().unwrap().clone()).unwrap();
        let documents: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(documents.len(), 2, "{text}");
        documents.iter().for_each(assert_valid_emf);
        assert_eq!(documents[0]["Nested"], 1.0);
        assert_eq!(documents[1]["Orders"], 2.0);
    }

    #[test]
    fn timestamps_follow_the_wall_clock_before_and_after_the_thread_reads_it_again() {
        use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
        let wall = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
        };
        let earlier = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        // The first reading anchors this thread; a moment before it lies before it.
        let now = epoch_millis(Instant::now());
        assert!((now - wall()).abs() <= 2, "{now} against {}", wall());
        let before = epoch_millis(earlier);
        assert!(
            (15..=40).contains(&(now - before)),
            "{before} is 20 ms before {now}"
        );
        // Past a second the thread reads the wall clock again.
        std::thread::sleep(Duration::from_millis(1100));
        let later = epoch_millis(Instant::now());
        assert!((later - wall()).abs() <= 2, "{later} against {}", wall());
        assert!(later - now >= 1100);
    }

    #[test]
    fn thousandths_are_written_as_serde_json_writes_them() {
        // Every magnitude a duration in milliseconds takes, and a spread of digits.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut values = vec![0.001, 0.01, 0.1, 0.5, 0.012, 1.5, 999.999, -0.25, -12.345];
        for digits in 1..=15u32 {
            for _ in 0..200 {
                let thousandths = (next() % 10u64.pow(digits)) as i64;
                // Negative ones too: they round through zero the other way.
                values.extend([thousandths as f64 / 1000.0, -thousandths as f64 / 1000.0]);
            }
        }
        // And values that are not thousandths take serde_json's own path.
        values.extend([0.0001, 1.0 / 3.0, 0.0125, 1e12 + 0.5, f64::MIN_POSITIVE]);
        for value in values {
            let mut written = Vec::new();
            number(&mut written, value);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&value).unwrap(),
                "{value:e}"
            );
        }
    }

    #[test]
    fn whole_and_fractional_values_are_written_as_serde_json_writes_them() {
        let metrics = Metrics::new("N");
        let values = [
            0.0,
            -0.0,
            1.0,
            42.0,
            0.25,
            1e20,
            -3.0,
            123456789.0,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
            1e15,
        ];
        for (index, value) in values.into_iter().enumerate() {
            metrics.add(format!("m{index}"), value);
        }
        let mut text = Vec::new();
        with_buffer(|buffer| {
            let shared = metrics.shared.as_ref().unwrap();
            write_documents(shared, &lock(&shared.collected), 0, buffer);
            text = buffer.clone();
        });
        let text = String::from_utf8(text).unwrap();
        for (index, value) in values.into_iter().enumerate() {
            let expected = format!("\"m{index}\":{}", serde_json::to_string(&value).unwrap());
            assert!(text.contains(&expected), "{expected} in {text}");
        }
    }
}
