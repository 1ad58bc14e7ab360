//! The fourth transport: services as the tools of a Model Context Protocol server,
//! built on `rmcp`, the official Rust SDK.
//!
//! ```no_run
//! use fabric::prelude::*;
//! use fabric::mcp::fabric_mcp;
//!
//! /// Two numbers to divide.
//! #[derive(Deserialize, Validate, Input)]
//! struct Division {
//!     /// The number to divide
//!     numerator: f64,
//!     /// The number to divide by
//!     denominator: f64,
//! }
//!
//! #[fabric_service(alias = "division", description = "Divide two numbers", read_only)]
//! async fn division(input: Division, _ctx: Context) -> Result<f64, Error> {
//!     Ok(input.numerator / input.denominator)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), fabric::BoxError> {
//!     // stdio with no arguments (as MCP clients launch it), `--http` for
//!     // http://127.0.0.1:3000/mcp, and function URL events on Lambda.
//!     fabric::run(fabric_mcp(division).name("division").version(env!("CARGO_PKG_VERSION"))).await
//! }
//! ```
//!
//! # Tools
//!
//! Each service is a tool named by its alias, with its description, the
//! [input schema validation uses](crate::Service::input_schema) as `inputSchema` (no
//! second schema), an `outputSchema` where the result's type is known (see
//! [`crate::tools`] for how results become structured content), and annotations
//! from the service's [hints](crate::service::Hints). A call runs the service's
//! pipeline — coercion, validation, the call inside `catch_panic` — and answers with
//! `structuredContent` and its JSON text. What the service rejects (a missing
//! field, a bad value, a 5xx with its detail scrubbed, a panic) is a result with
//! `isError: true` carrying the error envelope's field-level messages, as the spec
//! asks for input errors; the server keeps serving. An unknown tool is a JSON-RPC
//! error (`-32602`).
//!
//! # Messages
//!
//! `ctx.send_message(..)` is a `notifications/progress` (the message as its
//! `message`) when the call carries a `progressToken`, and a `notifications/message`
//! at `info` when the client asked for logs at that level (`logging/setLevel`, or
//! the request's own log level). Over HTTP such a call is answered as server-sent
//! events; otherwise as one JSON response.
//!
//! # Transports
//!
//! - **stdio**: [`McpServer::serve_stdio`], what `fabric::run` does off Lambda with
//!   no arguments: the binary an MCP client launches. Logs go to stderr.
//! - **Streamable HTTP, stateless**: [`McpServer::router`] is an
//!   [`HttpRouter`] with the endpoint at `/mcp`: `POST` answers with JSON (or SSE,
//!   above); `GET` and `DELETE` are 405 (no streams, no sessions); `OPTIONS` answers
//!   CORS preflights (allowing MCP's headers); a client that does not accept both
//!   `application/json` and `text/event-stream` gets 406, a body that is not
//!   `application/json` 415. `Host` and `Origin` are checked against DNS rebinding:
//!   locally only loopback names and pages pass, on Lambda the deployed domain and its
//!   pages, plus what [`allowed_hosts`](McpServer::allowed_hosts) and
//!   [`allowed_origins`](McpServer::allowed_origins) add; others get 403. With
//!   `--http`, `fabric::run` serves it on `127.0.0.1` (`--port`, `FABRIC_PORT`,
//!   default 3000) until Ctrl-C; on Lambda it answers function URL events (in
//!   response streaming mode, so progress arrives as it is sent) and, in an app's
//!   HTTP API, API Gateway's.

mod handler;
mod http;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use self::handler::{Identity, ToolServer};
use self::http::{Allowed, McpEndpoint};
use crate::http::{Cors, HttpRouter, Method, Route};
use crate::settings::{AdapterSettings, adapter_settings_methods};
use crate::tools::Tools;
use crate::{BoxError, Service};

