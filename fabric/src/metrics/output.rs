//! Where an invocation's metrics go, and what every transport counts for one.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{Count, Metrics, Name, Unit};

/// Somewhere other than stdout for EMF lines: a file a CloudWatch agent tails, or
/// a buffer a test reads. Cheap to clone; clones write to the same place.
///
/// ```
/// use fabric::metrics::{EmfWriter, Metrics};
///
/// let file = std::env::temp_dir().join("fabric-emf-doc.log");
/// let metrics = Metrics::new("Shop").with_writer(EmfWriter::new(std::fs::File::create(&file).unwrap()));
/// metrics.add("Orders", 1.0);
/// metrics.flush();
/// assert!(std::fs::read_to_string(&file).unwrap().contains("\"Orders\":1.0"));
/// # std::fs::remove_file(file).unwrap();
/// ```
#[derive(Clone)]
pub struct EmfWriter(Arc<Mutex<dyn Write + Send>>);

impl EmfWriter {
    /// EMF lines to `writer`.
    pub fn new(writer: impl Write + Send + 'static) -> EmfWriter {
        EmfWriter(Arc::new(Mutex::new(writer)))
    }

    /// Whether both write to the same place (one is a clone of the other).
    pub(super) fn is(&self, other: &EmfWriter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Writes whole lines in one call, so lines of concurrent invocations never mix.
    pub(super) fn write(&self, text: &[u8]) {
        let mut writer = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A failing writer loses the metrics, never the invocation.
        let _ = writer.write_all(text).and_then(|()| writer.flush());
    }
}

impl fmt::Debug for EmfWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmfWriter")
    }
}

/// How an adapter's metrics are made: the namespace and, optionally, a writer in
/// place of stdout. Each invocation [starts](MetricsConfig::start) fresh metrics.
///
/// ```
/// use fabric::metrics::MetricsConfig;
///
/// let config = MetricsConfig::new("Shop");
/// let first = config.start();
/// first.add("Orders", 1.0);
/// assert!(config.start().is_empty(), "every invocation has its own");
/// assert_eq!(&**config.namespace(), "Shop");
/// ```
#[derive(Clone, Debug)]
pub struct MetricsConfig {
    namespace: Arc<str>,
    writer: Option<EmfWriter>,
}

impl MetricsConfig {
    /// Metrics in `namespace`, written to stdout.
    pub fn new(namespace: impl Into<Arc<str>>) -> MetricsConfig {
        MetricsConfig {
            namespace: namespace.into(),
            writer: None,
        }
    }

    /// Writes the EMF lines to `writer` instead of stdout.
    pub fn with_writer(mut self, writer: Option<EmfWriter>) -> MetricsConfig {
        self.writer = writer;
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &Arc<str> {
        &self.namespace
    }

    /// Fresh metrics for one invocation.
    pub fn start(&self) -> Metrics {
        self.start_with(TransportFields::default())
    }

    /// [`start`](Self::start) with a transport's dimensions and properties, set in
    /// one step: each step of building checks that no clone exists, and that check
    /// is an atomic operation.
    pub(crate) fn start_with(&self, fields: TransportFields<'_>) -> Metrics {
        Metrics::in_namespace(&self.namespace, self.writer.as_ref(), |collected| {
            Metrics::fill(collected, fields);
        })
    }
}

/// What a transport sets on every invocation's metrics: dimensions whose values
/// live as long as the process (the service, the transport), dimensions and
/// properties whose values are copied (a route, request and connection ids).
#[derive(Default)]
pub(crate) struct TransportFields<'a> {
    pub(crate) dimensions: &'a [(&'static str, &'static str)],
    pub(crate) copied_dimensions: &'a [(&'static str, &'a str)],
    pub(crate) copied_properties: &'a [(&'static str, &'a str)],
}

/// The standard stream EMF lines go to on Lambda when no writer is given: stdout,
/// or stderr for a command line, whose stdout is its result (Lambda sends both to
/// CloudWatch Logs, which reads EMF from either).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Stdout,
    #[cfg_attr(not(any(feature = "cli", feature = "mcp")), allow(dead_code))] // CLI, MCP stdio
    Stderr,
}

