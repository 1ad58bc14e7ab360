//! One request, start to finish: route, authorize, read the input, call the
//! service, answer. The same code serves Lambda events and the local server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::header::{ACCEPT, ALLOW, CONTENT_TYPE, ORIGIN};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tracing::Instrument;

use super::body::{self, HttpBody, Opening};
use super::cors::method_list;
use super::encoding::StreamFormat;
use super::endpoint::FromLambda;
use super::event::{LambdaDetails, details_of};
use super::input;
use super::response::{error_response, result_response, status_of, stream_response};
use super::route::Target;
use super::router::{Config, HttpRouter, Matched, RouteEntry, allow_header};
use crate::layer::Transport;
use crate::metrics::{Invocation, Stream, function_name};
use crate::settings::Ready;
use crate::{BoxError, Context, Error, Output};

/// What a service learns about the HTTP request it serves:
/// `ctx.extension::<HttpRequest>()`.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::http::HttpRequest;
///
/// #[derive(Deserialize, Input)]
/// struct Nothing {}
///
/// #[fabric_service(alias = "agent")]
/// async fn agent(_input: Nothing, ctx: Context) -> Result<Option<String>, Error> {
///     let request = ctx.extension::<HttpRequest>().ok_or_else(|| Error::bad_request("HTTP only"))?;
///     Ok(request.headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned))
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The request method.
    pub method: Method,
    /// The path, without the API Gateway stage.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The caller's address, as API Gateway or the local server saw it.
    pub source_ip: Option<String>,
    /// On Lambda, what an API Gateway authorizer attached to the request: the JWT
    /// claims or the Lambda authorizer's context, as JSON.
    pub authorizer: Option<serde_json::Value>,
}

/// The address of a local server's peer, set by the local server on each request.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "local"), allow(dead_code))]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Serves one request. `details` are what a Lambda event said beyond the request;
/// without them they are looked for in the request's extensions, where
/// `lambda_http` puts its request context.
pub(super) async fn handle<B>(
    config: &Config,
    request: Request<B>,
    details: Option<LambdaDetails>,
) -> Response<HttpBody>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let details = details.or_else(|| details_of(&parts.extensions));
    let lambda_event = details.is_some();
    let from_lambda = details.unwrap_or_default();
    let request_id = from_lambda.request_id.unwrap_or_else(generate_request_id);
    let source_ip = from_lambda.source_ip.or_else(|| {
        parts
            .extensions
            .get::<PeerAddr>()
            .map(|peer| peer.0.ip().to_string())
    });
    let path = from_lambda
        .path
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let origin = parts.headers.get(ORIGIN).cloned();
    let span =
        tracing::info_span!("http", request_id = %request_id, method = %parts.method, path = %path);

    let mut response = async {
        if parts.method == Method::OPTIONS {
            return preflight(config, &path, origin.as_ref());
        }
        let from = Caller {
            request_id: &request_id,
            source_ip,
            authorizer: from_lambda.authorizer,
            lambda_event,
        };
        let mut response = serve(config, parts, body, path, from).await;
        if let Some(cors) = &config.cors {
            cors.apply(origin.as_ref(), response.headers_mut());
        }
        response
    }
    .instrument(span)
    .await;
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID, id);
    }
    response
}

/// An `OPTIONS` request: 204 with the path's methods, and the CORS preflight headers.
fn preflight(config: &Config, path: &str, origin: Option<&HeaderValue>) -> Response<HttpBody> {
    let methods = config.methods_on(path);
    if methods.is_empty() {
        return error_response(
            &not_found(&Method::OPTIONS, path),
            config.settings.scrub_errors(),
        );
    }
    let mut response = Response::new(HttpBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Some(cors) = &config.cors {
        cors.apply_preflight(origin, &methods, response.headers_mut());
    }
    response.headers_mut().insert(ALLOW, allow_header(methods));
    response
}

fn not_found(method: &Method, path: &str) -> Error {
    Error::not_found(format!("No route for {method} {path}"))
}

/// Who sent a request, as far as the transport knows.
struct Caller<'a> {
    request_id: &'a str,
    source_ip: Option<String>,
    authorizer: Option<serde_json::Value>,
    /// Whether the request came in a Lambda event, not to the local server.
    lambda_event: bool,
}