/// The request headers MCP clients send, which a browser must be allowed to send.
const MCP_HEADERS: [&str; 8] = [
    "authorization",
    "content-type",
    "accept",
    "mcp-protocol-version",
    "mcp-session-id",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// The default log filter of an MCP server: rmcp's own lines (one per session,
/// which over stateless HTTP is every request) only when something is wrong.
pub(crate) const LOG_FILTER: &str = "info,rmcp=warn";

/// A Model Context Protocol server of services; see the [module](self).
///
/// ```
/// use fabric::prelude::*;
/// use fabric::mcp::fabric_mcp;
/// # #[derive(Deserialize, Input)] struct In { text: String }
/// # #[fabric_service(alias = "echo")] async fn echo(i: In, _c: Context) -> Result<String, Error> { Ok(i.text) }
/// # #[fabric_service(alias = "shout")] async fn shout(i: In, _c: Context) -> Result<String, Error> { Ok(i.text.to_uppercase()) }
/// let server = fabric_mcp(echo)
///     .tool(shout)
///     .name("words")
///     .version("1.2.0")
///     .instructions("Tools that repeat what you say")
///     .allowed_origins(["https://app.example.com"]);
/// assert_eq!(server.tools().services().len(), 2);
/// assert_eq!(server.router().routes(), ["POST /mcp → mcp"]);
/// ```
#[derive(Clone)]
pub struct McpServer {
    tools: Tools,
    settings: AdapterSettings,
    identity: Identity,
    path: String,
    allowed: Allowed,
    lambda_streaming: bool,
}

adapter_settings_methods!(McpServer, "fabric::mcp::fabric_mcp(svc)");

/// An MCP server of one service or of [`Tools`]; add more with
/// [`McpServer::tool`].
///
/// ```
/// use fabric::prelude::*;
/// use fabric::mcp::fabric_mcp;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service(alias = "ping")] async fn ping(_i: In, _c: Context) -> Result<&'static str, Error> { Ok("pong") }
/// let server = fabric_mcp(ping);
/// assert_eq!(server.tools().services()[0].alias(), "ping");
/// ```
pub fn fabric_mcp(tools: impl Into<Tools>) -> McpServer {
    let settings = AdapterSettings::new(true);
    McpServer {
        // The adapter's scrubbing rules, as on every adapter.
        tools: tools.into().scrub_errors(settings.scrub_errors()),
        settings,
        identity: Identity {
            name: crate::env::program_name(std::env::args_os().next().as_deref()),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            instructions: None,
        },
        path: "/mcp".to_owned(),
        allowed: Allowed::default(),
        lambda_streaming: true,
    }
}

impl McpServer {
    fn with_settings(mut self, change: impl FnOnce(AdapterSettings) -> AdapterSettings) -> Self {
        self.settings = change(self.settings);
        self.tools = self
            .tools
            .scrub_errors(self.settings.scrub_errors())
            .served_through(self.settings.layers(), crate::layer::Transport::Mcp);
        self
    }

    /// Adds a service as a tool.
    ///
    /// # Panics
    ///
    /// When a tool already has its alias.
    pub fn tool(mut self, service: impl Service) -> McpServer {
        self.tools = self.tools.service(service);
        self
    }

    /// The name the server gives at `initialize` (default: the binary's name).
    pub fn name(mut self, name: impl Into<String>) -> McpServer {
        self.identity.name = name.into();
        self
    }

    /// The version the server gives at `initialize` (default: Fabric's; pass
    /// `env!("CARGO_PKG_VERSION")` for your own).
    pub fn version(mut self, version: impl Into<String>) -> McpServer {
        self.identity.version = version.into();
        self
    }

    /// What the server tells clients about using its tools, at `initialize`.
    pub fn instructions(mut self, instructions: impl Into<String>) -> McpServer {
        self.identity.instructions = Some(instructions.into());
        self
    }

    /// The HTTP path of the endpoint (default `/mcp`).
    ///
    /// # Panics
    ///
    /// When the path does not start with `/`.
    pub fn path(mut self, path: impl Into<String>) -> McpServer {
        let path = path.into();
        assert!(
            path.starts_with('/'),
            "an MCP path must start with `/`, got {path:?}"
        );
        self.path = path;
        self
    }

    /// Host names (or `host:port`) the local HTTP server answers to besides
    /// `localhost`, `127.0.0.1` and `[::1]`: a name a proxy in front of it uses.
    /// Other hosts get 403, against DNS rebinding. On Lambda the deployed domain is
    /// always allowed.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> McpServer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed.hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Browser origins (`https://app.example.com`) allowed to call the server
    /// besides its own (loopback pages locally, the deployed domain's on Lambda).
    /// Requests from other origins get 403.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> McpServer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed
            .origins
            .extend(origins.into_iter().map(Into::into));
        self
    }

    /// On Lambda, answers in the response streaming mode of function URLs (the
    /// default), so progress notifications arrive as they are sent. Turn it off
    /// for a server behind API Gateway (an app's HTTP API), which cannot stream.
    pub fn lambda_streaming(mut self, stream: bool) -> McpServer {
        self.lambda_streaming = stream;
        self
    }

    /// The tools it serves.
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// The settings shared with the other adapters.
    pub fn settings(&self) -> &AdapterSettings {
        &self.settings
    }

    /// The streamable HTTP endpoint, as an HTTP router: what the server is on
    /// Lambda and with `--http`, and what it deploys as. Its settings (state,
    /// setup, scrubbing) are the server's.
    pub fn router(&self) -> HttpRouter {
        let server = ToolServer::new(
            Arc::new(self.tools.clone()),
            Arc::new(self.identity.clone()),
        );
        let endpoint = McpEndpoint::new(server, self.allowed.clone(), self.settings.scrub_errors());
        let settings = self.settings.clone();
        HttpRouter::new()
            .route(
                Route::endpoint(endpoint)
                    .path(self.path.clone())
                    .methods([Method::POST]),
            )
            .cors(Cors::new().allow_headers(MCP_HEADERS).expose_headers([
                "mcp-session-id",
                "mcp-protocol-version",
                "x-request-id",
            ]))
            .lambda_streaming(self.lambda_streaming)
            .with_settings(|_| settings)
    }

    /// Serves MCP over this process's stdin and stdout until the client closes
    /// them: the binary an MCP client launches. Sets up first, so a broken setup
    /// fails the start.
    pub async fn serve_stdio(self) -> Result<(), BoxError> {
        self.serve_io(tokio::io::stdin(), tokio::io::stdout()).await
    }

    /// Serves MCP over any reader and writer (newline-delimited JSON-RPC, as on
    /// stdio) until the reader ends: for tests and pipes.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use fabric::prelude::*;
    /// use fabric::mcp::fabric_mcp;
    /// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service(alias = "ping")] async fn ping(_i: In, _c: Context) -> Result<&'static str, Error> { Ok("pong") }
    ///
    /// let (client, server) = tokio::io::duplex(4096);
    /// let (server_in, server_out) = tokio::io::split(server);
    /// tokio::spawn(fabric_mcp(ping).serve_io(server_in, server_out));
    /// let (client_in, mut client_out) = tokio::io::split(client);
    /// client_out.write_all(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
    /// "#).await.unwrap();
    /// let mut lines = BufReader::new(client_in).lines();
    /// let answer: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    /// assert_eq!(answer["result"]["protocolVersion"], "2025-06-18");
    /// # })
    /// ```
    pub async fn serve_io<R, W>(self, reader: R, writer: W) -> Result<(), BoxError>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        crate::logging::init_with(LOG_FILTER);
        let ready = self.settings.ready().await?;
        let mut server = ToolServer::new(Arc::new(self.tools), Arc::new(self.identity));
        server.state = ready.state().clone();
        server.unavailable = ready.unavailable();
        server.metrics = ready.metrics().cloned();
        let running = rmcp::serve_server(server, (reader, writer)).await?;
        running.waiting().await?;
        Ok(())
    }

    /// Serves Lambda invocations (function URL and API Gateway events) until the
    /// process is stopped: what [`fabric::run`](crate::run) does on Lambda.
    pub async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::logging::init_with(LOG_FILTER);
        self.router().serve_lambda().await
    }
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("tools", &self.tools)
            .field("name", &self.identity.name)
            .field("version", &self.identity.version)
            .field("path", &self.path)
            .field("allowed", &self.allowed)
            .field("lambda_streaming", &self.lambda_streaming)
            .field("settings", &self.settings)
            .finish()
    }
}
