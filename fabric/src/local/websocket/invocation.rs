//! One event in flight: the adapter's call under the integration timeout, with
//! panics caught, and the one log line per event.

use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body as EventBody;
use futures_util::future::BoxFuture;

use crate::panic::CatchPanic;

/// What API Gateway's integration gave back.
// Made once per event and moved once; boxing the response would cost more.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Outcome {
    Answered(ApiGatewayProxyResponse),
    /// The invocation failed (a panic escaped the adapter).
    Failed,
    /// Over the integration timeout; the handler is left to finish on its own, as a
    /// Lambda would.
    TimedOut,
    /// No function serves the route (an app without `$default`, say).
    NoRoute,
}

pub(super) struct EventMeta {
    pub route_key: String,
    pub connection_id: String,
    pub request_id: String,
    /// The function serving the event, when the log names functions.
    pub function: Option<String>,
    /// Whether the route has a route response.
    pub two_way: bool,
    pub started: Instant,
}

/// One adapter call in flight, polled by the task that awaits it (a connection's
/// session): no task spawn per message. Logs its line when it completes.
pub(super) struct Invocation {
    /// `None` when no function serves the route.
    pub handler: Option<CatchPanic<BoxFuture<'static, ApiGatewayProxyResponse>>>,
    pub deadline: Pin<Box<tokio::time::Sleep>>,
    pub meta: Option<EventMeta>,
    pub log: EventLog,
}

pub(super) struct Finished {
    pub outcome: Outcome,
    pub request_id: String,
    pub two_way: bool,
}

impl Future for Invocation {
    type Output = Finished;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Finished> {
        let this = &mut *self;
        assert!(this.meta.is_some(), "Invocation polled after completion");
        // A panic that escapes the adapter is a failed invocation (API Gateway's
        // "Internal server error"), not a dead connection.
        let polled = this
            .handler
            .as_mut()
            .map(|handler| Pin::new(handler).poll(cx));
        let outcome = match polled {
            None => Outcome::NoRoute,
            Some(polled) => match polled {
                Poll::Ready(Ok(response)) => Outcome::Answered(response),
                Poll::Ready(Err(_panic)) => Outcome::Failed,
                Poll::Pending => match this.deadline.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        // Over the integration timeout: the client hears so, and the
                        // handler finishes on its own, as a Lambda would.
                        if let Some(handler) = this.handler.take() {
                            tokio::spawn(handler);
                        }
                        Outcome::TimedOut
                    }
                },
            },
        };
        this.handler = None;
        let meta = this
            .meta
            .take()
            .expect("Invocation polled after completion");
        this.log.line(&meta, &outcome);
        Poll::Ready(Finished {
            outcome,
            request_id: meta.request_id,
            two_way: meta.two_way,
        })
    }
}

/// The one log line per event: route, connection, status, latency (and the error's
/// detail for a 4xx/5xx), the status coloured on a terminal.
#[derive(Debug, Clone, Copy)]
pub(super) struct EventLog {
    colour: bool,
}

impl EventLog {
    pub(super) fn new() -> EventLog {
        EventLog {
            colour: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, meta: &EventMeta, outcome: &Outcome) {
        if !tracing::enabled!(target: "fabric::local", tracing::Level::INFO) {
            return;
        }
        let latency = meta.started.elapsed();
        let (status, colour, detail) = match outcome {
            Outcome::Answered(response) => {
                let code = response.status_code;
                let colour = match code {
                    200..=399 => "32",
                    400..=499 => "33",
                    _ => "31",
                };
                let detail = if code >= 400 {
                    error_detail(response)
                } else {
                    String::new()
                };
                (code.to_string(), colour, detail)
            }
            Outcome::Failed => ("ERR".to_owned(), "31", " Internal server error".to_owned()),
            Outcome::TimedOut => (
                "TIMEOUT".to_owned(),
                "31",
                " Endpoint request timed out".to_owned(),
            ),
            Outcome::NoRoute => (
                "403".to_owned(),
                "33",
                " Forbidden: no function serves this route".to_owned(),
            ),
        };
        let route = match &meta.function {
            Some(function) => format!("{function} {}", meta.route_key),
            None => meta.route_key.clone(),
        };
        let id = &meta.connection_id;
        let latency = Latency(latency);
        if self.colour {
            tracing::info!(target: "fabric::local", "\x1b[1m{route}\x1b[0m {id} \x1b[{colour}m{status}\x1b[0m {latency}{detail}");
        } else {
            tracing::info!(target: "fabric::local", "{route} {id} {status} {latency}{detail}");
        }
    }
}

/// A latency as people read it: `850µs`, `12.3ms`, `1.20s`. Cheaper than
/// `Duration`'s `Debug`, and this runs once per event.
struct Latency(Duration);

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = self.0.as_micros();
        match micros {
            0..1_000 => write!(f, "{micros}µs"),
            1_000..1_000_000 => write!(f, "{}.{}ms", micros / 1_000, micros % 1_000 / 100),
            _ => write!(f, "{:.2}s", self.0.as_secs_f64()),
        }
    }
}

/// The first error's detail from an error envelope body, for the log line.
fn error_detail(response: &ApiGatewayProxyResponse) -> String {
    let Some(EventBody::Text(text)) = &response.body else {
        return String::new();
    };
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|body| body["errors"][0]["detail"].as_str().map(str::to_owned))
        .map(|detail| format!(" {detail}"))
        .unwrap_or_default()
}
