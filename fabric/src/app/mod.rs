//! Applications of several functions: one value that lists an application's
//! functions (each a name and the adapter its binary serves), which routes of which
//! API each serves, and the connection store they share.
//!
//! The same [`App`] drives the template (`--print-template`: every API, route,
//! function, table and permission) and the local run (one process serving every
//! function, each with its own adapter, setup and state, the store shared as
//! DynamoDB is on AWS). A single-function program, `fabric::run(fabric_websocket(chat))`,
//! is an application of one function and needs none of this.
//!
//! ```
//! use fabric::app::App;
//! use fabric::prelude::*;
//! use fabric::websocket::WebSocketAdapter;
//!
//! #[derive(Deserialize, Input)]
//! struct Say { room: String, content: String }
//!
//! #[fabric_service]
//! async fn say(input: Say, ctx: Context) -> Result<(), Error> {
//!     ctx.broadcast_room(&input.room, json!({"content": input.content})).await?;
//!     Ok(())
//! }
//!
//! let app = App::new("Chat")
//!     .websocket_api("Chat", |api| {
//!         api.route("$connect", "chat-connect")
//!             .route("$disconnect", "chat-disconnect")
//!             .route("sendMessage", "chat-send")
//!     })
//!     .function("chat-connect", WebSocketAdapter::new().on_connect(|_ctx| async { Ok(Accept::new()) }).track_connections())
//!     .function("chat-disconnect", WebSocketAdapter::new().track_connections())
//!     .function("chat-send", fabric_websocket(WebSocketRouter::new().route("sendMessage", say)).track_connections());
//! let description = app.describe().unwrap();
//! assert_eq!(description.functions.len(), 3);
//! assert!(description.has_store());
//!
//! // Each function's binary serves only that function on Lambda:
//! // fabric::run(app.serve("chat-send")).await
//! ```
//!
//! Routes come from two places: an API's `route(key, function)` and `handler(function)`
//! (every route the function's adapter declares), and each function's own router
//! (every custom key a function serves is a route of its API). A route served by
//! two functions, a function with no route, or two functions of one API tracking
//! connections in different stores is an [`AppError`], at start and at
//! `--print-template`.
//!
//! A stale-connection sweep is a function of the app that serves no route:
//! `.function("chat-sweep", Sweep::app_store().sweeps("Chat"))` (see
//! [`Sweep::sweeps`](crate::websocket::Sweep::sweeps)). The template schedules it;
//! its binary runs it on each scheduled event on Lambda, and once off Lambda.

// Built with one transport, matches over the adapter kinds have a single arm, and
// what only the local runtime reads goes unread. (For every file of the module.)
#![cfg_attr(
    not(all(feature = "websocket", feature = "http", feature = "local")),
    allow(
        irrefutable_let_patterns,
        unreachable_patterns,
        unused_imports,
        dead_code
    )
)]

mod check;
mod routes;
#[cfg(feature = "websocket")]
mod serving;

use std::fmt;
#[cfg(feature = "websocket")]
use std::sync::Arc;

use crate::describe::{AppDescription, CustomDomain, FunctionSettings};
#[cfg(feature = "http")]
use crate::http::HttpRouter;
#[cfg(feature = "websocket")]
use crate::store::SharedStore;
#[cfg(feature = "websocket")]
use crate::websocket::{StoreFactory, WebSocketAdapter};

pub(crate) use check::Plan;
#[cfg(feature = "websocket")]
pub(crate) use serving::Routes;

/// An application: its functions, its APIs and its connection store. See the
/// [module](self).
#[derive(Clone)]
pub struct App {
    name: String,
    description: Option<String>,
    #[cfg(feature = "websocket")]
    store: Option<StoreFactory>,
    apis: Vec<ApiSpec>,
    functions: Vec<FunctionSpec>,
    layers: crate::layer::Layers,
}

#[derive(Debug, Clone)]
enum ApiSpec {
    WebSocket(WebSocketApi),
    Http(HttpApi),
}

