//! What adapters and applications serve, as plain data: route keys, selection
//! expressions, HTTP endpoints, which function serves what. Adapters describe
//! themselves with these types; the deploy templates and the local runtime read
//! them, never the adapters' own types, so dependencies run one way
//! (core → transports → this data → runtimes and deploy).

use std::time::Duration;

/// What a WebSocket adapter serves.
///
/// ```
/// use fabric::describe::WebSocketRoutes;
/// let routes = WebSocketRoutes::default();
/// assert!(routes.custom_keys.is_empty() && !routes.two_way);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSocketRoutes {
    /// The route keys it needs when it serves a whole API alone: `$connect` (with a
    /// connect hook or a connection store), `$disconnect`, `$default` and the custom
    /// keys.
    pub route_keys: Vec<String>,
    /// The custom route keys its router serves, in order.
    pub custom_keys: Vec<String>,
    /// Whether a fallback service answers messages no custom key claims.
    pub has_fallback: bool,
    /// The route selection expression it was given; `None` for the default
    /// (`$request.body.action`) or the API's.
    pub selection: Option<String>,
    /// Whether its routes have route responses (API Gateway returns their bodies).
    pub two_way: bool,
    /// Whether it tracks connections in a connection store.
    pub tracks_connections: bool,
    /// Whether it posts to connections, when it says so; `None` leaves it to the
    /// routes it serves.
    pub posts: Option<bool>,
    /// The stage throttling it asks of the API it serves.
    pub stage_throttling: Option<StageThrottling>,
    /// Throttling of single routes (route key, limits), which replaces the stage's
    /// for those routes.
    pub route_throttling: Vec<(String, StageThrottling)>,
    /// Whether a rate limit keeps its buckets in the rate limit table.
    pub uses_rate_limit_table: bool,
}

/// API Gateway's throttling of a stage's routes: the template's
/// `DefaultRouteSettings` (`ThrottlingRateLimit`, `ThrottlingBurstLimit`), applied by
/// the local gateway too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageThrottling {
    /// Steady requests per second, across every connection of the stage.
    pub rate_limit: u32,
    /// Most requests at once.
    pub burst_limit: u32,
}

/// One path of an HTTP router, in API Gateway's syntax (`/users/{id}`), and the
/// methods it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The path.
    pub path: String,
    /// The methods, upper case (`GET`, `POST`).
    pub methods: Vec<String>,
}

/// What an HTTP router serves.
///
/// ```
/// use fabric::describe::HttpRoutes;
/// assert!(HttpRoutes::default().endpoints.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRoutes {
    /// Its endpoints, in the order they were added.
    pub endpoints: Vec<Endpoint>,
    /// Whether it answers CORS preflights (`OPTIONS`).
    pub cors: bool,
    /// Whether it answers in Lambda's response streaming mode (behind a function URL).
    pub streaming: bool,
}

/// What one adapter serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serves {
    /// WebSocket routes.
    WebSocket(WebSocketRoutes),
    /// HTTP endpoints.
    Http(HttpRoutes),
    /// A Lambda REQUEST authorizer for a WebSocket API's `$connect`, with its
    /// identity sources (`route.request.querystring.token`).
    Authorizer(Vec<String>),
    /// A stale-connection sweep of a WebSocket API, run on a schedule.
    Sweep(SweepDescription),
}

/// A stale-connection sweep: the WebSocket API whose connections it checks, and how
/// often and how long it runs. The template schedules its function with
/// EventBridge (`Events: Type: Schedule`) and grants it `GetConnection` on that
/// API's `@connections`.
///
/// ```
/// use std::time::Duration;
/// use fabric::describe::SweepDescription;
/// let sweep = SweepDescription::new("Chat").every(Duration::from_secs(30 * 60));
/// assert_eq!(sweep.schedule(), "rate(30 minutes)");
/// assert_eq!(sweep.time_budget, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepDescription {
    /// The WebSocket API whose connections it checks.
    pub api: String,
    /// How often it runs (whole minutes, at least one).
    pub every: Duration,
    /// The longest one run goes on; the function's timeout defaults to 30 s more.
    pub time_budget: Duration,
}

impl SweepDescription {
    /// A sweep of the WebSocket API `api`, every 15 minutes, 60 seconds per run.
    pub fn new(api: impl Into<String>) -> SweepDescription {
        SweepDescription {
            api: api.into(),
            every: Duration::from_secs(15 * 60),
            time_budget: Duration::from_secs(60),
        }
    }

    /// How often it runs.
    pub fn every(mut self, every: Duration) -> SweepDescription {
        self.every = every;
        self
    }

    /// The longest one run goes on.
    pub fn time_budget(mut self, budget: Duration) -> SweepDescription {
        self.time_budget = budget;
        self
    }

    /// The EventBridge schedule expression: `rate(N minutes)`.
    pub fn schedule(&self) -> String {
        match (self.every.as_secs() / 60).max(1) {
            1 => "rate(1 minute)".to_owned(),
            minutes => format!("rate({minutes} minutes)"),
        }
    }

    /// The function's timeout when its settings give none: the time budget and 30
    /// seconds, so a run that starts its last check near the budget still ends.
    pub fn default_timeout(&self) -> Duration {
        self.time_budget + Duration::from_secs(30)
    }
}

