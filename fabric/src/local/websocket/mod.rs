//! The local gateway: a WebSocket API on a laptop, as API Gateway serves it.

mod connections;
mod events;
mod handshake;
mod invocation;
mod management;
#[cfg(fuzzing)]
mod memory;
mod session;
mod shared;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::routing::get;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::shared::{Settings, Shared};
use super::args::{LocalArgs, bind_error};
use super::parse_error::ErrorStyle;
use super::serve::serve_http1;
use crate::app::{App, AppError, Plan, Routes};
use crate::logging::fatal;
use crate::names::check_name;
use crate::websocket::WebSocketAdapter;
use crate::{BoxError, env};

#[cfg(fuzzing)]
pub use memory::{MemoryClient, MemoryGateway};

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

/// API Gateway's frame limit: 32 KB; a larger frame closes the connection with 1009.
///
/// ```
/// assert_eq!(fabric::local::MAX_FRAME_BYTES, 32_768);
/// ```
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// API Gateway's message limit: 128 KB, for a message of several frames and for a
/// Management API post.
///
/// ```
/// assert_eq!(fabric::local::MAX_MESSAGE_BYTES, 131_072);
/// ```
pub const MAX_MESSAGE_BYTES: usize = crate::websocket::MAX_MESSAGE_BYTES;

/// A local gateway for one WebSocket API, before it listens: one adapter serving
/// every route ([`Gateway::new`]), or the functions of an app's API
/// ([`Gateway::from_app`]).
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
#[derive(Debug)]
pub struct Gateway {
    routes: Routes,
    page: Option<&'static str>,
    stage: String,
    idle_timeout: Duration,
    max_lifetime: Duration,
    integration_timeout: Duration,
    shutdown_grace: Duration,
    verbose: bool,
    /// `None`: `FABRIC_LOCAL_MANAGEMENT` decides at bind.
    sdk_management: Option<bool>,
}

impl Gateway {
    /// A gateway for `adapter` with API Gateway's settings: stage `local`, 10 minute
    /// idle timeout, 2 hour connections, 29 second integration timeout.
    pub fn new(adapter: WebSocketAdapter) -> Gateway {
        let page = adapter.page();
        Gateway::for_routes(Routes::single(adapter), page)
    }

    /// A gateway for the WebSocket API `api` of `app`: each route goes to the
    /// function that serves it, each function with its own adapter, setup and state,
    /// and the app's connection store made once and shared by all of them.
    ///
    /// ```
    /// use fabric::app::App;
    /// use fabric::local::Gateway;
    /// use fabric::websocket::WebSocketAdapter;
    ///
    /// let app = App::new("Chat")
    ///     .websocket_api("Chat", |api| api.route("$connect", "connect").route("$disconnect", "disconnect"))
    ///     .function("connect", WebSocketAdapter::new())
    ///     .function("disconnect", WebSocketAdapter::new());
    /// let gateway = Gateway::from_app(&app, "Chat").unwrap();
    /// # let _ = gateway;
    /// assert!(Gateway::from_app(&app, "Other").is_err());
    /// ```
    pub fn from_app(app: &App, api: &str) -> Result<Gateway, AppError> {
        let mut plan = app.clone().plan()?;
        plan.share_app_store()?;
        let mut gateways = gateways(plan)?;
        let index = gateways
            .iter()
            .position(|(name, _)| name == api)
            .ok_or_else(|| AppError::new(format!("the app has no WebSocket API `{api}`")))?;
        Ok(gateways.swap_remove(index).1)
    }

