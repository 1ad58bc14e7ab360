//! [`WebSocketAdapter`]'s configuration: routes, hooks and settings, and what the
//! adapter says it serves. Handling events is the `dispatch` module's job.

use std::future::Future;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use super::endpoint::{EndpointRules, ManagementClients};
use super::hooks::{Accept, ConnectHook, Disconnect, DisconnectHook};
use super::management::ManagementApi;
use super::rate_limit::RateLimit;
use super::router::{RouteSelection, WebSocketRouter};
use crate::describe::{StageThrottling, WebSocketRoutes};
use crate::settings::{AdapterSettings, adapter_settings_methods};
use crate::store::{self, ConnectionStore, SharedStore};
use crate::{BoxError, Context, Error, State};

/// Serves `routes` (one service, or a [`WebSocketRouter`]) on API Gateway WebSocket
/// events: on Lambda with [`fabric::run`](crate::run), and off Lambda on the local
/// gateway.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::websocket::{Accept, fabric_websocket};
///
/// #[derive(Deserialize, Input)]
/// struct Ping { text: String }
///
/// #[fabric_service]
/// async fn ping(input: Ping, ctx: Context) -> Result<(), Error> {
///     ctx.send_message(json!({"pong": input.text})).await
/// }
///
/// async fn check_token(ctx: Context) -> Result<Accept, Error> {
///     match ctx.websocket().and_then(|ws| ws.query_param("token")) {
///         Some("let-me-in") => Ok(Accept::new()),
///         _ => Err(Error::unauthorized("a valid token is required")),
///     }
/// }
///
/// let adapter = fabric_websocket(ping).on_connect(check_token).reply(true);
/// # let _ = adapter;
/// ```
pub fn fabric_websocket(routes: impl Into<WebSocketRouter>) -> WebSocketAdapter {
    WebSocketAdapter {
        router: routes.into(),
        on_connect: None,
        on_disconnect: None,
        reply: false,
        two_way: false,
        settings: AdapterSettings::new(true),
        management: Management::default(),
        broadcast_concurrency: 64,
        route_selection: None,
        connection_ttl: store::DEFAULT_TTL,
        page: None,
        store: StoreSource::None,
        posts: None,
        heartbeat: true,
        rate_limits: Vec::new(),
        stage_throttling: None,
        route_throttling: Vec::new(),
        authorizer: None,
        legacy: None,
    }
}

/// An `aws_lambda_events` handler for the events the adapter does not claim
/// (`legacy.rs`), boxed.
pub(super) type LegacyHandler = Arc<
    dyn Fn(
            aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
        ) -> futures_util::future::BoxFuture<
            'static,
            aws_lambda_events::apigw::ApiGatewayProxyResponse,
        > + Send
        + Sync,
>;

/// Makes the connection store when serving starts (`store::from_env`, say).
pub type StoreFactory = Arc<dyn Fn() -> Result<SharedStore, Error> + Send + Sync>;

/// Where an adapter's connection store comes from.
#[derive(Clone, Default)]
pub(crate) enum StoreSource {
    /// Connections are not tracked.
    #[default]
    None,
    /// Chosen when serving: the application's store, else `store::from_env()`.
    Serving,
    /// Made by this factory when serving starts.
    Factory(StoreFactory),
    /// This store.
    Shared(SharedStore),
}

impl StoreSource {
    /// The store, made now if it is made when serving.
    pub(crate) fn resolve(&self) -> Result<Option<SharedStore>, Error> {
        match self {
            StoreSource::None => Ok(None),
            StoreSource::Serving => store::from_env().map(Some),
            StoreSource::Factory(factory) => factory().map(Some),
            StoreSource::Shared(store) => Ok(Some(store.clone())),
        }
    }
}

/// The Management API clients, made from the environment at the first post so the
/// environment is read when serving, not when the adapter is built.
#[derive(Clone, Default)]
pub(super) struct Management {
    endpoint: Option<String>,
    fixed: Option<Arc<dyn ManagementApi>>,
    clients: Arc<OnceLock<ManagementClients>>,
}

