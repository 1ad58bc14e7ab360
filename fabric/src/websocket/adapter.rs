//! [`WebSocketAdapter`]: API Gateway WebSocket events in, proxy responses out.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use futures_util::future::BoxFuture;
use http::HeaderValue;
use http::header::HeaderName;
use serde_json::Value;
use tracing::Instrument;

use super::event::IncomingEvent;
use super::management::{
    EndpointRules, MAX_MESSAGE_BYTES, ManagementApi, ManagementClients, ManagementError,
};
use super::request::{EventType, WebSocket};
use super::router::{RouteSelection, WebSocketRouter};
use crate::panic::catch_panic;
use crate::store::{self, Connection, ConnectionStore, SharedStore};
use crate::{BoxError, Context, Error, Output, ServiceExt, State, input};

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
        scrub_errors: true,
        unavailable: std::env::var("FABRIC_UNAVAILABLE")
            .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        state: State::new(),
        setup: None,
        ready: Arc::new(tokio::sync::OnceCell::new()),
        management: ManagementClients::new(EndpointRules::from_env()),
        broadcast_concurrency: 64,
        route_selection: RouteSelection::default(),
        connection_ttl: store::DEFAULT_TTL,
        page: None,
    }
}

/// A `$connect` hook's yes: the connection is accepted.
///
/// ```
/// use fabric::websocket::Accept;
/// let accept = Accept::new().protocol("chat.v1").user("alice");
/// assert_eq!(accept.chosen_protocol(), Some("chat.v1"));
/// assert_eq!(accept.user_id(), Some("alice"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accept {
    protocol: Option<String>,
    user_id: Option<String>,
    metadata: serde_json::Map<String, Value>,
}

impl Accept {
    /// Accepts the connection.
    pub fn new() -> Accept {
        Accept::default()
    }

    /// Chooses one of the subprotocols the client offered; it is echoed in
    /// `Sec-WebSocket-Protocol`, the only `$connect` header that reaches the client.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Accept {
        self.protocol = Some(protocol.into());
        self
    }

    /// Ties the connection to a user, for the connection store.
    pub fn user(mut self, user_id: impl Into<String>) -> Accept {
        self.user_id = Some(user_id.into());
        self
    }

    /// Keeps a value with the connection in the connection store.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Accept {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The chosen subprotocol.
    pub fn chosen_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The user the connection belongs to.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The values kept with the connection.
    pub fn metadata_map(&self) -> &serde_json::Map<String, Value> {
        &self.metadata
    }
}

/// How a connection ended, given to the `$disconnect` hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// The WebSocket close code (1000 normal, 1001 going away, 1005 none given, ...).
    pub status_code: Option<i64>,
    /// API Gateway's text for why it closed.
    pub reason: Option<String>,
}

type ConnectHook = Arc<dyn Fn(Context) -> BoxFuture<'static, Result<Accept, Error>> + Send + Sync>;
type DisconnectHook = Arc<dyn Fn(Context, Disconnect) -> BoxFuture<'static, ()> + Send + Sync>;
type SetupHook = Arc<dyn Fn() -> BoxFuture<'static, Result<State, BoxError>> + Send + Sync>;

/// The WebSocket adapter: routes, hooks and settings. Build it with
/// [`fabric_websocket`]; serve it with [`fabric::run`](crate::run); call
/// [`handle`](WebSocketAdapter::handle) directly in tests.
#[derive(Clone)]
pub struct WebSocketAdapter {
    router: WebSocketRouter,
    on_connect: Option<ConnectHook>,
    on_disconnect: Option<DisconnectHook>,
    reply: bool,
    two_way: bool,
    scrub_errors: bool,
    unavailable: bool,
    state: State,
    setup: Option<SetupHook>,
    ready: Arc<tokio::sync::OnceCell<State>>,
    management: ManagementClients,
    broadcast_concurrency: usize,
    route_selection: RouteSelection,
    connection_ttl: Duration,
    page: Option<&'static str>,
}

impl WebSocketAdapter {
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

    /// Whether 5xx details are hidden from clients (default on).
    pub fn scrub_errors(mut self, scrub: bool) -> WebSocketAdapter {
        self.scrub_errors = scrub;
        self
    }

    /// Answers every event with 503 (default: on when `FABRIC_UNAVAILABLE=1`).
    /// `$disconnect` still runs its hook.
    pub fn unavailable(mut self, unavailable: bool) -> WebSocketAdapter {
        self.unavailable = unavailable;
        self
    }

