//! [`WebSocketAdapter`]'s event pipeline: API Gateway WebSocket events in, proxy
//! responses out, the same on Lambda and on the local gateway.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use http::HeaderValue;
use http::header::HeaderName;
use serde_json::Value;
use tracing::Instrument;

use super::config::WebSocketAdapter;
use super::event::{IncomingEvent, Text, text};
use super::heartbeat::{self, PONG_FRAME};
use super::hooks::{Accept, Disconnect};
use super::management::MAX_MESSAGE_BYTES;
use super::rate_limit;
use super::request::{EventText, EventType, LazyManagement, WebSocket};
use crate::layer::Transport;
use crate::panic::catch_panic;
use crate::settings::Ready;
use crate::store::{Connection, SharedStore};
use crate::{Context, Error, Output, State, input};

impl WebSocketAdapter {
    /// Handles one event: the whole path from event to response, the same on Lambda
    /// and on the local gateway.
    pub async fn handle(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        match self.hand_over(event).await {
            Ok(legacy_answer) => legacy_answer,
            Err(event) => self.handle_incoming(event).await,
        }
    }

    /// The event stays boxed from here on: moving it through nested futures would
    /// copy it at every step.
    async fn handle_incoming(&self, event: Box<IncomingEvent<'_>>) -> ApiGatewayProxyResponse {
        let started = Instant::now();
        let context = &event.request_context;
        let span = tracing::info_span!(
            "websocket",
            request_id = text(&context.request_id).unwrap_or_default(),
            connection_id = text(&context.connection_id).unwrap_or_default(),
            route_key = text(&context.route_key).unwrap_or_default(),
        );
        // Looked up once per event: a failed setup is retried by the next event,
        // not twice by this one.
        let ready = self.prepared().await;
        let metrics =
            (ready.as_ref().ok()).and_then(|ready| self.invocation_metrics(ready, &event));
        let kind = event.request_context.kind();
        // Pinned where it is built and scoped by reference: the dispatch future is
        // large, and moving it into the scope would copy it on every event.
        let mut dispatch = std::pin::pin!(
            self.dispatch(event, ready, started)
                .instrument(span.clone())
        );
        let (reply, metrics) = match metrics {
            None => (dispatch.await, None),
            Some(metrics) => {
                // The scope hands the metrics back: no clone of them is made.
                let mut scoped = std::pin::pin!(crate::metrics::scoped(metrics, dispatch.as_mut()));
                let reply = scoped.as_mut().await;
                (reply, scoped.take_value())
            }
        };
        // One reading of the clock for the metrics (duration and timestamp) and the
        // log.
        let ended = Instant::now();
        let took = ended.saturating_duration_since(started);
        span.in_scope(|| {
            if let Some(metrics) = &metrics {
                finish_event(metrics, kind, reply.status, (started, ended));
            }
            tracing::info!(
                status = reply.status,
                latency_us = took.as_micros() as u64,
                "event handled"
            )
        });
        if let Some(metrics) = metrics {
            metrics.recycle();
        }
        reply.into_proxy_response()
    }

    /// This event's metrics when they are on (known once the adapter is set up).
    fn invocation_metrics(
        &self,
        ready: &Ready,
        event: &IncomingEvent<'_>,
    ) -> Option<crate::metrics::Metrics> {
        let config = ready.metrics()?;
        let context = &event.request_context;
        let metrics = config.start_with(crate::metrics::TransportFields {
            dimensions: &[
                ("service", crate::metrics::function_name()),
                ("transport", "websocket"),
            ],
            copied_dimensions: &[("route", text(&context.route_key).unwrap_or_default())],
            copied_properties: &[
                ("requestId", text(&context.request_id).unwrap_or_default()),
                (
                    "connectionId",
                    text(&context.connection_id).unwrap_or_default(),
                ),
            ],
        });
        Some(metrics)
    }

