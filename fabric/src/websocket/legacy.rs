//! An existing `async fn(ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse`
//! behind a Fabric adapter, so a team moves to Fabric one route at a time: every
//! event Fabric's side does not answer reaches the old handler exactly as it came.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};

use super::config::WebSocketAdapter;
use super::dispatch::Reply;
use super::event::IncomingEvent;
use super::heartbeat;
use super::request::EventType;
use crate::panic::catch_panic;
use crate::{Error, input};

/// What a legacy handler may return: the response itself, or a `Result` whose
/// error becomes a 500 (logged, never shown to the client), as a `lambda_runtime`
/// handler's error would.
pub trait IntoProxyResponse {
    /// The proxy response API Gateway gets.
    fn into_proxy_response(self) -> ApiGatewayProxyResponse;
}

impl IntoProxyResponse for ApiGatewayProxyResponse {
    fn into_proxy_response(self) -> ApiGatewayProxyResponse {
        self
    }
}

impl<E: Display> IntoProxyResponse for Result<ApiGatewayProxyResponse, E> {
    fn into_proxy_response(self) -> ApiGatewayProxyResponse {
        self.unwrap_or_else(|err| {
            tracing::error!(error = %err, "the legacy handler failed");
            let error = Error::internal_message("the legacy handler failed");
            Reply::new(500, Some(error.envelope_json(true)), None).into_proxy_response()
        })
    }
}

impl WebSocketAdapter {
    /// Sends every event this adapter does not answer to `handler`, an existing
    /// function written against `aws_lambda_events`, with the event exactly as API
    /// Gateway sent it and its response returned as it is. Fabric answers
    /// `$connect` when it has an [`on_connect`](WebSocketAdapter::on_connect) hook
    /// or [tracks connections](WebSocketAdapter::track_connections), `$disconnect`
    /// likewise (with [`on_disconnect`](WebSocketAdapter::on_disconnect)), and a
    /// message when one of its routes (or its fallback, or the built-in ping)
    /// claims it; everything else is the old handler's. Fabric's rate limits and
    /// metrics do not apply to the events it hands over; a panic in the handler is
    /// a 500.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Join { room: String }
    ///
    /// /// The route already moved to Fabric.
    /// #[fabric_service]
    /// async fn join(input: Join, _ctx: Context) -> Result<String, Error> { Ok(input.room) }
    ///
    /// /// The handler every other route still goes to.
    /// async fn old_handler(event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    ///     let mut response = ApiGatewayProxyResponse::default();
    ///     response.status_code = 200;
    ///     response.body = event.body.map(Into::into);
    ///     response
    /// }
    ///
    /// let adapter = fabric_websocket(WebSocketRouter::new().service(join)).legacy(old_handler);
    /// # let _ = adapter;
    /// ```
    pub fn legacy<F, Fut, R>(mut self, handler: F) -> WebSocketAdapter
    where
        F: Fn(ApiGatewayWebsocketProxyRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoProxyResponse + 'static,
    {
        self.legacy = Some(Arc::new(move |event| {
            let answer = handler(event);
            Box::pin(async move { answer.await.into_proxy_response() })
        }));
        self
    }

    /// Whether an event is Fabric's to answer rather than the legacy handler's.
    pub(super) fn claims(&self, event: &IncomingEvent) -> bool {
        let context = &event.request_context;
        let route_key = super::event::text(&context.route_key).unwrap_or_default();
        match context.kind() {
            EventType::Connect => self.on_connect.is_some() || self.tracks_connections(),
            EventType::Disconnect => self.on_disconnect.is_some() || self.tracks_connections(),
            EventType::Message => {
                // Text that is not JSON selects no route: only `$default`'s fallback
                // (or a route named by the route key itself) can claim it.
                let body = super::event::text(&event.body).filter(|_| !event.is_base64_encoded);
                let parsed = body.and_then(|text| input::from_json_text(text).ok());
                let selected = parsed.as_ref().and_then(|raw| self.selection().select(raw));
                (self.heartbeat && heartbeat::is_ping(&self.router, route_key, selected))
                    || self.router.find(route_key, selected).is_some()
            }
        }
    }

    /// Hands `event` to the legacy handler, if there is one and Fabric does not
    /// claim it; otherwise gives it back, read.
    pub(super) async fn hand_over(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> Result<ApiGatewayProxyResponse, Box<IncomingEvent<'static>>> {
        let Some(legacy) = &self.legacy else {
            return Err(Box::new(IncomingEvent::from(event)));
        };
        let incoming = Box::new(IncomingEvent::from(event.clone()));
        if self.claims(&incoming) {
            return Err(incoming);
        }
        let answer = catch_panic(|| legacy(event)).await;
        Ok(answer.unwrap_or_else(|panic| {
            let error = Error::from(panic);
            Reply::new(500, Some(error.envelope_json(true)), None).into_proxy_response()
        }))
    }
}