    /// Adds a shared value, found with `ctx.state::<T>()`.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> WebSocketAdapter {
        self.state = self.state.with(value);
        self
    }

    /// Runs `setup` once per process (per Lambda cold start), before the first event,
    /// and adds its value to the shared state: the place to create clients.
    /// A failing setup is retried on the next event.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::fabric_websocket;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    ///
    /// struct Clients { greeting: String }
    ///
    /// let adapter = fabric_websocket(svc).setup(|| async {
    ///     Ok::<_, fabric::BoxError>(Clients { greeting: "hello".into() })
    /// });
    /// # let _ = adapter;
    /// ```
    pub fn setup<F, Fut, T>(mut self, setup: F) -> WebSocketAdapter
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, BoxError>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        self.setup = Some(Arc::new(move || {
            let future = setup();
            Box::pin(async move { future.await.map(|value| State::new().with(value)) })
        }));
        self
    }

    /// Posts through this Management API endpoint instead of the one derived from
    /// each event (for custom domains; the `FABRIC_MANAGEMENT_ENDPOINT` variable does
    /// the same).
    pub fn management_endpoint(mut self, endpoint: impl Into<String>) -> WebSocketAdapter {
        let mut rules = self.management.rules().clone();
        rules.explicit = Some(endpoint.into());
        self.management = ManagementClients::new(rules);
        self
    }

    /// Sends every post through `api` instead of the AWS SDK.
    pub fn management_api(mut self, api: Arc<dyn ManagementApi>) -> WebSocketAdapter {
        self.management = ManagementClients::fixed(api);
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
    pub fn shared_store(self, store: SharedStore) -> WebSocketAdapter {
        self.state(store)
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
        self.state.get::<SharedStore>().is_some()
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
            RouteSelection::parse(expression).unwrap_or_else(|err| panic!("{err}"));
        self
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
        &self.route_selection
    }

    /// The route keys API Gateway needs for this adapter: `$connect` when there is a
    /// connect hook or a connection store, `$disconnect`, `$default`, and the
    /// router's custom keys.
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
        if self.on_connect.is_some() || self.state.get::<SharedStore>().is_some() {
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

    /// Runs the setup hook if it has not run yet; [`fabric::run`](crate::run) calls
    /// this at start so a broken setup fails the cold start loudly.
    pub async fn ready(&self) -> Result<State, BoxError> {
        let Some(setup) = &self.setup else {
            return Ok(self.state.clone());
        };
        let state = self
            .ready
            .get_or_try_init(|| async {
                Ok::<_, BoxError>(self.state.clone().merge(&setup().await?))
            })
            .await?;
        Ok(state.clone())
    }

    /// Handles one event: the whole path from event to response, the same on Lambda
    /// and on the local gateway.
    pub async fn handle(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        self.handle_incoming(Box::new(IncomingEvent::from(event)))
            .await
    }

    /// The event stays boxed from here on: moving it through nested futures would
    /// copy it at every step.
    async fn handle_incoming(&self, event: Box<IncomingEvent>) -> ApiGatewayProxyResponse {
        let started = Instant::now();
        let context = &event.request_context;
        let span = tracing::info_span!(
            "websocket",
            request_id = context.request_id.as_deref().unwrap_or_default(),
            connection_id = context.connection_id.as_deref().unwrap_or_default(),
            route_key = context.route_key.as_deref().unwrap_or_default(),
        );
        let response = self.dispatch(event).instrument(span.clone()).await;
        span.in_scope(|| {
            tracing::info!(
                status = response.status_code,
                latency_us = started.elapsed().as_micros() as u64,
                "event handled"
            )
        });
        response
    }

    /// Handles an event given as JSON text, as Lambda delivers it. Text that is not
    /// a WebSocket event gets a 400 response, never a crash.
    pub async fn handle_json(&self, event: &str) -> ApiGatewayProxyResponse {
        match serde_json::from_str::<Box<IncomingEvent>>(event) {
            Ok(event) => self.handle_incoming(event).await,
            Err(err) => {
                tracing::warn!(error = %err, "not an API Gateway WebSocket event");
                let error = Error::bad_request(format!("Invalid WebSocket event: {err}"));
                response(400, Some(error.envelope_json(self.scrub_errors)), None)
            }
        }
    }

    async fn dispatch(&self, event: Box<IncomingEvent>) -> ApiGatewayProxyResponse {
        let state = match self.ready().await {
            Ok(state) => state,
            Err(err) => {
                tracing::error!(error = %err, "setup failed");
                let error = Error::internal_message(format!("setup failed: {err}"));
                return response(500, Some(error.envelope_json(self.scrub_errors)), None);
            }
        };
        let (ws, body, disconnect) = self.split(event, &state);
        match ws.event_type {
            EventType::Connect => self.connect(ws, state).await,
            EventType::Disconnect => self.disconnect(ws, state, disconnect).await,
            EventType::Message => self.message(ws, state, body).await,
        }
    }

    /// The event as the service's view of it, the body, and the close details.
    fn split(
        &self,
        event: Box<IncomingEvent>,
        state: &State,
    ) -> (Arc<WebSocket>, Frame, Disconnect) {
        let IncomingEvent {
            headers,
            query_string_parameters,
            request_context: context,
            body,
            is_base64_encoded,
        } = *event;
        let event_type = context.kind();
        let domain_name = context.domain_name.unwrap_or_default();
        let stage = context.stage.unwrap_or_default();
        let api_id = context.api_id.unwrap_or_default();
        let management = self
            .management
            .for_event(&domain_name, &stage, &api_id)
            .unwrap_or_else(|err| Arc::new(Unconfigured(err.detail().to_owned())));
        let identity = context.identity.unwrap_or_default();
        let disconnect = Disconnect {
            status_code: context.disconnect_status_code,
            reason: context.disconnect_reason,
        };
        let ws = WebSocket {
            event_type,
            route_key: context.route_key.unwrap_or_default(),
            connection_id: context.connection_id.unwrap_or_default(),
            request_id: context.request_id.unwrap_or_default(),
            stage,
            domain_name,
            api_id,
            source_ip: identity.source_ip,
            user_agent: identity.user_agent,
            connected_at: context.connected_at,
            headers,
            query: query_string_parameters,
            authorizer: context.authorizer.map_or(Value::Null, Value::Object),
            management,
            broadcast_concurrency: self.broadcast_concurrency,
            store: state.get::<SharedStore>().cloned(),
        };
        let body = Frame {
            text: body,
            base64: is_base64_encoded,
        };
        (Arc::new(ws), body, disconnect)
    }

    fn context(ws: &Arc<WebSocket>, state: State) -> Context {
        Context::builder(ws.request_id.clone())
            .shared_sink(ws.clone())
            .shared_extension(ws.clone())
            .state(state)
            .build()
    }

    async fn connect(&self, ws: Arc<WebSocket>, state: State) -> ApiGatewayProxyResponse {
        if self.unavailable {
            return self.rejection(&Error::unavailable("The service is switched off"));
        }
        let accepted = match &self.on_connect {
            Some(hook) => catch_panic(|| hook(Self::context(&ws, state)))
                .await
                .unwrap_or_else(|panic| Err(panic.into())),
            None => Ok(Accept::new()),
        };
        let tracked = match accepted {
            Ok(accept) => self.track(&ws, accept).await,
            Err(err) => Err(err),
        };
        match tracked {
            Ok(accept) => response(200, None, accept.chosen_protocol()),
            Err(err) => self.rejection(&err),
        }
    }

    /// Saves an accepted connection in the store, if there is one.
    async fn track(&self, ws: &WebSocket, accept: Accept) -> Result<Accept, Error> {
        let Some(store) = &ws.store else {
            return Ok(accept);
        };
        let connected_at = chrono::DateTime::from_timestamp_millis(ws.connected_at)
            .filter(|_| ws.connected_at > 0)
            .unwrap_or_else(chrono::Utc::now);
        let mut connection = Connection::new(ws.connection_id.clone(), connected_at)
            .ttl(self.connection_ttl)
            .with_metadata_map(accept.metadata.clone());
        if let Some(user) = &accept.user_id {
            connection = connection.user(user.clone());
        }
        store.save(&connection).await?;
        Ok(accept)
    }

    fn rejection(&self, err: &Error) -> ApiGatewayProxyResponse {
        log_error(err);
        response(
            err.status(),
            Some(err.envelope_json(self.scrub_errors)),
            None,
        )
    }

    async fn disconnect(
        &self,
        ws: Arc<WebSocket>,
        state: State,
        info: Disconnect,
    ) -> ApiGatewayProxyResponse {
        if let Some(hook) = &self.on_disconnect {
            let ctx = Self::context(&ws, state);
            // A panicking hook is logged where it is caught; the store still forgets
            // the connection.
            let _ = catch_panic(|| hook(ctx, info)).await;
        }
        if let Some(store) = &ws.store {
            if let Err(err) = store.delete(&ws.connection_id).await {
                log_error(&err);
            }
        }
        response(200, None, None)
    }

    async fn message(
        &self,
        ws: Arc<WebSocket>,
        state: State,
        body: Frame,
    ) -> ApiGatewayProxyResponse {
        match self.run_service(&ws, state, body).await {
            Ok(output) => {
                let body = output.data_envelope();
                if self.reply && !self.two_way {
                    post_to_caller(&ws, &body).await;
                }
                response(200, Some(body), None)
            }
            Err(err) => {
                log_error(&err);
                let body = err.envelope_json(self.scrub_errors);
                if !self.two_way {
                    post_to_caller(&ws, &body).await;
                }
                response(err.status(), Some(body), None)
            }
        }
    }

    async fn run_service(
        &self,
        ws: &Arc<WebSocket>,
        state: State,
        body: Frame,
    ) -> Result<Output, Error> {
        if self.unavailable {
            return Err(Error::unavailable("The service is switched off"));
        }
        let text = body.decode()?;
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Error::payload_too_large(format!(
                "The message is {} bytes, over the {MAX_MESSAGE_BYTES}-byte limit",
                text.len()
            )));
        }
        let raw = input::from_json_text(&text)?;
        let selected = self.route_selection.select(&raw);
        let service = self.router.find(&ws.route_key, selected).ok_or_else(|| {
            let route = selected.unwrap_or(&ws.route_key);
            Error::not_found(format!("No service answers the route \"{route}\""))
        })?;
        service.call(raw, Self::context(ws, state)).await
    }
}