    /// Handles an event given as JSON text, as Lambda delivers it. Text that is not
    /// a WebSocket event gets a 400 response, never a crash.
    pub async fn handle_json(&self, event: &str) -> ApiGatewayProxyResponse {
        // A legacy handler gets the whole event, so it is read whole.
        if self.legacy.is_some() {
            return match serde_json::from_str::<ApiGatewayWebsocketProxyRequest>(event) {
                Ok(event) => self.handle(event).await,
                Err(err) => self.invalid_event(&err),
            };
        }
        match serde_json::from_str::<Box<IncomingEvent>>(event) {
            Ok(event) => self.handle_incoming(event).await,
            Err(err) => self.invalid_event(&err),
        }
    }

    fn invalid_event(&self, err: &serde_json::Error) -> ApiGatewayProxyResponse {
        tracing::warn!(error = %err, "not an API Gateway WebSocket event");
        let error = Error::bad_request(format!("Invalid WebSocket event: {err}"));
        Reply::new(400, Some(error.envelope_json(self.scrub())), None).into_proxy_response()
    }

    async fn dispatch(
        &self,
        event: Box<IncomingEvent<'_>>,
        ready: Result<&Ready, crate::BoxError>,
        received: Instant,
    ) -> Reply {
        let ready = match ready {
            Ok(ready) => ready,
            Err(err) => {
                tracing::error!(error = %err, "setup failed");
                let error = Error::internal_message(format!("setup failed: {err}"));
                return Reply::new(500, Some(error.envelope_json(self.scrub())), None);
            }
        };
        let state = ready.state().clone();
        let unavailable = ready.unavailable();
        let (ws, body, disconnect) = self.split(event, &state);
        match ws.event_type {
            EventType::Connect if unavailable => self.rejection(&Ready::unavailable_error()),
            EventType::Connect => self.connect(ws, state).await,
            EventType::Disconnect => self.disconnect(ws, state, disconnect).await,
            EventType::Message if unavailable => {
                self.answer_error(&ws, Ready::unavailable_error()).await
            }
            EventType::Message => self.message(ws, state, body, received).await,
        }
    }