/// A WebSocket API of an [`App`]: which function serves which route key, and the
/// API's own settings.
///
/// ```
/// use fabric::app::WebSocketApi;
/// let api = WebSocketApi::new("Chat")
///     .route("$connect", "chat-connect")
///     .handler("chat")
///     .route_selection("$request.body.type")
///     .stage("v1")
///     .custom_domain("chat.example.com", "arn:aws:acm:eu-west-1:123456789012:certificate/abc");
/// # let _ = api;
/// ```
#[derive(Debug, Clone)]
pub struct WebSocketApi {
    name: String,
    selection: Option<String>,
    stage: Option<String>,
    custom_domain: Option<CustomDomain>,
    page: Option<&'static str>,
    routes: Vec<(String, String)>,
    handlers: Vec<String>,
    throttling: Option<crate::describe::StageThrottling>,
    authorizer: Option<String>,
}

impl WebSocketApi {
    /// An API with no routes yet.
    pub fn new(name: &str) -> WebSocketApi {
        WebSocketApi {
            name: name.to_owned(),
            selection: None,
            stage: None,
            custom_domain: None,
            page: None,
            routes: Vec::new(),
            handlers: Vec::new(),
            throttling: None,
            authorizer: None,
        }
    }

    /// Runs `$connect` behind the REQUEST authorizer the function `function` serves
    /// (a [`fabric_authorizer`](crate::websocket::fabric_authorizer), its own binary
    /// and Lambda): the template makes it the API's authorizer, and the local
    /// gateway runs it on every handshake. Without this, the API's authorizer is the
    /// one its `$connect` function's adapter sets with
    /// [`WebSocketAdapter::authorizer`], served by that function.
    ///
    /// ```
    /// use fabric::app::App;
    /// use fabric::prelude::*;
    /// use fabric::websocket::{Authorized, AuthorizerRequest, IdentitySource, WebSocketAdapter, fabric_authorizer};
    ///
    /// let authorizer = fabric_authorizer([IdentitySource::Query("token".into())], |_req: AuthorizerRequest| async {
    ///     Ok(Authorized { principal_id: "ada".into(), context: () })
    /// });
    /// let app = App::new("Chat")
    ///     .websocket_api("Chat", |api| api.route("$connect", "connect").authorizer("check"))
    ///     .function("connect", WebSocketAdapter::new())
    ///     .function("check", authorizer);
    /// let api = &app.describe().unwrap().apis[0];
    /// # let fabric::describe::ApiDescription::WebSocket(api) = api else { panic!() };
    /// assert_eq!(api.authorizer.as_ref().unwrap().identity_sources, ["route.request.querystring.token"]);
    /// ```
    #[cfg(feature = "websocket")]
    pub fn authorizer(mut self, function: &str) -> WebSocketApi {
        self.authorizer = Some(function.to_owned());
        self
    }

    /// Throttles the stage's routes to `rate` requests a second, `burst` at once,
    /// across every connection (the template's `DefaultRouteSettings`; the local
    /// gateway applies it too). Default: the first function's
    /// [`stage_throttling`](crate::websocket::WebSocketAdapter::stage_throttling),
    /// else the account's limits.
    ///
    /// ```
    /// use fabric::app::WebSocketApi;
    /// let api = WebSocketApi::new("Chat").handler("chat").throttling(500, 1000);
    /// # let _ = api;
    /// ```
    pub fn throttling(mut self, rate: u32, burst: u32) -> WebSocketApi {
        self.throttling = Some(crate::describe::StageThrottling {
            rate_limit: rate,
            burst_limit: burst,
        });
        self
    }

    /// Routes `key` (`$connect`, `$disconnect`, `$default` or a custom key) to the
    /// function named `function`.
    pub fn route(mut self, key: &str, function: &str) -> WebSocketApi {
        self.routes.push((key.to_owned(), function.to_owned()));
        self
    }

    /// Routes every key the function's adapter declares to it (`$connect` when it
    /// has a connect hook or tracks connections, `$disconnect`, `$default`, and its
    /// custom keys): one function for the whole API.
    pub fn handler(mut self, function: &str) -> WebSocketApi {
        self.handlers.push(function.to_owned());
        self
    }

    /// The route selection expression (default `$request.body.action`); every
    /// function of the API selects routes by it.
    pub fn route_selection(mut self, expression: &str) -> WebSocketApi {
        self.selection = Some(expression.to_owned());
        self
    }

