//! [`Endpoint`]: a route that reads the request and writes the response itself, for
//! protocols with rules of their own (MCP's streamable HTTP), behind the router's
//! routing, CORS, authorization and setup.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response};

use super::HttpBody;
use crate::{Context, Error};

/// A handler of whole requests on a route of an [`HttpRouter`](super::HttpRouter)
/// ([`Route::endpoint`](super::Route::endpoint)). The router matches the path and
/// method, answers CORS preflights, runs the authorizer, sets up and checks the
/// unavailable switch, and reads the body (up to its limit); the endpoint gets the
/// request and the [`Context`] a service would get (request id, shared state, the
/// [`HttpRequest`](super::HttpRequest) and the authorizer's value as extensions),
/// and answers. The router adds CORS headers and `x-request-id` to its response;
/// on Lambda it goes out as the event's source expects.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fabric::http::{Endpoint, HttpBody, HttpRouter, Route};
/// use fabric::Context;
/// use futures_util::future::BoxFuture;
/// use http_body_util::BodyExt;
/// use tower_service::Service as _;
///
/// /// Says how long the body was.
/// struct Length;
///
/// impl Endpoint for Length {
///     fn name(&self) -> &str {
///         "length"
///     }
///     fn call(&self, request: http::Request<bytes::Bytes>, _ctx: Context) -> BoxFuture<'static, http::Response<HttpBody>> {
///         let length = request.body().len();
///         Box::pin(async move { http::Response::new(HttpBody::new(length.to_string())) })
///     }
/// }
///
/// let mut router = HttpRouter::new().route(Route::endpoint(Length));
/// let request = http::Request::post("/length").body(String::from("four")).unwrap();
/// let response = router.call(request).await.unwrap();
/// assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "4");
/// # })
/// ```
pub trait Endpoint: Send + Sync + 'static {
    /// The name in logs and route lists, and the default path (`/{name}`).
    fn name(&self) -> &str;

    /// Answers one request.
    fn call(&self, request: Request<Bytes>, ctx: Context)
    -> BoxFuture<'static, Response<HttpBody>>;
}

/// In the extensions of a request an [`Endpoint`] gets when the request came in a
/// Lambda event (API Gateway, a function URL, an ALB), not to the local server: the
/// endpoint may trust what AWS checked, such as the `Host` it routed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FromLambda;

/// The response Fabric's HTTP transport gives `err`: its status, the error
/// envelope as JSON (5xx details hidden with `scrub`), `WWW-Authenticate` on a
/// 401, and `Retry-After` when the error has a retry hint. For endpoints that
/// answer errors as services do.
///
/// ```
/// let response = fabric::http::error_response(&fabric::Error::forbidden("Not from here"), true);
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
pub fn error_response(err: &Error, scrub: bool) -> Response<HttpBody> {
    super::response::error_response(err, scrub)
}