    /// The event as the service's view of it, the body, and the close details.
    fn split<'a>(
        &self,
        event: Box<IncomingEvent<'a>>,
        state: &State,
    ) -> (Arc<WebSocket>, Frame<'a>, Disconnect) {
        let IncomingEvent {
            headers,
            query_string_parameters,
            request_context: context,
            body,
            is_base64_encoded,
        } = *event;
        let event_type = context.kind();
        let identity = context.identity.unwrap_or_default();
        let disconnect = Disconnect {
            status_code: context.disconnect_status_code,
            reason: context
                .disconnect_reason
                .map(|reason| reason.0.into_owned()),
        };
        let ws = WebSocket {
            event_type,
            text: EventText::new([
                text(&context.route_key),
                text(&context.connection_id),
                text(&context.request_id),
                text(&context.stage),
                text(&context.domain_name),
                text(&context.api_id),
                text(&identity.source_ip),
                text(&identity.user_agent),
            ]),
            connected_at: context.connected_at,
            headers,
            query: query_string_parameters,
            authorizer: context.authorizer.map_or(Value::Null, Value::Object),
            management: LazyManagement::lazy(self.management.clients().clone()),
            broadcast_concurrency: self.broadcast_concurrency,
            store: state.get::<SharedStore>().cloned(),
        };
        let body = Frame {
            text: body,
            base64: is_base64_encoded,
        };
        (Arc::new(ws), body, disconnect)
    }

    fn context(ws: &Arc<WebSocket>, state: State) -> Context {
        Context::builder(ws.request_id())
            .shared_sink(ws.clone())
            .shared_extension(ws.clone())
            .state(state)
            .build()
    }

    async fn connect(&self, ws: Arc<WebSocket>, state: State) -> Reply {
        let accepted = match &self.on_connect {
            Some(hook) => catch_panic(|| hook(Self::context(&ws, state)))
                .await
                .unwrap_or_else(|panic| Err(panic.into())),
            None => Ok(Accept::new()),
        };
        let tracked = match accepted {
            Ok(accept) => self.track(&ws, accept).await,
            Err(err) => Err(err),
        };
        match tracked {
            Ok(accept) => Reply::new(200, None, accept.chosen_protocol()),
            Err(err) => self.rejection(&err),
        }
    }

    /// Saves an accepted connection in the store, if there is one.
    async fn track(&self, ws: &WebSocket, accept: Accept) -> Result<Accept, Error> {
        let Some(store) = &ws.store else {
            return Ok(accept);
        };
        let connected_at = chrono::DateTime::from_timestamp_millis(ws.connected_at)
            .filter(|_| ws.connected_at > 0)
            .unwrap_or_else(chrono::Utc::now);
        let mut connection = Connection::new(ws.connection_id(), connected_at)
            .ttl(self.connection_ttl)
            .with_metadata_map(accept.metadata.clone());
        if let Some(user) = &accept.user_id {
            connection = connection.user(user.clone());
        }
        store.save(&connection).await?;
        Ok(accept)
    }

    fn rejection(&self, err: &Error) -> Reply {
        log_error(err);
        Reply::new(err.status(), Some(err.envelope_json(self.scrub())), None)
    }

    async fn disconnect(&self, ws: Arc<WebSocket>, state: State, info: Disconnect) -> Reply {
        if let Some(hook) = &self.on_disconnect {
            let ctx = Self::context(&ws, state);
            // A panicking hook is logged where it is caught; the store still forgets
            // the connection.
            let _ = catch_panic(|| hook(ctx, info)).await;
        }
        if let Some(store) = &ws.store {
            if let Err(err) = store.delete(ws.connection_id()).await {
                log_error(&err);
            }
        }
        Reply::new(200, None, None)
    }

    async fn message(
        &self,
        ws: Arc<WebSocket>,
        state: State,
        body: Frame<'_>,
        received: Instant,
    ) -> Reply {
        let checked = match rate_limit::check_now(&self.rate_limits, &ws, received) {
            Ok([]) => Ok(()),
            Ok(waiting) => rate_limit::check_all(waiting, &ws, received).await,
            Err(refused) => Err(refused),
        };
        if let Err(refused) = checked {
            let answer = self.answer_error(&ws, refused.error).await;
            if refused.disconnect {
                if let Err(err) = ws.management().delete(ws.connection_id()).await {
                    tracing::warn!(error = %err, "could not close a connection over its rate limit");
                }
            }
            return answer;
        }
        match self.run_service(&ws, state, body).await {
            Ok(Answer::Pong) => {
                if !self.two_way {
                    post_to_caller(&ws, PONG_FRAME).await;
                }
                Reply::new(200, Some(PONG_FRAME.to_owned()), None)
            }
            Ok(Answer::Service(output)) => {
                let body = output.into_data_envelope();
                if self.reply && !self.two_way {
                    post_to_caller(&ws, &body).await;
                }
                Reply::new(200, Some(body), None)
            }
            Err(err) => self.answer_error(&ws, err).await,
        }
    }

    /// A message that failed: the error envelope, posted to the caller unless the
    /// route is two-way (API Gateway drops a one-way route's body).
    async fn answer_error(&self, ws: &WebSocket, err: Error) -> Reply {
        log_error(&err);
        let body = err.envelope_json(self.scrub());
        if !self.two_way {
            post_to_caller(ws, &body).await;
        }
        Reply::new(err.status(), Some(body), None)
    }

    fn scrub(&self) -> bool {
        self.settings.scrub_errors()
    }

    async fn run_service(
        &self,
        ws: &Arc<WebSocket>,
        state: State,
        body: Frame<'_>,
    ) -> Result<Answer, Error> {
        let text = body.decode()?;
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Error::payload_too_large(format!(
                "The message is {} bytes, over the {MAX_MESSAGE_BYTES}-byte limit",
                text.len()
            )));
        }
        // Text that is not JSON is an error only if no raw handler takes it.
        let parsed = input::from_json_text(&text);
        let selected = parsed
            .as_ref()
            .ok()
            .and_then(|raw| self.selection().select(raw));
        if self.heartbeat && heartbeat::is_ping(&self.router, ws.route_key(), selected) {
            return Ok(Answer::Pong);
        }
        let found = self.router.find(ws.route_key(), selected);
        let (route, handler) = match (found, parsed.as_ref()) {
            (Some(found), _) => found,
            (None, Err(_)) => return Err(parsed.unwrap_err()),
            (None, Ok(_)) => {
                let route = selected.unwrap_or(ws.route_key());
                return Err(Error::not_found(format!(
                    "No service answers the route \"{route}\""
                )));
            }
        };
        let raw = if handler.raw {
            Value::String(text.into_owned())
        } else {
            parsed?
        };
        let ctx = Self::context(ws, state);
        self.settings
            .layers()
            .call(&handler.service, route, Transport::WebSocket, raw, ctx)
            .await
            .map(Answer::Service)
    }
}