    /// The stage, fixed in code (default: the template's `StageName` parameter,
    /// `prod` unless overridden at deploy time; `local` on the local gateway).
    pub fn stage(mut self, stage: &str) -> WebSocketApi {
        self.stage = Some(stage.to_owned());
        self
    }

    /// A custom domain and its ACM certificate (in the API's region): the defaults
    /// of the template's domain parameters.
    pub fn custom_domain(mut self, domain: &str, certificate_arn: &str) -> WebSocketApi {
        self.custom_domain = Some(CustomDomain {
            domain: domain.to_owned(),
            certificate_arn: certificate_arn.to_owned(),
            base_path: String::new(),
        });
        self
    }

    /// The API mapping's path under the custom domain (default: the root).
    pub fn base_path(mut self, path: &str) -> WebSocketApi {
        if let Some(domain) = &mut self.custom_domain {
            domain.base_path = path.trim_matches('/').to_owned();
        }
        self
    }

    /// The page the local gateway serves at `/` (default: the first page a function
    /// of the API sets, else a WebSocket console).
    pub fn local_page(mut self, html: &'static str) -> WebSocketApi {
        self.page = Some(html);
        self
    }
}

/// An HTTP API of an [`App`]: the functions behind it, each serving the paths its
/// router declares.
///
/// ```
/// use fabric::app::HttpApi;
/// let api = HttpApi::new("Api").handler("division-http").handler("greet-http");
/// # let _ = api;
/// ```
#[derive(Debug, Clone)]
pub struct HttpApi {
    name: String,
    handlers: Vec<String>,
}

impl HttpApi {
    /// An API with no functions yet.
    pub fn new(name: &str) -> HttpApi {
        HttpApi {
            name: name.to_owned(),
            handlers: Vec::new(),
        }
    }

    /// Serves every path and method of the function's router. The first function
    /// also answers the paths no function serves (Fabric's 404 and 405).
    pub fn handler(mut self, function: &str) -> HttpApi {
        self.handlers.push(function.to_owned());
        self
    }
}

/// The adapter a function's binary serves.
#[derive(Clone)]
#[non_exhaustive]
// One per function, made once at start: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum FunctionAdapter {
    /// A WebSocket adapter.
    #[cfg(feature = "websocket")]
    WebSocket(WebSocketAdapter),
    /// An HTTP router.
    #[cfg(feature = "http")]
    Http(HttpRouter),
    /// A WebSocket API's REQUEST authorizer.
    #[cfg(feature = "websocket")]
    Authorizer(crate::websocket::AuthorizerAdapter),
    /// A WebSocket API's stale-connection sweep, run on a schedule.
    #[cfg(feature = "websocket")]
    Sweep(crate::websocket::Sweep),
}

impl fmt::Debug for FunctionAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "websocket")]
            FunctionAdapter::WebSocket(adapter) => adapter.fmt(f),
            #[cfg(feature = "http")]
            FunctionAdapter::Http(router) => router.fmt(f),
            #[cfg(feature = "websocket")]
            FunctionAdapter::Authorizer(authorizer) => authorizer.fmt(f),
            #[cfg(feature = "websocket")]
            FunctionAdapter::Sweep(sweep) => sweep.fmt(f),
        }
    }
}

#[cfg(feature = "websocket")]
impl From<crate::websocket::AuthorizerAdapter> for FunctionAdapter {
    fn from(authorizer: crate::websocket::AuthorizerAdapter) -> FunctionAdapter {
        FunctionAdapter::Authorizer(authorizer)
    }
}

/// A sweep is a function of the app like the others: it names the WebSocket API it
/// sweeps with [`Sweep::sweeps`](crate::websocket::Sweep::sweeps), and the app's
/// template schedules it.
///
/// ```
/// use std::time::Duration;
/// use fabric::app::App;
/// use fabric::websocket::{Sweep, WebSocketAdapter};
///
/// let app = App::new("Chat")
///     .websocket_api("Chat", |api| api.handler("chat"))
///     .function("chat", WebSocketAdapter::new().track_connections())
///     .function("chat-sweep", Sweep::app_store().sweeps("Chat").every(Duration::from_secs(10 * 60)));
/// let description = app.describe().unwrap();
/// let sweep = description.function("chat-sweep").unwrap();
/// assert!(sweep.uses_store && sweep.api.is_none(), "it uses the tables, and serves no route");
/// ```
#[cfg(feature = "websocket")]
impl From<crate::websocket::Sweep> for FunctionAdapter {
    fn from(sweep: crate::websocket::Sweep) -> FunctionAdapter {
        FunctionAdapter::Sweep(sweep)
    }
}