async fn serve<B>(
    config: &Config,
    parts: http::request::Parts,
    body: B,
    path: String,
    from: Caller<'_>,
) -> Response<HttpBody>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let scrub = config.settings.scrub_errors();
    let (route, params): (&RouteEntry, _) = match config.find(&parts.method, &path) {
        Matched::Route(route, params) => (route, params),
        Matched::Nothing => {
            let response = error_response(&not_found(&parts.method, &path), scrub);
            return unrouted(config, from.request_id, response);
        }
        Matched::OtherMethods(methods) => {
            let declared = method_list(&methods);
            let err = Error::method_not_allowed(format!(
                "Method {} is not allowed on {path}; allowed: {}",
                parts.method,
                declared.to_str().unwrap_or_default()
            ));
            let mut response = error_response(&err, scrub);
            response.headers_mut().insert(ALLOW, allow_header(methods));
            return unrouted(config, from.request_id, response);
        }
    };

    let ready = match config.settings.ready().await {
        Ok(ready) => ready,
        Err(err) => {
            tracing::error!(error = %err, "setup failed");
            let error = Error::internal_message(format!("setup failed: {err}"));
            return error_response(&error, scrub);
        }
    };
    // An endpoint is a transport of its own (MCP) and counts its own calls.
    let invocation = match (&route.target, ready.metrics()) {
        (Target::Service(service), Some(metrics)) => Some(
            Invocation::start(metrics, service.alias(), "http", from.request_id)
                .dimension("route", format!("{} {}", parts.method, route.path)),
        ),
        _ => None,
    };
    // What ends before the service runs is counted as it is answered.
    let refused = |invocation: Option<Invocation>, response: Response<HttpBody>| {
        if let Some(invocation) = invocation {
            invocation.end(response.status().as_u16(), true, Stream::Stdout);
        }
        response
    };
    if ready.unavailable() {
        return refused(
            invocation,
            error_response(&Ready::unavailable_error(), scrub),
        );
    }
    let mut ctx = Context::builder(from.request_id).state(ready.state().clone());
    if let Some(authorizer) = &config.authorizer {
        match authorizer.check(&parts.headers).await {
            Ok(grant) => ctx = grant(ctx),
            Err(err) => return refused(invocation, error_response(&err, scrub)),
        }
    }
    let service = match &route.target {
        Target::Service(service) => service,
        Target::Endpoint(endpoint) => {
            let bytes = match read_body(body, config.body_limit).await {
                Ok(bytes) => bytes,
                Err(err) => return error_response(&err, scrub),
            };
            if let Some(metrics) = ready.metrics() {
                ctx = ctx.extension(metrics.clone());
            }
            let ctx = ctx
                .extension(HttpRequest {
                    method: parts.method.clone(),
                    path,
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers.clone(),
                    source_ip: from.source_ip,
                    authorizer: from.authorizer,
                })
                .build();
            let mut request = Request::from_parts(parts, bytes);
            if from.lambda_event {
                request.extensions_mut().insert(FromLambda);
            }
            return endpoint.call(request, ctx).await;
        }
    };
    let raw = match read_body(body, config.body_limit).await.and_then(|bytes| {
        input::raw_input(
            parts.uri.query(),
            &params,
            parts.headers.get(CONTENT_TYPE),
            &bytes,
        )
    }) {
        Ok(raw) => raw,
        Err(err) => return refused(invocation, error_response(&err, scrub)),
    };

    let stream = StreamFormat::from_accept(parts.headers.get(ACCEPT));
    let messages = stream.map(|_| {
        let (sink, messages) = body::channel();
        ctx = std::mem::replace(&mut ctx, Context::builder("")).sink(sink);
        messages
    });
    if let Some(invocation) = &invocation {
        ctx = ctx.extension(invocation.metrics.clone());
    }
    let method = parts.method.clone();
    let ctx = ctx
        .extension(HttpRequest {
            method: parts.method,
            path,
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            source_ip: from.source_ip,
            authorizer: from.authorizer,
        })
        .build();
    let call = counted(
        config.settings.layers().call(
            service,
            format_args!("{method} {}", route.path),
            Transport::Http,
            raw,
            ctx,
        ),
        invocation,
    );
    match (stream, messages) {
        (Some(format), Some(messages)) => {
            match body::open(Box::pin(call), messages, format, scrub).await {
                Opening::Finished(result) => {
                    let status = match &result {
                        Ok(_) => StatusCode::OK,
                        Err(err) => status_of(err),
                    };
                    let body = HttpBody::full(format.result(&result, scrub));
                    stream_response(status, format, body)
                }
                Opening::Streaming(body) => stream_response(StatusCode::OK, format, body),
            }
        }
        _ => result_response(call.await, scrub),
    }
}

/// The service's call, its invocation counted when it ends: with the result, or
/// with the stream's end when the answer streams.
async fn counted(
    call: impl Future<Output = Result<Output, Error>>,
    invocation: Option<Invocation>,
) -> Result<Output, Error> {
    let result = call.await;
    if let Some(invocation) = invocation {
        let status = match &result {
            Ok(_) => 200,
            Err(err) => err.status(),
        };
        invocation.end(status, true, Stream::Stdout);
    }
    result
}

/// A request no route takes still counts, once the router is set up (its metrics
/// known): under the function's name, with the route `unmatched`.
fn unrouted(config: &Config, request_id: &str, response: Response<HttpBody>) -> Response<HttpBody> {
    if let Some(metrics) = config.settings.ready_now().and_then(Ready::metrics) {
        Invocation::start(metrics, function_name(), "http", request_id)
            .dimension("route", "unmatched")
            .end(response.status().as_u16(), false, Stream::Stdout);
    }
    response
}

/// Reads the whole body, up to `limit` bytes.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    if body.size_hint().exact() == Some(0) {
        return Ok(Bytes::new());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(Error::payload_too_large(
            format!("The body is larger than the limit of {limit} bytes"),
        )),
        Err(err) => Err(Error::bad_request(format!(
            "Could not read the body: {err}"
        ))),
    }
}

impl<B> tower_service::Service<Request<B>> for HttpRouter
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<crate::BoxError>,
{
    type Response = Response<HttpBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<HttpBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = self.config.clone();
        Box::pin(async move { Ok(handle(&config, request, None).await) })
    }
}

/// A request id for requests that do not come with one: a per-process random prefix
/// and a counter, so unique in the process and unlikely to repeat across processes.
fn generate_request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::OnceLock;

    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded by the OS.
    let prefix = *PREFIX.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}-{count:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_request_ids_do_not_repeat() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| generate_request_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