impl Stream {
    pub(super) fn write(self, text: &[u8]) {
        // A closed stream loses the metrics, never the invocation.
        let _ = match self {
            Stream::Stdout => std::io::stdout().lock().write_all(text),
            Stream::Stderr => std::io::stderr().lock().write_all(text),
        };
    }
}

/// [`finish`](super::finish), with `stream` for the EMF lines on Lambda.
pub(crate) fn finish_to(metrics: &Metrics, stream: Stream) {
    metrics.end(stream, on_lambda(), None, |_| {});
}

fn on_lambda() -> bool {
    static ON_LAMBDA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON_LAMBDA.get_or_init(crate::env::on_lambda)
}

/// Ends a transport's invocation: counts what every transport counts for every
/// invocation (one invocation, its status class, its duration, `ColdStart` when it
/// was the process's first, and `also`, one more count of the transport's own: a
/// validation failure, a connection opened) and writes the metrics, in one step
/// under one lock. The duration runs from `started` to `ended`, and the documents'
/// timestamp comes from `ended` too.
pub(crate) fn finish_invocation(
    metrics: &Metrics,
    stream: Stream,
    status: u16,
    (started, ended): (Instant, Instant),
    also: Option<Count>,
) {
    let errors = match status {
        400..=499 => Some(Count::Errors4xx),
        500..=599 => Some(Count::Errors5xx),
        _ => None,
    };
    // Only the cold invocation carries it, as Powertools writes it: a warm one's 0
    // would be one more value in every document, and the cold-start rate is
    // ColdStart's sum over Invocations' sum either way.
    let cold_start = super::cold_start().then_some(Count::ColdStart);
    // To the microsecond, which CloudWatch keeps and which writes without float
    // formatting (see `number`).
    let duration = ended.saturating_duration_since(started).as_micros() as f64 / 1000.0;
    let counts = [Some(Count::Invocations), errors, cold_start, also];
    metrics.end(stream, on_lambda(), Some(ended), |collected| {
        for count in counts.into_iter().flatten() {
            collected.count(count as usize, 1.0);
        }
        collected.add_series(Name::Static("Duration"), Unit::Milliseconds, duration);
    });
}

#[cfg_attr(not(any(feature = "websocket", feature = "http")), allow(dead_code))]
/// The function's name on Lambda, else the binary's: the WebSocket `service`
/// dimension, and the `service` of HTTP requests no route took.
pub(crate) fn function_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        crate::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|| crate::env::program_name(std::env::args_os().next().as_deref()))
    })
}

/// One invocation of a transport's: its metrics, with the service and transport
/// dimensions and the request id property, and when it started.
#[derive(Debug)]
#[cfg_attr(not(any(feature = "http", feature = "cli")), allow(dead_code))]
pub(crate) struct Invocation {
    pub(crate) metrics: Metrics,
    started: Instant,
}

#[cfg_attr(not(any(feature = "http", feature = "cli")), allow(dead_code))]
impl Invocation {
    /// Starts counting an invocation of `service` over `transport`.
    pub(crate) fn start(
        config: &MetricsConfig,
        service: &str,
        transport: &'static str,
        request_id: &str,
    ) -> Invocation {
        let metrics = config.start_with(TransportFields {
            dimensions: &[("transport", transport)],
            copied_dimensions: &[("service", service)],
            copied_properties: &[("requestId", request_id)],
        });
        Invocation {
            metrics,
            started: Instant::now(),
        }
    }

    /// Adds a dimension (HTTP's `route`).
    #[cfg(feature = "http")]
    pub(crate) fn dimension(
        mut self,
        name: &'static str,
        value: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Invocation {
        self.metrics = self.metrics.dimension(name, value);
        self
    }

    /// Ends the invocation with `status`: counts it and writes its metrics once.
    /// `input_checked` says whether the transport had reached a service, whose input
    /// a 400 or 422 then refused (a validation failure).
    pub(crate) fn end(self, status: u16, input_checked: bool, stream: Stream) {
        let validation_failed = input_checked && matches!(status, 400 | 422);
        finish_invocation(
            &self.metrics,
            stream,
            status,
            (self.started, Instant::now()),
            validation_failed.then_some(Count::ValidationFailures),
        );
        self.metrics.recycle();
    }
}