#[cfg(feature = "websocket")]
impl From<WebSocketAdapter> for FunctionAdapter {
    fn from(adapter: WebSocketAdapter) -> FunctionAdapter {
        FunctionAdapter::WebSocket(adapter)
    }
}

#[cfg(feature = "http")]
impl From<HttpRouter> for FunctionAdapter {
    fn from(router: HttpRouter) -> FunctionAdapter {
        FunctionAdapter::Http(router)
    }
}

/// An MCP server is its streamable HTTP endpoint's router: on its own, a function
/// URL; in an HTTP API, the API's route to `/mcp` (turn its
/// [`lambda_streaming`](crate::mcp::McpServer::lambda_streaming) off there).
#[cfg(feature = "mcp")]
impl From<crate::mcp::McpServer> for FunctionAdapter {
    fn from(server: crate::mcp::McpServer) -> FunctionAdapter {
        FunctionAdapter::Http(server.router())
    }
}

#[derive(Debug, Clone)]
struct FunctionSpec {
    name: String,
    adapter: FunctionAdapter,
    settings: FunctionSettings,
}

/// Why an application cannot be served or deployed: one line naming the routes and
/// functions involved.
///
/// ```
/// use fabric::app::App;
/// let err = App::new("Empty").describe().unwrap_err();
/// assert_eq!(err.to_string(), "the app `Empty` has no functions");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AppError(String);

