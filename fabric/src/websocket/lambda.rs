//! Serving the adapter on Lambda with `lambda_runtime`, and as a tower service for
//! layers.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use futures_util::future::BoxFuture;
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use super::WebSocketAdapter;
use crate::BoxError;

impl WebSocketAdapter {
    /// Serves Lambda invocations until the process is stopped: what
    /// [`fabric::run`](crate::run) does on Lambda. The setup runs first, so a broken
    /// one fails the cold start, where Lambda reports it.
    pub async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::logging::init();
        if let Err(err) = self.ready().await {
            crate::init_error::exit(&*err);
        }
        let adapter = Arc::new(self);
        // The payload stays raw so a malformed event becomes a 400 response of ours
        // rather than a runtime deserialization failure.
        let handler = lambda_runtime::service_fn(move |event: LambdaEvent<Box<RawValue>>| {
            let adapter = adapter.clone();
            async move {
                let payload = event.payload.get();
                // With an authorizer, this function is the API's authorizer too.
                if let Some(authorizer) = &adapter.authorizer {
                    if super::authorizer::is_authorizer_event(payload) {
                        return authorizer
                            .handle_json(payload)
                            .await
                            .map(Answer::Authorizer)
                            .map_err(|err| BoxError::from(err.detail().to_string()));
                    }
                }
                Ok::<_, BoxError>(Answer::Proxy(adapter.handle_json(payload).await))
            }
        });
        lambda_runtime::run(handler).await
    }
}

/// What the function answers: a WebSocket event's response, or an authorizer's
/// policy.
#[derive(serde::Serialize)]
#[serde(untagged)]
// One per invocation, serialized at once.
#[allow(clippy::large_enum_variant)]
enum Answer {
    Proxy(ApiGatewayProxyResponse),
    Authorizer(serde_json::Value),
}

/// The adapter is an ordinary tower service, so tower layers (timeouts, limits,
/// tracing) wrap it like any other.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::websocket::{ApiGatewayWebsocketProxyRequest, fabric_websocket};
/// use tower::ServiceExt;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut event = ApiGatewayWebsocketProxyRequest::default();
/// event.request_context.route_key = Some("$disconnect".into());
/// let response = fabric_websocket(svc).oneshot(event).await.unwrap();
/// assert_eq!(response.status_code, 200);
/// # })
/// ```
impl tower::Service<ApiGatewayWebsocketProxyRequest> for WebSocketAdapter {
    type Response = ApiGatewayProxyResponse;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<ApiGatewayProxyResponse, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: ApiGatewayWebsocketProxyRequest) -> Self::Future {
        let adapter = self.clone();
        Box::pin(async move { Ok(adapter.handle(event).await) })
    }
}
