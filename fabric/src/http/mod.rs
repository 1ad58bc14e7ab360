//! Serving services over HTTP: API Gateway REST and HTTP APIs, Lambda function URLs
//! and ALB on Lambda, and a local HTTP server elsewhere, from one [`HttpRouter`].
//!
//! ```no_run
//! use fabric::prelude::*;
//!
//! #[derive(Deserialize, Input)]
//! struct Name { name: String }
//!
//! #[fabric_service(alias = "hello")]
//! async fn hello(input: Name, _ctx: Context) -> Result<String, Error> {
//!     Ok(format!("Hello, {}!", input.name))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), fabric::BoxError> {
//!     // GET or POST /hello, on Lambda or on http://127.0.0.1:3000
//!     fabric::run(fabric_http(hello)).await
//! }
//! ```
//!
//! # Requests
//!
//! A route is `/{alias}` by default, or a path given with [`Route::path`], whose
//! `:name` segments are path parameters; it answers GET and POST unless
//! [`Route::methods`] says otherwise. The service's raw input is the query parameters
//! (a repeated key becomes a list), merged with the path parameters, merged with the
//! body's fields: the body wins over the path, which wins over the query. A body is a
//! JSON object (`application/json`, `*+json`, or no content type) or form fields
//! (`application/x-www-form-urlencoded`); base64 bodies from API Gateway are decoded.
//! A JSON content type with a body that is not a JSON object is a 400.
//!
//! # Responses
//!
//! `200 {"data": result}` as `application/json`, `204` with no body when the service
//! returns `()`, and errors as the [error envelope](crate::error) with their status.
//! A path with no route is a 404 envelope; a route with another method is a 405
//! envelope with an `Allow` header. Every response carries `x-request-id`.
//!
//! # Messages
//!
//! When the client accepts `application/x-ndjson` or `text/event-stream`,
//! [`Context::send_message`](crate::Context::send_message) messages are streamed as
//! they are sent, one JSON line (or one `message` event) each, and the result
//! envelope comes last (an SSE `result` or `error` event). The status is that of the
//! result when the service sends nothing first, and 200 once a message has gone out.
//! Locally the stream is real; on Lambda the response is buffered, so the lines
//! arrive together in one body. Without such an `Accept` header, messages are
//! dropped.
//!
//! # CORS and auth
//!
//! CORS is on by default for every origin; see [`Cors`]. An optional
//! [authorizer](HttpRouter::authorize) receives each request's Bearer token.

mod auth;
mod body;
mod cors;
mod encoding;
mod endpoint;
mod event;
mod handler;
mod input;
mod lambda;
mod response;
mod route;
mod router;

pub use body::HttpBody;
pub use cors::Cors;
pub use endpoint::{Endpoint, FromLambda, error_response};
pub use handler::HttpRequest;
#[cfg(feature = "local")]
pub(crate) use handler::PeerAddr;
pub use http::{HeaderMap, Method, StatusCode};
/// The `lambda_http` this module uses, to drive an [`HttpRouter`] with layers of your
/// own: `lambda_http::run(ServiceBuilder::new().layer(..).service(router))`.
pub use lambda_http;
pub use route::Route;
pub use router::HttpRouter;

/// An [`HttpRouter`] serving one service; add more with [`HttpRouter::route`].
///
/// ```
/// use fabric::prelude::*;
/// use fabric::http::{Method, Route};
///
/// #[derive(Deserialize, Input)]
/// struct Id { id: u64 }
///
/// #[fabric_service(alias = "user")]
/// async fn user(input: Id, _ctx: Context) -> Result<u64, Error> {
///     Ok(input.id)
/// }
///
/// // GET or POST /user
/// let _default = fabric_http(user);
/// // GET /users/42 → {"id": "42"} → 42
/// let _custom = fabric_http(Route::new(user).path("/users/:id").methods([Method::GET]));
/// ```
pub fn fabric_http(route: impl Into<Route>) -> HttpRouter {
    HttpRouter::new().route(route)
}