/// What a message was answered with.
enum Answer {
    Service(Output),
    /// The built-in heartbeat.
    Pong,
}

/// A message event's body as API Gateway sent it.
struct Frame<'a> {
    text: Option<Text<'a>>,
    base64: bool,
}

impl<'a> Frame<'a> {
    /// The frame's text; base64 bodies decoded.
    fn decode(self) -> Result<Cow<'a, str>, Error> {
        let text = self.text.map(|text| text.0).unwrap_or_default();
        if !self.base64 {
            return Ok(text);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|err| {
                Error::bad_request(format!("The body is marked base64 but is not: {err}"))
            })?;
        String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|_| Error::bad_request("The body is not UTF-8 text"))
    }
}

/// Posts to the caller; a failure (usually a client that already left) is logged,
/// not raised: the event itself was handled.
async fn post_to_caller(ws: &WebSocket, body: &str) {
    if let Err(err) = ws.post(ws.connection_id(), body.as_bytes()).await {
        if err.is_gone() {
            tracing::debug!("caller left before the reply");
        } else {
            tracing::warn!(error = %err, "could not post to the caller");
        }
    }
}

fn log_error(err: &Error) {
    if err.kind().is_server_error() {
        tracing::error!(status = err.status(), error = %err, "request failed");
    } else {
        tracing::info!(status = err.status(), error = %err, "request refused");
    }
}

/// An event's answer while it is handled: a few words, since it moves out through
/// every future of the pipeline (an `ApiGatewayProxyResponse` is two header maps
/// and would be copied at each); made one once, at the end.
pub(crate) struct Reply {
    status: u16,
    body: Option<String>,
    protocol: Option<HeaderValue>,
}

impl Reply {
    pub(crate) fn new(status: u16, body: Option<String>, protocol: Option<&str>) -> Reply {
        Reply {
            status,
            body,
            protocol: protocol.and_then(|p| HeaderValue::from_str(p).ok()),
        }
    }

    pub(crate) fn into_proxy_response(self) -> ApiGatewayProxyResponse {
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = i64::from(self.status);
        // API Gateway ignores a WebSocket route's response headers (only $connect's
        // Sec-WebSocket-Protocol reaches the client), so none are set for the body.
        response.body = self.body.map(Body::Text);
        if let Some(protocol) = self.protocol {
            response
                .headers
                .insert(HeaderName::from_static("sec-websocket-protocol"), protocol);
        }
        response
    }
}

/// What every event adds (one invocation, its status class, its duration, and the
/// connection opened or closed), then its metrics written.
fn finish_event(
    metrics: &crate::metrics::Metrics,
    kind: EventType,
    status: u16,
    times: (Instant, Instant),
) {
    use crate::metrics::Count;
    let also = match kind {
        EventType::Connect if status == 200 => Some(Count::ConnectionsOpened),
        EventType::Disconnect => Some(Count::ConnectionsClosed),
        // Input the service refused before it ran: malformed or invalid.
        EventType::Message if status == 400 || status == 422 => Some(Count::ValidationFailures),
        _ => None,
    };
    let stream = crate::metrics::Stream::Stdout;
    crate::metrics::finish_invocation(metrics, stream, status, times, also);
}
