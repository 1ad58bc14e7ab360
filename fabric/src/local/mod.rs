//! Off Lambda: the local gateway, which serves a WebSocket adapter on a laptop as
//! API Gateway would serve it (DESIGN.md §5).
//!
//! [`fabric::run`](crate::run) starts it when the process is not on Lambda, with
//! `--port` / `FABRIC_PORT` (default 3001) and the settings below; [`Gateway`] starts
//! one from code, for tests and embedding.
//!
//! On one port (`127.0.0.1` only) it serves:
//!
//! - WebSocket upgrades at `/` and `/{stage}`: `$connect` runs first and a non-2xx
//!   answer refuses the handshake with that status; each text frame is a MESSAGE
//!   event routed by the adapter's route selection expression; every close,
//!   whatever its cause, is a `$disconnect` event with the close code and reason;
//! - the Management API at `/@connections/{id}` and `/{stage}/@connections/{id}`,
//!   as the AWS SDKs expect it (the adapter's own posts come back here through the
//!   real SDK client, because events name the gateway as their `domainName`);
//! - a small page at `/` for a browser.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `FABRIC_PORT` | 3001 | or `--port` |
//! | `FABRIC_STAGE` | `local` | the stage in URLs and events |
//! | `FABRIC_IDLE_TIMEOUT` | 600 | seconds without a message before closing (1001) |
//! | `FABRIC_MAX_LIFETIME` | 7200 | seconds before any connection is closed (1001) |
//! | `FABRIC_INTEGRATION_TIMEOUT` | 29 | seconds an event may take |

mod connections;
mod events;
mod gateway;
mod management;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::BoxError;
use crate::runtime::{LocalArgs, stop_signal};
use crate::websocket::WebSocketAdapter;
pub use gateway::{MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};

/// The page served at `/` when the adapter sets none: a WebSocket console.
///
/// ```
/// assert!(fabric::local::CONSOLE_PAGE.contains("WebSocket console"));
/// ```
pub const CONSOLE_PAGE: &str = include_str!("page.html");

/// The default port of the local gateway.
///
/// ```
/// assert_eq!(fabric::local::DEFAULT_PORT, 3001);
/// ```
pub const DEFAULT_PORT: u16 = 3001;

/// A local gateway for one WebSocket adapter, before it listens.
///
/// ```
/// use fabric::local::Gateway;
/// use fabric::prelude::*;
/// use fabric::websocket::fabric_websocket;
/// use std::time::Duration;
///
/// #[derive(Deserialize, Input)]
/// struct Ping { text: String }
///
/// #[fabric_service]
/// async fn ping(input: Ping, _ctx: Context) -> Result<String, Error> { Ok(input.text) }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let gateway = Gateway::new(fabric_websocket(ping).two_way(true))
///     .stage("dev")
///     .idle_timeout(Duration::from_secs(30))
///     .bind("127.0.0.1:0")
///     .await
///     .unwrap();
/// assert!(gateway.ws_url().starts_with("ws://127.0.0.1:"));
/// assert!(gateway.management_url().ends_with("/dev"));
/// gateway.shutdown().await;
/// # })
/// ```
pub struct Gateway {
    adapter: WebSocketAdapter,
    stage: String,
    idle_timeout: Duration,
    max_lifetime: Duration,
    integration_timeout: Duration,
    shutdown_grace: Duration,
    verbose: bool,
}

impl Gateway {
    /// A gateway for `adapter` with API Gateway's settings: stage `local`, 10 minute
    /// idle timeout, 2 hour connections, 29 second integration timeout.
    pub fn new(adapter: WebSocketAdapter) -> Gateway {
        Gateway {
            adapter,
            stage: "local".to_owned(),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(7200),
            integration_timeout: Duration::from_secs(29),
            shutdown_grace: Duration::from_secs(10),
            verbose: false,
        }
    }