impl Management {
    pub(super) fn clients(&self) -> &ManagementClients {
        self.clients.get_or_init(|| match &self.fixed {
            Some(api) => ManagementClients::fixed(api.clone()),
            None => {
                let mut rules = EndpointRules::from_env();
                if let Some(endpoint) = &self.endpoint {
                    rules.explicit = Some(endpoint.clone());
                }
                ManagementClients::new(rules)
            }
        })
    }
}

/// The WebSocket adapter: routes, hooks and settings. Build it with
/// [`fabric_websocket`]; serve it with [`fabric::run`](crate::run); call
/// [`handle`](WebSocketAdapter::handle) directly in tests.
#[derive(Clone)]
pub struct WebSocketAdapter {
    pub(super) router: WebSocketRouter,
    pub(super) on_connect: Option<ConnectHook>,
    pub(super) on_disconnect: Option<DisconnectHook>,
    pub(super) reply: bool,
    pub(super) two_way: bool,
    pub(super) settings: AdapterSettings,
    pub(super) management: Management,
    pub(super) broadcast_concurrency: usize,
    pub(super) route_selection: Option<RouteSelection>,
    pub(super) connection_ttl: Duration,
    pub(super) page: Option<&'static str>,
    pub(super) store: StoreSource,
    pub(super) posts: Option<bool>,
    pub(super) heartbeat: bool,
    pub(super) rate_limits: Vec<RateLimit>,
    pub(super) stage_throttling: Option<StageThrottling>,
    /// Where the events this adapter does not answer go, if anywhere.
    pub(super) legacy: Option<LegacyHandler>,
    pub(super) route_throttling: Vec<(String, StageThrottling)>,
    /// The Lambda authorizer `$connect` runs behind (`authorizer.rs`).
    pub(super) authorizer: Option<super::AuthorizerAdapter>,
}

adapter_settings_methods!(WebSocketAdapter, "fabric_websocket(svc)");

impl Default for WebSocketAdapter {
    fn default() -> WebSocketAdapter {
        WebSocketAdapter::new()
    }
}

static DEFAULT_SELECTION: LazyLock<RouteSelection> = LazyLock::new(RouteSelection::default);

impl WebSocketAdapter {
    /// An adapter with no services, for a function of an app that serves only
    /// `$connect` or `$disconnect`.
    ///
    /// ```
    /// use fabric::websocket::{Accept, WebSocketAdapter};
    /// let connect = WebSocketAdapter::new().on_connect(|_ctx| async { Ok(Accept::new()) });
    /// assert!(connect.router().route_keys().is_empty());
    /// ```
    pub fn new() -> WebSocketAdapter {
        fabric_websocket(WebSocketRouter::new())
    }

    /// Runs `hook` on `$connect`: `Ok(Accept)` accepts (200), an error rejects the
    /// handshake with the error's status (401, 403, ...). Services never see
    /// `$connect`.
    pub fn on_connect<F, Fut>(mut self, hook: F) -> WebSocketAdapter
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Accept, Error>> + Send + 'static,
    {
        self.on_connect = Some(Arc::new(move |ctx| Box::pin(hook(ctx))));
        self
    }

