//! Services on API Gateway WebSocket APIs.
//!
//! [`fabric_websocket`] turns a service (or a [`WebSocketRouter`] of several) into an
//! adapter that answers API Gateway v2 WebSocket proxy events: `$connect` goes to an
//! optional [`on_connect`](WebSocketAdapter::on_connect) hook, `$disconnect` to an
//! optional [`on_disconnect`](WebSocketAdapter::on_disconnect) hook, and every
//! message to the service, whose [`Context`](crate::Context) can post to the caller
//! (`send_message`) and, through [`ctx.websocket()`](crate::Context::websocket), to
//! any connection.
//!
//! What API Gateway does with the answers shapes the adapter:
//!
//! - a route's returned body reaches the client only if the route has a route
//!   response, so errors are also *posted* to the caller as an error frame, and
//!   results are posted with [`reply(true)`](WebSocketAdapter::reply);
//! - a non-2xx `$connect` response rejects the handshake with that status;
//! - a post to a closed connection is a 410, reported as [`Delivery::Gone`] so
//!   stale ids can be forgotten.

mod authorizer;
mod config;
mod dispatch;
mod endpoint;
mod event;
mod heartbeat;
mod hooks;
mod identity;
mod lambda;
mod legacy;
mod management;
mod rate_limit;
mod raw;
mod request;
mod rooms;
mod router;
mod sdk;
mod sweep;

pub(crate) use authorizer::ConnectVerdict;
pub use authorizer::{
    Allowed, Authorized, AuthorizerAdapter, AuthorizerRequest, IdentitySource, MAX_CONTEXT_BYTES,
    fabric_authorizer, flatten_context,
};
pub use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
pub use aws_lambda_events::encodings::Body;
pub(crate) use config::StoreSource;
pub use config::{StoreFactory, WebSocketAdapter, fabric_websocket};
#[cfg(feature = "local")]
pub(crate) use endpoint::serve_in_process;
pub use endpoint::{EndpointRules, ManagementClients};
pub use heartbeat::{PING_ACTION, PONG_FRAME};
pub use hooks::{Accept, Disconnect};
pub use identity::{Identity, IdentityOrigin};
pub use legacy::IntoProxyResponse;
pub use management::{ConnectionInfo, MAX_MESSAGE_BYTES, ManagementApi, ManagementError};
pub use rate_limit::{LimitKey, RateLimit};
pub use raw::RawHandler;
pub use request::{BroadcastReport, Delivery, EventType, WebSocket};
pub(crate) use request::{EventText, LazyManagement};
pub use router::{RouteSelection, WebSocketRouter};
pub use sdk::SdkManagementApi;
pub use sweep::{Bound, Sweep, SweepReport, fabric_sweep};