    /// A gateway with the settings of `FABRIC_STAGE`, `FABRIC_IDLE_TIMEOUT`,
    /// `FABRIC_MAX_LIFETIME` and `FABRIC_INTEGRATION_TIMEOUT` (seconds), where set.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let gateway = fabric::local::Gateway::from_env(fabric::fabric_websocket(svc)).unwrap();
    /// # let _ = gateway;
    /// ```
    pub fn from_env(adapter: WebSocketAdapter) -> Result<Gateway, BoxError> {
        let mut gateway = Gateway::new(adapter);
        if let Some(stage) = env("FABRIC_STAGE") {
            gateway.stage = stage;
        }
        check_stage(&gateway.stage)?;
        let seconds = |name: &str| -> Result<Option<Duration>, BoxError> {
            env(name)
                .map(|text| {
                    text.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| format!("{name} must be a number of seconds, got `{text}`"))
                })
                .transpose()
                .map_err(Into::into)
        };
        if let Some(idle) = seconds("FABRIC_IDLE_TIMEOUT")? {
            gateway.idle_timeout = idle;
        }
        if let Some(lifetime) = seconds("FABRIC_MAX_LIFETIME")? {
            gateway.max_lifetime = lifetime;
        }
        if let Some(timeout) = seconds("FABRIC_INTEGRATION_TIMEOUT")? {
            gateway.integration_timeout = timeout;
        }
        Ok(gateway)
    }

    /// The stage: in the URLs (`/{stage}`, `/{stage}/@connections/{id}`) and in
    /// every event. Letters, digits, `-` and `_`.
    pub fn stage(mut self, stage: impl Into<String>) -> Gateway {
        self.stage = stage.into();
        self
    }

    /// How long a connection may go without a message, either way, before it is
    /// closed with 1001.
    pub fn idle_timeout(mut self, timeout: Duration) -> Gateway {
        self.idle_timeout = timeout;
        self
    }

    /// How long any connection may last before it is closed with 1001.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Gateway {
        self.max_lifetime = lifetime;
        self
    }

    /// How long an event may take before the client is told
    /// `Endpoint request timed out`.
    pub fn integration_timeout(mut self, timeout: Duration) -> Gateway {
        self.integration_timeout = timeout;
        self
    }

    /// How long [`RunningGateway::shutdown`] waits for connections to close and their
    /// `$disconnect` events to finish (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Gateway {
        self.shutdown_grace = grace;
        self
    }

    /// Logs each event's JSON as well as its line.
    pub fn verbose(mut self, verbose: bool) -> Gateway {
        self.verbose = verbose;
        self
    }

    /// Listens on `addr` and serves until [`RunningGateway::shutdown`]. Port 0 picks
    /// a free port.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> std::io::Result<RunningGateway> {
        check_stage(&self.stage)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let page = self.adapter.page().unwrap_or(CONSOLE_PAGE);
        let api = events::Api {
            domain_name: gateway::domain_name(addr),
            stage: self.stage,
            api_id: "local".to_owned(),
        };
        let settings = gateway::Settings {
            idle_timeout: self.idle_timeout,
            max_lifetime: self.max_lifetime,
            integration_timeout: self.integration_timeout,
            verbose: self.verbose,
        };
        let shared = Arc::new(gateway::Shared::new(
            self.adapter,
            api,
            addr.port(),
            settings,
            page,
        ));
        let connections = get(management::get)
            .post(management::post)
            .delete(management::delete);
        let app = Router::new()
            .route("/", get(gateway::root))
            .route("/{stage}", get(gateway::staged))
            .route("/@connections/{id}", connections.clone())
            .route("/{stage}/@connections/{id}", connections)
            .fallback(|| async { gateway::forbidden() })
            // Larger posts are read only to be refused with API Gateway's 413.
            .layer(DefaultBodyLimit::max(4 * MAX_MESSAGE_BYTES))
            .with_state(shared.clone());
        let stopped = CancellationToken::new();
        let stop = stopped.clone();
        // Small frames are the whole traffic: Nagle's delay would dominate latency.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        });
        Ok(RunningGateway {
            addr,
            shared,
            stopped,
            server,
            shutdown_grace: self.shutdown_grace,
        })
    }
}

/// A gateway that is listening. Dropping it leaves it running until the runtime
/// ends; [`shutdown`](RunningGateway::shutdown) closes every connection first.
///
/// ```
/// use fabric::local::Gateway;
/// use fabric::prelude::*;
/// use fabric::websocket::{ManagementApi, ManagementError, SdkManagementApi};
///
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let gateway = Gateway::new(fabric_websocket(svc)).bind("127.0.0.1:0").await.unwrap();
/// // The real SDK client talks to it as to API Gateway.
/// let api = SdkManagementApi::new(&gateway.management_url());
/// assert_eq!(api.get("Bq7ZkfvLIAMCLbQ=").await, Err(ManagementError::Gone));
/// assert_eq!(gateway.connection_count(), 0);
/// gateway.shutdown().await;
/// # })
/// ```
pub struct RunningGateway {
    addr: SocketAddr,
    shared: Arc<gateway::Shared>,
    stopped: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    shutdown_grace: Duration,
}