    /// Runs `hook` on `$disconnect`, with the close code and reason. The response is
    /// always 200; API Gateway ignores it.
    pub fn on_disconnect<F, Fut>(mut self, hook: F) -> WebSocketAdapter
    where
        F: Fn(Context, Disconnect) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_disconnect = Some(Arc::new(move |ctx, info| Box::pin(hook(ctx, info))));
        self
    }

    /// Posts each result to the caller as `{"data": ...}` (default off). Errors are
    /// always posted: API Gateway drops a route's returned body unless the route
    /// has a route response.
    pub fn reply(mut self, reply: bool) -> WebSocketAdapter {
        self.reply = reply;
        self
    }

    /// Declares that the routes are two-way (they have a route response), so API
    /// Gateway returns the handler's body to the caller itself and nothing is
    /// posted. The deploy template and the local gateway follow this setting.
    pub fn two_way(mut self, two_way: bool) -> WebSocketAdapter {
        self.two_way = two_way;
        self
    }

    /// Posts through this Management API endpoint instead of the one derived from
    /// each event (for custom domains; the `FABRIC_MANAGEMENT_ENDPOINT` variable does
    /// the same).
    pub fn management_endpoint(mut self, endpoint: impl Into<String>) -> WebSocketAdapter {
        self.management = Management {
            endpoint: Some(endpoint.into()),
            ..Management::default()
        };
        self
    }

    /// Sends every post through `api` instead of the AWS SDK.
    pub fn management_api(mut self, api: Arc<dyn ManagementApi>) -> WebSocketAdapter {
        self.management = Management {
            fixed: Some(api),
            ..Management::default()
        };
        self
    }

    /// How many posts a broadcast has in flight at once (default 64).
    pub fn broadcast_concurrency(mut self, concurrency: usize) -> WebSocketAdapter {
        self.broadcast_concurrency = concurrency.max(1);
        self
    }

    /// Tracks connections and rooms in `store`: each accepted `$connect` is saved
    /// (with the user id and metadata of the hook's [`Accept`]), each `$disconnect`
    /// and each post that finds a connection gone (410) deletes it, and services
    /// get `ctx.join`, `ctx.broadcast_room`, `ctx.send_to_user` and the rest (see
    /// [`crate::store`]). A store that fails on `$connect` rejects the handshake
    /// (503 or 500), as an untracked connection would miss its messages.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::store::MemoryStore;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric_websocket(svc).store(MemoryStore::new());
    /// assert_eq!(adapter.route_keys(), ["$connect", "$disconnect", "$default"]);
    /// ```
    pub fn store(self, store: impl ConnectionStore) -> WebSocketAdapter {
        self.shared_store(Arc::new(store))
    }

    /// Like [`store`](WebSocketAdapter::store), for a store the caller keeps a
    /// handle to (to inspect it in tests, or share it between adapters).
    pub fn shared_store(mut self, store: SharedStore) -> WebSocketAdapter {
        self.store = StoreSource::Shared(store);
        self
    }

    /// Tracks connections and rooms as [`store`](WebSocketAdapter::store) does, in
    /// the store chosen when serving starts: the app's (`App::store`), else the one
    /// [`store::from_env`] names (DynamoDB when
    /// `FABRIC_CONNECTIONS_TABLE` is set, in memory otherwise).
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric_websocket(svc).track_connections();
    /// assert!(adapter.tracks_connections());
    /// ```
    pub fn track_connections(mut self) -> WebSocketAdapter {
        self.store = StoreSource::Serving;
        self
    }

    /// Whether a connection store tracks this adapter's connections; the deploy
    /// template then gives the function its DynamoDB tables.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// assert!(!fabric_websocket(svc).tracks_connections());
    /// assert!(fabric_websocket(svc).store(fabric::store::MemoryStore::new()).tracks_connections());
    /// ```
    pub fn tracks_connections(&self) -> bool {
        !matches!(self.store, StoreSource::None)
    }

    /// How long a tracked connection is kept (default 2 hours, API Gateway's
    /// longest connection): its `expiresAt` is `connectedAt` plus this.
    pub fn connection_ttl(mut self, ttl: Duration) -> WebSocketAdapter {
        self.connection_ttl = ttl;
        self
    }

    /// The route selection expression (default `$request.body.action`).
    ///
    /// # Panics
    /// When the expression is not of the form `$request.body.<field>`.
    pub fn route_selection(mut self, expression: &str) -> WebSocketAdapter {
        self.route_selection =
            Some(RouteSelection::parse(expression).unwrap_or_else(|err| panic!("{err}")));
        self
    }

    /// Says whether this function posts to connections, for the
    /// `execute-api:ManageConnections` permission of its template. Unset, a function
    /// posts when it serves messages (errors are posted), and not when it serves
    /// only `$connect` and `$disconnect`; a `$disconnect` hook that broadcasts
    /// says `.posts(true)`.
    pub fn posts(mut self, posts: bool) -> WebSocketAdapter {
        self.posts = Some(posts);
        self
    }

    /// Answers `{"action":"ping"}` with `{"action":"pong"}` (default on), so clients
    /// can keep a connection past API Gateway's 10-minute idle timeout. A route of
    /// the router named `ping` wins over the built-in one.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric_websocket(svc).heartbeat(false);
    /// assert!(!adapter.answers_heartbeats());
    /// ```
    pub fn heartbeat(mut self, on: bool) -> WebSocketAdapter {
        self.heartbeat = on;
        self
    }

    /// Whether the built-in ping is on.
    pub fn answers_heartbeats(&self) -> bool {
        self.heartbeat
    }

    /// Limits the rate of messages (see [`RateLimit`]); several limits all apply.
    /// A message over a limit is answered with a 429 error frame carrying
    /// `meta.retryAfterMs` and never reaches its service; heartbeats count too.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// use fabric::websocket::RateLimit;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric_websocket(svc)
    ///     .rate_limit(RateLimit::per_connection(10.0, 20))
    ///     .rate_limit(RateLimit::per_user(50.0, 100));
    /// assert_eq!(adapter.rate_limits().len(), 2);
    /// ```
    pub fn rate_limit(mut self, limit: RateLimit) -> WebSocketAdapter {
        self.rate_limits.push(limit);
        self
    }

    /// Asks API Gateway to throttle the stage to `rate` requests a second, `burst`
    /// at once, across every connection: the template's stage
    /// `DefaultRouteSettings`, and the local gateway, which answers a throttled
    /// message `{"message": "Too Many Requests", ...}` as API Gateway does. Unlike
    /// [`rate_limit`](WebSocketAdapter::rate_limit) it never reaches the function.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric_websocket(svc).stage_throttling(500, 1000);
    /// assert_eq!(adapter.describe().stage_throttling.unwrap().burst_limit, 1000);
    /// ```
    pub fn stage_throttling(mut self, rate: u32, burst: u32) -> WebSocketAdapter {
        self.stage_throttling = Some(StageThrottling {
            rate_limit: rate,
            burst_limit: burst,
        });
        self
    }

    /// The stage throttling asked for.
    pub fn stage_throttling_setting(&self) -> Option<StageThrottling> {
        self.stage_throttling
    }

    /// API Gateway's throttling of one route: `rate` messages a second, `burst` at
    /// once, across every connection, in place of the stage's for that route. The
    /// template writes it in the stage's `RouteSettings`; the local gateway answers
    /// a message over it `{"message": "Too Many Requests", ...}` as API Gateway does,
    /// and the function never sees it. Set again for the same key, the last wins.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric_websocket(svc).route_throttling("sendMessage", 50, 100);
    /// let (key, limits) = &adapter.describe().route_throttling[0];
    /// assert_eq!((key.as_str(), limits.rate_limit), ("sendMessage", 50));
    /// ```
    pub fn route_throttling(
        mut self,
        route_key: impl Into<String>,
        rate: u32,
        burst: u32,
    ) -> WebSocketAdapter {
        let route_key = route_key.into();
        self.route_throttling.retain(|(key, _)| *key != route_key);
        self.route_throttling.push((
            route_key,
            StageThrottling {
                rate_limit: rate,
                burst_limit: burst,
            },
        ));
        self
    }

    /// The routes' own throttling asked for, by route key.
    pub fn route_throttling_settings(&self) -> &[(String, StageThrottling)] {
        &self.route_throttling
    }

    /// The rate limits, in the order they are checked.
    pub fn rate_limits(&self) -> &[RateLimit] {
        &self.rate_limits
    }

    /// The HTML page the local gateway serves at `/` (default: a WebSocket console).
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let adapter = fabric::fabric_websocket(svc).local_page("<h1>Chat</h1>");
    /// assert_eq!(adapter.page(), Some("<h1>Chat</h1>"));
    /// ```
    pub fn local_page(mut self, html: &'static str) -> WebSocketAdapter {
        self.page = Some(html);
        self
    }

    /// The page set with [`local_page`](WebSocketAdapter::local_page).
    pub fn page(&self) -> Option<&'static str> {
        self.page
    }

    /// The routes.
    pub fn router(&self) -> &WebSocketRouter {
        &self.router
    }

    /// The route selection expression in use.
    pub fn selection(&self) -> &RouteSelection {
        self.route_selection.as_ref().unwrap_or(&DEFAULT_SELECTION)
    }

    /// The route keys API Gateway needs when this adapter serves a whole API alone:
    /// `$connect` when there is a connect hook or a connection store, `$disconnect`,
    /// `$default`, and the router's custom keys.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::{Accept, fabric_websocket};
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let plain = fabric_websocket(svc);
    /// assert_eq!(plain.route_keys(), vec!["$disconnect", "$default"]);
    /// let guarded = fabric_websocket(svc).on_connect(|_ctx| async { Ok(Accept::new()) });
    /// assert_eq!(guarded.route_keys(), vec!["$connect", "$disconnect", "$default"]);
    /// ```
    pub fn route_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if self.on_connect.is_some() || self.tracks_connections() || self.authorizer.is_some() {
            keys.push("$connect".to_owned());
        }
        keys.push("$disconnect".to_owned());
        keys.push("$default".to_owned());
        keys.extend(self.router.route_keys().into_iter().map(str::to_owned));
        keys
    }

    /// Whether routes are two-way (see [`WebSocketAdapter::two_way`]).
    pub fn is_two_way(&self) -> bool {
        self.two_way
    }

    /// What this adapter serves, as plain data for templates and the local gateway.
    ///
    /// ```
    /// # use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let routes = fabric_websocket(WebSocketRouter::new().route("join", svc)).describe();
    /// assert_eq!(routes.custom_keys, ["join"]);
    /// assert_eq!(routes.selection, None);
    /// ```
    pub fn describe(&self) -> WebSocketRoutes {
        WebSocketRoutes {
            route_keys: self.route_keys(),
            custom_keys: self
                .router
                .route_keys()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            has_fallback: self.router.has_fallback(),
            selection: self
                .route_selection
                .as_ref()
                .map(|selection| selection.expression().to_owned()),
            two_way: self.two_way,
            tracks_connections: self.tracks_connections(),
            posts: self.posts,
            stage_throttling: self.stage_throttling,
            route_throttling: self.route_throttling.clone(),
            uses_rate_limit_table: self.rate_limits.iter().any(RateLimit::in_rate_limit_table),
        }
    }

    /// The settings shared with the other adapters.
    pub fn settings(&self) -> &AdapterSettings {
        &self.settings
    }

    fn with_settings(mut self, change: impl FnOnce(AdapterSettings) -> AdapterSettings) -> Self {
        self.settings = change(self.settings);
        self
    }

    /// Where the connection store comes from.
    pub(crate) fn store_source(&self) -> &StoreSource {
        &self.store
    }

    /// Takes its store from `source` (an app gives its functions the app's store).
    pub(crate) fn with_store_source(mut self, source: StoreSource) -> WebSocketAdapter {
        self.store = source;
        self
    }

    /// Selects routes as the API it is part of does.
    pub(crate) fn with_selection(mut self, selection: RouteSelection) -> WebSocketAdapter {
        self.route_selection = Some(selection);
        self
    }

    /// Sets up once (the connection store, then the setup hooks) and gives the state
    /// services see; [`fabric::run`](crate::run) calls this at start so a broken
    /// setup fails the cold start loudly.
    pub async fn ready(&self) -> Result<State, BoxError> {
        Ok(self.prepared().await?.state().clone())
    }

    /// [`ready`](Self::ready), as the settings keep it.
    pub(super) async fn prepared(&self) -> Result<&crate::settings::Ready, BoxError> {
        self.settings
            .ready_with(|| async {
                let store = self.store.resolve().map_err(|err| -> BoxError {
                    format!("the connection store: {}", err.detail()).into()
                })?;
                Ok(match store {
                    Some(store) => State::new().with(store),
                    None => State::new(),
                })
            })
            .await
    }
}

impl std::fmt::Debug for WebSocketAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketAdapter")
            .field("route_keys", &self.route_keys())
            .field("selection", &self.selection().expression())
            .field("on_connect", &self.on_connect.is_some())
            .field("on_disconnect", &self.on_disconnect.is_some())
            .field("reply", &self.reply)
            .field("two_way", &self.two_way)
            .field("tracks_connections", &self.tracks_connections())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