    pub(crate) fn for_routes(routes: Routes, page: Option<&'static str>) -> Gateway {
        Gateway {
            routes,
            page,
            stage: "local".to_owned(),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(7200),
            integration_timeout: Duration::from_secs(29),
            shutdown_grace: Duration::from_secs(10),
            verbose: false,
            sdk_management: None,
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
        Gateway::new(adapter).with_env()
    }

    /// This gateway with the `FABRIC_*` settings of the environment, where set.
    pub(crate) fn with_env(self) -> Result<Gateway, BoxError> {
        let mut gateway = self;
        if let Some(stage) = env::var("FABRIC_STAGE") {
            gateway.stage = stage;
        }
        check_name("stage", &gateway.stage)?;
        let seconds = |name: &str| -> Result<Option<Duration>, BoxError> {
            env::var(name)
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

    /// Whether the gateway's own functions post through the AWS SDK, signed and over
    /// HTTP to this gateway's Management API as on Lambda (`true`), or by a call in
    /// process with the same answers: 410, 413, 429, order (`false`, the default,
    /// several times quicker). Unset, `FABRIC_LOCAL_MANAGEMENT=sdk` chooses the SDK.
    /// Posts to any other endpoint always go through the SDK.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let gateway = fabric::local::Gateway::new(fabric::fabric_websocket(svc)).sdk_management(true);
    /// # let _ = gateway;
    /// ```
    pub fn sdk_management(mut self, through_sdk: bool) -> Gateway {
        self.sdk_management = Some(through_sdk);
        self
    }

    /// Listens on `addr` and serves until [`RunningGateway::shutdown`]. Port 0 picks
    /// a free port.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> std::io::Result<RunningGateway> {
        check_name("stage", &self.stage)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shutdown_grace = self.shutdown_grace;
        let through_sdk = self.sdk_management.unwrap_or_else(|| {
            env::var("FABRIC_LOCAL_MANAGEMENT")
                .is_some_and(|value| value.eq_ignore_ascii_case("sdk"))
        });
        let shared = self.into_shared(addr);
        let in_process = (!through_sdk).then(|| {
            let api: Arc<dyn crate::websocket::ManagementApi> = Arc::new(management::InProcess {
                shared: shared.clone(),
            });
            crate::websocket::serve_in_process(management_url(&shared), api)
        });
        let app = router(shared.clone());
        let stopped = CancellationToken::new();
        let stop = stopped.clone();
        let make_service = move |peer: SocketAddr| peer_service(app.clone(), peer);
        // Open requests are Management API calls; upgraded connections are the
        // sessions', which `shutdown` has already closed.
        let serving = serve_http1(
            listener,
            make_service,
            ErrorStyle::Message,
            stop.cancelled_owned(),
            Duration::from_secs(1),
        );
        // Posts are served in process for as long as the server runs.
        let server = tokio::spawn(async move {
            serving.await;
            drop(in_process);
        });
        Ok(RunningGateway {
            addr,
            shared,
            stopped,
            server,
            shutdown_grace,
        })
    }
}

impl Gateway {
    /// What the handlers and sessions of this gateway, listening at `addr`, share.
    fn into_shared(self, addr: SocketAddr) -> Arc<Shared> {
        let page = self.page.unwrap_or(CONSOLE_PAGE);
        let api = events::Api {
            domain_name: domain_name(addr),
            stage: self.stage,
            api_id: "local".to_owned(),
        };
        let settings = Settings {
            idle_timeout: self.idle_timeout,
            max_lifetime: self.max_lifetime,
            integration_timeout: self.integration_timeout,
            verbose: self.verbose,
        };
        Arc::new(Shared::new(self.routes, api, addr.port(), settings, page))
    }
}

/// The router as the service of one connection from `peer`.
fn peer_service(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = axum::routing::future::RouteFuture<std::convert::Infallible>,
> + Send
+ 'static {
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        tower::Service::call(&mut app.clone(), request)
    })
}

/// The gateway's HTTP side: the handshake, the Management API and the page.
fn router(shared: Arc<Shared>) -> Router {
    let connections = get(management::get)
        .post(management::post)
        .delete(management::delete);
    Router::new()
        .route("/", get(handshake::root))
        .route("/{stage}", get(handshake::staged))
        .route("/@connections/{id}", connections.clone())
        .route("/{stage}/@connections/{id}", connections)
        .fallback(|| async { handshake::forbidden() })
        // Larger posts are read only to be refused with API Gateway's 413.
        .layer(DefaultBodyLimit::max(4 * MAX_MESSAGE_BYTES))
        .with_state(shared)
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
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stopped: CancellationToken,
    server: JoinHandle<()>,
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
        management_url(&self.shared)
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

/// Binds `gateway` as `args` say (and the `FABRIC_*` settings), and prints its
/// ready line: the URLs, and for an app of several functions which function
/// serves which route. A port in use or a bad setting is one line and exit 1.
pub(crate) async fn serve(gateway: Gateway, args: &LocalArgs) -> RunningGateway {
    let gateway = gateway
        .with_env()
        .unwrap_or_else(|err| fatal(&err.to_string()))
        .verbose(args.verbose);
    let running = gateway
        .bind(("127.0.0.1", args.port))
        .await
        .unwrap_or_else(|err| fatal(&bind_error(args.port, &err)));
    warn_if_posts_go_elsewhere(&running);
    let routes = &running.shared.routes;
    let functions = if routes.functions().len() > 1 {
        let table: Vec<String> = routes
            .table()
            .into_iter()
            .map(|(key, function)| format!("{key} → {function}"))
            .collect();
        format!(", functions {}", table.join(", "))
    } else {
        String::new()
    };
    println!(
        "Fabric local gateway ready: {} (management API {}, page {}){functions}; Ctrl-C stops it",
        running.ws_url(),
        running.management_url(),
        running.page_url()
    );
    running
}

/// The environment can send the functions' posts past this gateway (a Management
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

/// `http://{domainName}/{stage}`: the endpoint the events' posts resolve to.
fn management_url(shared: &Shared) -> String {
    format!("http://{}/{}", shared.api.domain_name, shared.api.stage)
}

/// The gateways of an app's WebSocket APIs, by API name, in the app's order.
pub(crate) fn gateways(plan: Plan) -> Result<Vec<(String, Gateway)>, AppError> {
    Ok(plan
        .websocket_apis()?
        .into_iter()
        .map(|api| {
            let mut gateway = Gateway::for_routes(api.routes, api.page);
            if let Some(stage) = api.stage {
                gateway.stage = stage;
            }
            (api.name, gateway)
        })
        .collect())
}

/// The address the gateway's events name as their `domainName`, from the address
/// it listens on: a loopback address, so the adapter posts back here over plain HTTP.
fn domain_name(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    SocketAddr::new(ip, addr.port()).to_string()
}