impl RunningGateway {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:{port}`: where clients connect.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.shared.api.domain_name)
    }

    /// `http://127.0.0.1:{port}/{stage}`: the Management API endpoint, for
    /// `SdkManagementApi::new` or `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`.
    pub fn management_url(&self) -> String {
        format!(
            "http://{}/{}",
            self.shared.api.domain_name, self.shared.api.stage
        )
    }

    /// `http://127.0.0.1:{port}/`: the page for a browser.
    pub fn page_url(&self) -> String {
        format!("http://{}/", self.shared.api.domain_name)
    }

    /// The stage.
    pub fn stage(&self) -> &str {
        &self.shared.api.stage
    }

    /// How many connections are open or inside `$connect`.
    pub fn connection_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// Stops the gateway as API Gateway would stop serving: no new connections,
    /// every open one closed with 1001 `Going away` and its `$disconnect` run
    /// (the Management API keeps answering meanwhile, for hooks that post), then
    /// the listener closes.
    pub async fn shutdown(self) {
        let shared = &self.shared;
        shared.closing.cancel();
        shared.sessions.close();
        if tokio::time::timeout(self.shutdown_grace, shared.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                target: "fabric::local",
                open = shared.registry.len(),
                "some connections did not finish closing in time"
            );
        }
        self.stopped.cancel();
        let _ = self.server.await;
    }
}

/// Serves a WebSocket adapter on the local gateway until Ctrl-C: what
/// [`fabric::run`](crate::run) does off Lambda. Reads `--port`/`--verbose` from the
/// command line and the `FABRIC_*` settings from the environment; a port in use or
/// a bad setting is one line on stderr and exit status 1.
///
/// ```no_run
/// # use fabric::prelude::*;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// #[tokio::main]
/// async fn main() -> Result<(), fabric::BoxError> {
///     // The same as `fabric::run(fabric_websocket(svc))` off Lambda.
///     fabric::local::serve_websocket(fabric_websocket(svc)).await
/// }
/// ```
pub async fn serve_websocket(adapter: WebSocketAdapter) -> Result<(), BoxError> {
    let args = LocalArgs::from_env(DEFAULT_PORT);
    crate::runtime::init_logging_with("info,fabric::websocket::adapter=warn");
    // A broken setup fails at start, as a Lambda cold start would.
    adapter.ready().await?;
    let gateway = Gateway::from_env(adapter)
        .unwrap_or_else(|err| exit_with(&err.to_string()))
        .verbose(args.verbose);
    let running = match gateway.bind(("127.0.0.1", args.port)).await {
        Ok(running) => running,
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => exit_with(&format!(
            "port {} is in use: stop the other process or pass --port / FABRIC_PORT",
            args.port
        )),
        Err(err) => exit_with(&format!("cannot listen on port {}: {err}", args.port)),
    };
    warn_if_posts_go_elsewhere(&running);
    let stopped = stop_signal();
    println!(
        "Fabric local gateway ready: {} (management API {}, page {}); Ctrl-C stops it",
        running.ws_url(),
        running.management_url(),
        running.page_url()
    );
    stopped.await;
    tracing::info!(
        target: "fabric::local",
        "stopping: closing {} connection(s)",
        running.connection_count()
    );
    tokio::select! {
        () = running.shutdown() => Ok(()),
        () = stop_signal() => exit_with("stopped at a second Ctrl-C, without waiting for $disconnect"),
    }
}

/// The environment can send the service's posts past this gateway (a Management
/// API endpoint variable set for another tool); say so, since nothing would reach
/// the clients.
fn warn_if_posts_go_elsewhere(running: &RunningGateway) {
    let rules = crate::websocket::EndpointRules::from_env();
    let api = &running.shared.api;
    if let Ok(endpoint) = rules.resolve(&api.domain_name, &api.stage, &api.api_id) {
        if endpoint != running.management_url() {
            tracing::warn!(
                target: "fabric::local",
                "the service posts to {endpoint} (FABRIC_MANAGEMENT_ENDPOINT or AWS_ENDPOINT_URL*), not to this gateway"
            );
        }
    }
}

/// A setup error a person can act on: one line, no backtrace, exit status 1.
fn exit_with(message: &str) -> ! {
    eprintln!("fabric: {message}");
    std::process::exit(1)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn check_stage(stage: &str) -> Result<(), BoxError> {
    let valid = !stage.is_empty()
        && stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!("the stage `{stage}` must be letters, digits, `-` and `_`").into())
    }
}