/// A message event's body as API Gateway sent it.
struct Frame {
    text: Option<String>,
    base64: bool,
}

impl Frame {
    /// The frame's text; base64 bodies decoded.
    fn decode(self) -> Result<String, Error> {
        let text = self.text.unwrap_or_default();
        if !self.base64 {
            return Ok(text);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|err| {
                Error::bad_request(format!("The body is marked base64 but is not: {err}"))
            })?;
        String::from_utf8(bytes).map_err(|_| Error::bad_request("The body is not UTF-8 text"))
    }
}

/// Posts to the caller; a failure (usually a client that already left) is logged,
/// not raised: the event itself was handled.
async fn post_to_caller(ws: &WebSocket, body: &str) {
    if let Err(err) = ws.post(&ws.connection_id, body.as_bytes()).await {
        if err.is_gone() {
            tracing::debug!("caller left before the reply");
        } else {
            tracing::warn!(error = %err, "could not post to the caller");
        }
    }
}

fn log_error(err: &Error) {
    if err.kind().is_server_error() {
        tracing::error!(status = err.status(), error = %err, "request failed");
    } else {
        tracing::info!(status = err.status(), error = %err, "request refused");
    }
}

pub(crate) fn response(
    status: u16,
    body: Option<String>,
    protocol: Option<&str>,
) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    // API Gateway ignores a WebSocket route's response headers (only $connect's
    // Sec-WebSocket-Protocol reaches the client), so none are set for the body.
    response.body = body.map(Body::Text);
    if let Some(protocol) = protocol.and_then(|p| HeaderValue::from_str(p).ok()) {
        response
            .headers
            .insert(HeaderName::from_static("sec-websocket-protocol"), protocol);
    }
    response
}

/// The Management API of an event whose endpoint cannot be worked out: every call
/// fails with the reason, which reaches the logs and the service's errors.
struct Unconfigured(String);

#[async_trait::async_trait]
impl ManagementApi for Unconfigured {
    async fn post(&self, _id: &str, _data: &[u8]) -> Result<(), ManagementError> {
        Err(ManagementError::Other(self.0.clone()))
    }
    async fn get(&self, _id: &str) -> Result<super::ConnectionInfo, ManagementError> {
        Err(ManagementError::Other(self.0.clone()))
    }
    async fn delete(&self, _id: &str) -> Result<(), ManagementError> {
        Err(ManagementError::Other(self.0.clone()))
    }
}
