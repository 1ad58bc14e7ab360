//! Streamable HTTP, stateless: each POST is one exchange, answered as JSON (or as
//! server-sent events when the call sends notifications first) by rmcp's server;
//! no sessions, so GET streams and DELETE are 405s from the router. Before rmcp
//! sees a request, the `Host` and `Origin` are checked against DNS rebinding, as
//! the spec asks of every server.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{HOST, ORIGIN};
use http::{Request, Response};
use http_body_util::Full;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::handler::ToolServer;
use crate::http::{Endpoint, FromLambda, HttpBody, error_response};
use crate::{Context, Error};

/// Which hosts and browser origins may reach the endpoint.
#[derive(Debug, Clone, Default)]
pub(super) struct Allowed {
    /// Host names (or `host:port`) besides loopback, for the local server.
    pub(super) hosts: Vec<String>,
    /// Origins (`https://app.example.com`) besides loopback and the server's own.
    pub(super) origins: Vec<String>,
}

/// The MCP endpoint of the router `McpServer::router` builds.
pub(super) struct McpEndpoint {
    service: StreamableHttpService<ToolServer, NeverSessionManager>,
    allowed: Allowed,
    scrub: bool,
}

impl McpEndpoint {
    pub(super) fn new(server: ToolServer, allowed: Allowed, scrub: bool) -> McpEndpoint {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            // Checked here, with the deployed domain known; the router limits bodies.
            .disable_allowed_hosts()
            .disable_allowed_origins()
            .with_max_request_body_bytes(usize::MAX);
        // A fresh handler per request: a stateless server keeps nothing between them.
        let service = StreamableHttpService::new(
            move || Ok(server.fresh()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        McpEndpoint {
            service,
            allowed,
            scrub,
        }
    }
}

impl Endpoint for McpEndpoint {
    fn name(&self) -> &str {
        "mcp"
    }

    fn call(
        &self,
        request: Request<Bytes>,
        ctx: Context,
    ) -> BoxFuture<'static, Response<HttpBody>> {
        if let Err(err) = check_host_and_origin(
            &request,
            &self.allowed,
            request.extensions().get::<FromLambda>().is_some(),
        ) {
            let response = error_response(&err, self.scrub);
            return Box::pin(async move { response });
        }
        if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(request.body()) {
            return Box::pin(async move { parse_error(&err) });
        }
        let service = self.service.clone();
        let (mut parts, body) = request.into_parts();
        // rmcp hands the request's parts to the tool call: the call's context
        // starts from the router's (state, the authorizer's value, the request).
        parts.extensions.insert(ctx);
        let request = Request::from_parts(parts, Full::new(body));
        Box::pin(async move { service.handle(request).await.map(HttpBody::from_body) })
    }
}

/// JSON-RPC's answer to a body that is not JSON: a 400 with a parse error (-32700),
/// which has no request id to answer.
fn parse_error(err: &serde_json::Error) -> Response<HttpBody> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32700, "message": format!("Parse error: {err}") },
    });
    let mut response = Response::new(HttpBody::new(body.to_string()));
    *response.status_mut() = http::StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Loopback names, which a DNS rebinding attack cannot point a browser's `Host` at
/// for a page of another origin.
fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// `host` without its port (`[::1]:3000` is `[::1]`).
fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// A 403 for a `Host` the server does not answer to, or a browser `Origin` it does
/// not serve. On Lambda the host is the deployed domain (the function URL's, the
/// API's, or a custom one): AWS routed the request by it.
fn check_host_and_origin(
    request: &Request<Bytes>,
    allowed: &Allowed,
    on_lambda: bool,
) -> Result<(), Error> {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .map(|host| host.trim().to_ascii_lowercase());
    if let (Some(host), false) = (&host, on_lambda) {
        let listed = allowed.hosts.iter().any(|name| {
            name.eq_ignore_ascii_case(host) || name.eq_ignore_ascii_case(without_port(host))
        });
        if !is_loopback(without_port(host)) && !listed {
            return Err(Error::forbidden(format!(
                "Host `{host}` is not allowed: this MCP server answers to localhost (add other names with McpServer::allowed_hosts)"
            )));
        }
    }
    let Some(origin) = request.headers().get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.to_ascii_lowercase());
    let own = match (&origin_host, &host) {
        // Locally every loopback origin is the developer's own; on AWS, the
        // deployed domain's.
        (Some(origin_host), _) if !on_lambda && is_loopback(without_port(origin_host)) => true,
        (Some(origin_host), Some(host)) => on_lambda && origin_host == host,
        _ => false,
    };
    if own
        || allowed
            .origins
            .iter()
            .any(|listed| listed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "Origin `{origin}` is not allowed to call this MCP server (allow it with McpServer::allowed_origins)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: Option<&str>, origin: Option<&str>) -> Request<Bytes> {
        let mut builder = Request::post("/mcp");
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        if let Some(origin) = origin {
            builder = builder.header(ORIGIN, origin);
        }
        builder.body(Bytes::new()).unwrap()
    }

    #[test]
    fn locally_only_loopback_hosts_and_origins_pass_unless_listed() {
        let none = Allowed::default();
        for host in [
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:8080",
            "[::1]:3000",
        ] {
            assert!(
                check_host_and_origin(&request(Some(host), None), &none, false).is_ok(),
                "{host}"
            );
        }
        let rebound =
            check_host_and_origin(&request(Some("evil.example:3000"), None), &none, false);
        assert_eq!(rebound.unwrap_err().status(), 403);
        let page = request(Some("127.0.0.1:3000"), Some("https://evil.example"));
        assert_eq!(
            check_host_and_origin(&page, &none, false)
                .unwrap_err()
                .status(),
            403
        );
        let inspector = request(Some("127.0.0.1:3000"), Some("http://localhost:6274"));
        assert!(check_host_and_origin(&inspector, &none, false).is_ok());

        let listed = Allowed {
            hosts: vec!["tools.internal".into()],
            origins: vec!["https://app.example.com/".into()],
        };
        let proxied = request(Some("tools.internal:8443"), Some("https://app.example.com"));
        assert!(check_host_and_origin(&proxied, &listed, false).is_ok());
    }

    #[test]
    fn on_lambda_the_deployed_domain_and_its_pages_pass() {
        let none = Allowed::default();
        let domain = "abc123.lambda-url.eu-west-1.on.aws";
        assert!(check_host_and_origin(&request(Some(domain), None), &none, true).is_ok());
        let own_page = request(Some(domain), Some(&format!("https://{domain}")));
        assert!(check_host_and_origin(&own_page, &none, true).is_ok());
        let other = request(Some(domain), Some("https://evil.example"));
        assert_eq!(
            check_host_and_origin(&other, &none, true)
                .unwrap_err()
                .status(),
            403
        );
        // Loopback pages are not the deployed server's.
        let local_page = request(Some(domain), Some("http://localhost:5173"));
        assert!(check_host_and_origin(&local_page, &none, true).is_err());
    }
}