/// A function's Lambda settings, for its template.
///
/// ```
/// use std::time::Duration;
/// use fabric::describe::FunctionSettings;
/// let settings = FunctionSettings::default().memory_mb(512).timeout(Duration::from_secs(10)).env("RUST_LOG", "debug");
/// assert_eq!(settings.memory_mb, Some(512));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionSettings {
    /// Memory in MB (which also sets the CPU share); default 256.
    pub memory_mb: Option<u32>,
    /// The longest one invocation may run; default 29 s, API Gateway's integration
    /// timeout.
    pub timeout: Option<Duration>,
    /// Environment variables of the function.
    pub environment: Vec<(String, String)>,
}

impl FunctionSettings {
    /// Memory in MB.
    pub fn memory_mb(mut self, memory_mb: u32) -> FunctionSettings {
        self.memory_mb = Some(memory_mb);
        self
    }

    /// The longest one invocation may run.
    pub fn timeout(mut self, timeout: Duration) -> FunctionSettings {
        self.timeout = Some(timeout);
        self
    }

    /// An environment variable of the function.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> FunctionSettings {
        self.environment.push((name.to_owned(), value.into()));
        self
    }
}

/// One function of an application: a binary serving one adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDescription {
    /// Its name: the Cargo binary, and the base of its resources' names.
    pub name: String,
    /// What its adapter serves.
    pub serves: Serves,
    /// The API it serves routes of, if any.
    pub api: Option<String>,
    /// Whether it uses the application's connection store.
    pub uses_store: bool,
    /// Whether it keeps rate limit buckets in the application's rate limit table.
    pub uses_rate_limit_table: bool,
    /// Whether it posts to WebSocket connections (and needs
    /// `execute-api:ManageConnections`).
    pub posts: bool,
    /// Its Lambda settings.
    pub settings: FunctionSettings,
    /// The secrets it declares (`.secrets([...])`), by name.
    pub secrets: Vec<String>,
}

/// One route of a WebSocket API and the function that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketRoute {
    /// The route key: `$connect`, `$disconnect`, `$default` or a custom key.
    pub key: String,
    /// The function serving it.
    pub function: String,
    /// Whether the route has a route response.
    pub two_way: bool,
}

/// A custom domain for an API, set in code; the template still takes it as a
/// parameter, with these values as defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    /// The domain name (`chat.example.com`).
    pub domain: String,
    /// The ACM certificate's ARN, in the API's region.
    pub certificate_arn: String,
    /// The API mapping's path under the domain (empty: the root).
    pub base_path: String,
}

/// A WebSocket API of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketApiDescription {
    /// The API's name: the base of its resources' names.
    pub name: String,
    /// Its route selection expression.
    pub selection: String,
    /// Its stage when set in code; `None` takes the template's `StageName`
    /// parameter (default `prod`).
    pub stage: Option<String>,
    /// A custom domain, when set in code.
    pub custom_domain: Option<CustomDomain>,
    /// Its routes, each with the function serving it.
    pub routes: Vec<WebSocketRoute>,
    /// Its stage throttling, when set in code.
    pub throttling: Option<StageThrottling>,
    /// Its routes' own throttling (the template's `RouteSettings`), by route key.
    pub route_throttling: Vec<(String, StageThrottling)>,
    /// The Lambda authorizer its `$connect` runs behind.
    pub authorizer: Option<AuthorizerDescription>,
}

/// A WebSocket API's REQUEST authorizer: the function that decides and where API
/// Gateway reads the identity from.
///
/// ```
/// use fabric::describe::AuthorizerDescription;
/// let authorizer = AuthorizerDescription {
///     function: "chat-authorizer".into(),
///     identity_sources: vec!["route.request.querystring.token".into()],
/// };
/// assert_eq!(authorizer.identity_sources.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerDescription {
    /// The function API Gateway invokes (it may also serve routes).
    pub function: String,
    /// The identity source expressions; a handshake without one of them is 401.
    pub identity_sources: Vec<String>,
}

/// One method on one path of an HTTP API and the function that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The path, in API Gateway's syntax.
    pub path: String,
    /// The method, upper case.
    pub method: String,
    /// The function serving it.
    pub function: String,
}

/// An HTTP API of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpApiDescription {
    /// The API's name.
    pub name: String,
    /// Its routes (with `OPTIONS` where a function answers CORS).
    pub routes: Vec<HttpRoute>,
    /// The function behind the catch-all route, so unknown paths get Fabric's 404
    /// and 405 envelopes.
    pub default_function: String,
}

/// An API of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiDescription {
    /// A WebSocket API.
    WebSocket(WebSocketApiDescription),
    /// An HTTP API.
    Http(HttpApiDescription),
}

impl ApiDescription {
    /// The API's name.
    pub fn name(&self) -> &str {
        match self {
            ApiDescription::WebSocket(api) => &api.name,
            ApiDescription::Http(api) => &api.name,
        }
    }
}

/// A checked application: its functions, its APIs, and whether a connection store
/// is shared by some of them. `App::describe` (in `fabric::app`) makes
/// one; the deploy templates are written from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDescription {
    /// The application's name: the base of shared resources' names (the tables).
    pub name: String,
    /// One line for the template.
    pub description: String,
    /// Its functions, in the order they were added.
    pub functions: Vec<FunctionDescription>,
    /// Its APIs, in the order they were added.
    pub apis: Vec<ApiDescription>,
}

impl AppDescription {
    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionDescription> {
        self.functions.iter().find(|function| function.name == name)
    }

    /// Whether any function uses the connection store (and so the tables exist).
    pub fn has_store(&self) -> bool {
        self.functions.iter().any(|function| function.uses_store)
    }
}