impl AppError {
    pub(crate) fn new(message: impl Into<String>) -> AppError {
        AppError(message.into())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message itself, so `main` returning it prints one readable line.
impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AppError {}

impl App {
    /// An application named `name` (the base of shared resources' names, such as
    /// its connection tables), with no functions yet.
    pub fn new(name: &str) -> App {
        App {
            name: name.to_owned(),
            description: None,
            #[cfg(feature = "websocket")]
            store: None,
            apis: Vec::new(),
            functions: Vec::new(),
            layers: crate::layer::Layers::new(),
        }
    }

    /// The single function `name` serving `adapter`, with an API of its own: what
    /// `fabric::run(adapter)` serves and deploys.
    pub fn single(name: &str, adapter: impl Into<FunctionAdapter>) -> App {
        let adapter = adapter.into();
        let app = App::new(name);
        let (app, kind) = match &adapter {
            #[cfg(feature = "websocket")]
            FunctionAdapter::WebSocket(_) => (
                app.websocket_api(name, |api| api.handler(name)),
                "WebSocket API",
            ),
            #[cfg(feature = "http")]
            FunctionAdapter::Http(router) if router.streams_on_lambda() => {
                (app, "streaming function URL")
            }
            #[cfg(feature = "http")]
            FunctionAdapter::Http(_) => (app.http_api(name, |api| api.handler(name)), "HTTP API"),
            #[cfg(feature = "websocket")]
            FunctionAdapter::Authorizer(_) => (app, "Lambda authorizer"),
            #[cfg(feature = "websocket")]
            FunctionAdapter::Sweep(_) => (app, "stale-connection sweep"),
        };
        app.description(&format!("{name}: a Fabric {kind}"))
            .function(name, adapter)
    }

    /// The template's description (default: the app's name and its functions).
    pub fn description(mut self, description: &str) -> App {
        self.description = Some(description.to_owned());
        self
    }

    /// The connection store of the functions that
    /// [track connections](WebSocketAdapter::track_connections), made once when
    /// serving starts: `store::from_env` picks DynamoDB on Lambda (the template
    /// names the tables) and memory locally, where every function shares it.
    #[cfg(feature = "websocket")]
    pub fn store<F>(mut self, factory: F) -> App
    where
        F: Fn() -> Result<SharedStore, crate::Error> + Send + Sync + 'static,
    {
        self.store = Some(Arc::new(factory));
        self
    }

    /// Adds a WebSocket API, configured by `configure`.
    pub fn websocket_api(
        mut self,
        name: &str,
        configure: impl FnOnce(WebSocketApi) -> WebSocketApi,
    ) -> App {
        self.apis
            .push(ApiSpec::WebSocket(configure(WebSocketApi::new(name))));
        self
    }

    /// Adds an HTTP API, configured by `configure`.
    pub fn http_api(mut self, name: &str, configure: impl FnOnce(HttpApi) -> HttpApi) -> App {
        self.apis.push(ApiSpec::Http(configure(HttpApi::new(name))));
        self
    }

    /// Adds the function `name` (its Cargo binary's name), serving `adapter`.
    pub fn function(self, name: &str, adapter: impl Into<FunctionAdapter>) -> App {
        self.function_with(name, adapter, |settings| settings)
    }

    /// Adds a function with Lambda settings of its own (memory, timeout, variables).
    ///
    /// ```
    /// use fabric::app::App;
    /// use fabric::websocket::WebSocketAdapter;
    /// let app = App::new("Chat")
    ///     .websocket_api("Chat", |api| api.handler("chat"))
    ///     .function_with("chat", WebSocketAdapter::new(), |f| f.memory_mb(512));
    /// assert_eq!(app.describe().unwrap().functions[0].settings.memory_mb, Some(512));
    /// ```
    pub fn function_with(
        mut self,
        name: &str,
        adapter: impl Into<FunctionAdapter>,
        configure: impl FnOnce(FunctionSettings) -> FunctionSettings,
    ) -> App {
        self.functions.push(FunctionSpec {
            name: name.to_owned(),
            adapter: adapter.into(),
            settings: configure(FunctionSettings::default()),
        });
        self
    }

    /// Runs `layer` around every service of every function, outside each
    /// function's own layers (see [`layer`](crate::layer)); on Lambda each
    /// function's binary runs it too, as it serves its function from this app.
    ///
    /// ```
    /// use fabric::app::App;
    /// use fabric::layer::{Next, ServiceRequest};
    /// use fabric::websocket::WebSocketAdapter;
    ///
    /// let app = App::new("Chat")
    ///     .websocket_api("Chat", |api| api.handler("chat"))
    ///     .layer(|request: ServiceRequest, next: Next| async move {
    ///         tracing::info!(alias = request.alias(), "called");
    ///         next.run(request).await
    ///     })
    ///     .function("chat", WebSocketAdapter::new());
    /// # let _ = app.describe().unwrap();
    /// ```
    pub fn layer(mut self, layer: impl crate::layer::Layer) -> App {
        self.layers = self.layers.with(layer);
        self
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The function `function` of this app, for its binary: on Lambda it serves that
    /// function alone; off Lambda the whole app runs, since one function of it
    /// cannot work alone; `--print-template` prints the app's template.
    pub fn serve(self, function: &str) -> ServeFunction {
        ServeFunction {
            app: self,
            function: function.to_owned(),
        }
    }

    /// Checks the app and describes it as plain data, for templates.
    pub fn describe(&self) -> Result<AppDescription, AppError> {
        Ok(self.clone().plan()?.description)
    }

    /// Checks the app and prepares every function's adapter to serve as part of it.
    pub(crate) fn plan(self) -> Result<Plan, AppError> {
        check::plan(self)
    }

    /// Whether the function `name` is a sweep, which runs on a schedule rather than
    /// behind an API.
    #[cfg(feature = "websocket")]
    pub(crate) fn is_sweep(&self, name: &str) -> bool {
        self.functions
            .iter()
            .any(|f| f.name == name && matches!(f.adapter, FunctionAdapter::Sweep(_)))
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field("apis", &self.apis)
            .field(
                "functions",
                &self.functions.iter().map(|f| &f.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One function of an [`App`], as its binary serves it: see [`App::serve`].
#[derive(Debug, Clone)]
pub struct ServeFunction {
    app: App,
    function: String,
}

impl ServeFunction {
    /// The app.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The function's name.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The app and the function, apart.
    pub fn into_parts(self) -> (App, String) {
        (self.app, self.function)
    }
}
