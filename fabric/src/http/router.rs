//! Routes, and the router that holds them with its CORS, auth and state.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use http::Method;

use super::auth::Authorizer;
use super::cors::Cors;
use super::route::{PathPattern, Route, Segment, Target};
use crate::Error;
use crate::describe::{Endpoint, HttpRoutes};
use crate::settings::{AdapterSettings, adapter_settings_methods};

fn add_unique<'r>(methods: &mut Vec<&'r Method>, more: &'r [Method]) {
    for method in more {
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
}

/// A route ready to match.
pub(super) struct RouteEntry {
    pub(super) target: Target,
    pattern: PathPattern,
    pub(super) methods: Vec<Method>,
    /// The path as written (`/rooms/:room`), for layers and the `route` metrics dimension.
    pub(super) path: String,
    text: String,
}

/// What the router found for a request.
pub(super) enum Matched<'r, 'p> {
    /// A route that takes this method, with its raw path parameters.
    Route(&'r RouteEntry, Vec<(&'r str, &'p str)>),
    /// Routes on this path, none with this method: their methods.
    OtherMethods(Vec<&'r Method>),
    /// No route on this path.
    Nothing,
}

/// The configuration shared by every request of a router.
#[derive(Clone)]
pub(super) struct Config {
    pub(super) routes: Vec<Arc<RouteEntry>>,
    pub(super) cors: Option<Cors>,
    pub(super) authorizer: Option<Authorizer>,
    pub(super) settings: AdapterSettings,
    pub(super) body_limit: usize,
    /// On Lambda, answer in the response streaming mode of function URLs.
    pub(super) lambda_streaming: bool,
}

impl Config {
    /// The route for `method` on `path`; among several, the one with the fewest
    /// parameters, so `/users/me` wins over `/users/:id`.
    pub(super) fn find<'r, 'p>(&'r self, method: &Method, path: &'p str) -> Matched<'r, 'p> {
        let mut best: Option<(&'r RouteEntry, Vec<(&'r str, &'p str)>)> = None;
        let mut others: Vec<&'r Method> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.pattern.matches(path) else {
                continue;
            };
            if !takes(&route.methods, method) {
                add_unique(&mut others, &route.methods);
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(current, _)| route.pattern.params() < current.pattern.params())
            {
                best = Some((route, params));
            }
        }
        match best {
            Some((route, params)) => Matched::Route(route, params),
            None if others.is_empty() => Matched::Nothing,
            None => Matched::OtherMethods(others),
        }
    }

    /// Every method any route on `path` takes.
    pub(super) fn methods_on(&self, path: &str) -> Vec<&Method> {
        let mut methods: Vec<&Method> = Vec::new();
        for route in &self.routes {
            if route.pattern.matches(path).is_some() {
                add_unique(&mut methods, &route.methods);
            }
        }
        methods
    }
}

/// Whether a route with `methods` answers `method`. HEAD is a GET without the body
/// (the server leaves the body out), so it goes wherever GET does.
fn takes(methods: &[Method], method: &Method) -> bool {
    methods.contains(method) || (*method == Method::HEAD && methods.contains(&Method::GET))
}

/// The `Allow` header for routes taking `methods`: HEAD wherever GET is, as
/// [`takes`] answers it, and OPTIONS everywhere.
pub(super) fn allow_header(mut methods: Vec<&Method>) -> http::HeaderValue {
    if methods.contains(&&Method::GET) && !methods.contains(&&Method::HEAD) {
        methods.push(&Method::HEAD);
    }
    methods.push(&Method::OPTIONS);
    super::cors::method_list(&methods)
}

/// Several services behind one HTTP endpoint: a tower [`Service`](tower_service::Service)
/// of HTTP requests that [`fabric::run`](crate::run) serves on Lambda (API Gateway
/// REST and HTTP APIs, function URLs, ALB) or on a local server.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::http::{Cors, HttpRouter, Method, Route};
///
/// #[derive(Deserialize, Input)]
/// struct Nothing {}
///
/// #[fabric_service(alias = "status")]
/// async fn status(_input: Nothing, _ctx: Context) -> Result<&'static str, Error> {
///     Ok("ok")
/// }
///
/// #[fabric_service(alias = "whoami")]
/// async fn whoami(_input: Nothing, ctx: Context) -> Result<String, Error> {
///     Ok(ctx.extension::<User>().map(|u| u.0.clone()).unwrap_or_default())
/// }
///
/// struct User(String);
///
/// let router = HttpRouter::new()
///     .route(status)
///     .route(Route::new(whoami).path("/me").methods([Method::GET]))
///     .cors(Cors::new().allow_origins(["https://app.example.com"]))
///     .authorize(|token: String| async move {
///         if token == "letmein" { Ok(User("ada".into())) } else { Err(Error::forbidden("Unknown token")) }
///     });
/// assert_eq!(router.routes().len(), 2);
/// ```
#[derive(Clone)]
pub struct HttpRouter {
    pub(super) config: Arc<Config>,
}

adapter_settings_methods!(HttpRouter, "fabric_http(svc)");

impl Default for HttpRouter {
    fn default() -> Self {
        HttpRouter::new()
    }
}

/// Lambda's limit on a synchronous request payload.
const DEFAULT_BODY_LIMIT: usize = 6 * 1024 * 1024;

impl HttpRouter {
    /// A router with no routes, CORS for every origin, no authorizer, error scrubbing on.
    pub fn new() -> HttpRouter {
        HttpRouter {
            config: Arc::new(Config {
                routes: Vec::new(),
                cors: Some(Cors::new()),
                authorizer: None,
                settings: AdapterSettings::new(true),
                body_limit: DEFAULT_BODY_LIMIT,
                lambda_streaming: false,
            }),
        }
    }

    fn configure(mut self, change: impl FnOnce(&mut Config)) -> HttpRouter {
        change(Arc::make_mut(&mut self.config));
        self
    }

    pub(crate) fn with_settings(
        self,
        change: impl FnOnce(AdapterSettings) -> AdapterSettings,
    ) -> Self {
        self.configure(|config| {
            let settings = std::mem::replace(&mut config.settings, AdapterSettings::new(true));
            config.settings = change(settings);
        })
    }

    /// The settings shared with the other adapters.
    pub fn settings(&self) -> &AdapterSettings {
        &self.config.settings
    }

    /// What this router serves, as plain data for templates and the local server.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn user(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let routes = fabric_http(user).describe();
    /// assert_eq!(routes.endpoints[0].path, "/user");
    /// assert_eq!(routes.endpoints[0].methods, ["GET", "POST"]);
    /// assert!(routes.cors && !routes.streaming);
    /// ```
    pub fn describe(&self) -> HttpRoutes {
        HttpRoutes {
            endpoints: self
                .endpoints()
                .into_iter()
                .map(|(path, methods)| Endpoint {
                    path,
                    methods: methods.iter().map(|m| m.as_str().to_owned()).collect(),
                })
                .collect(),
            cors: self.has_cors(),
            streaming: self.streams_on_lambda(),
        }
    }

    /// Whether a route of this router is on `path` (any method): the local server of
    /// an HTTP API of several functions sends the request to that function.
    #[cfg(feature = "local")]
    pub(crate) fn serves_path(&self, path: &str) -> bool {
        !self.config.methods_on(path).is_empty()
    }

    /// Adds a route: a service (at `/{alias}`, GET and POST) or a [`Route`].
    ///
    /// # Panics
    ///
    /// When another route has the same path and one of the same methods.
    pub fn route(self, route: impl Into<Route>) -> HttpRouter {
        let route = route.into();
        let text = route.path_text();
        let pattern = PathPattern::parse(&text);
        self.configure(|config| {
            for existing in &config.routes {
                let same_path = existing.pattern.segments.len() == pattern.segments.len()
                    && existing.pattern.segments.iter().zip(&pattern.segments).all(
                        |pair| match pair {
                            (Segment::Literal(a), Segment::Literal(b)) => a == b,
                            (Segment::Param(_), Segment::Param(_)) => true,
                            _ => false,
                        },
                    );
                if same_path && existing.methods.iter().any(|m| route.methods.contains(m)) {
                    panic!("route {route} overlaps route {}", existing.text);
                }
            }
            config.routes.push(Arc::new(RouteEntry {
                text: route.to_string(),
                path: text,
                target: route.target,
                pattern,
                methods: route.methods,
            }));
        })
    }

    /// Sets the CORS policy; the default allows every origin.
    pub fn cors(self, cors: Cors) -> HttpRouter {
        self.configure(|config| config.cors = Some(cors))
    }

    /// Sends no CORS headers at all (for APIs that are not called from browsers, or
    /// when API Gateway answers CORS itself).
    pub fn disable_cors(self) -> HttpRouter {
        self.configure(|config| config.cors = None)
    }

    /// Requires a Bearer token on every request (preflights excepted). A request
    /// without one is a 401 before any service runs; otherwise `authorize` gets the
    /// token (the text after `Bearer `, in any case, trimmed) and either refuses with
    /// its error (401, 403, ...) or returns a value that services find with
    /// [`Context::extension`](crate::Context::extension).
    pub fn authorize<F, Fut, T>(self, authorize: F) -> HttpRouter
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        self.configure(|config| config.authorizer = Some(Authorizer::new(authorize)))
    }

    /// The largest request body accepted, in bytes; larger is a 413. Default 6 MB,
    /// Lambda's own limit.
    pub fn body_limit(self, bytes: usize) -> HttpRouter {
        self.configure(|config| config.body_limit = bytes)
    }

    /// Each route's path in API Gateway's syntax (`/users/{id}`) with its methods, in
    /// the order they were added: what an infrastructure template declares.
    ///
    /// ```
    /// use fabric::http::{Method, Route};
    /// use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn user(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let router = fabric_http(Route::new(user).path("/users/:id").methods([Method::GET]));
    /// assert_eq!(router.endpoints(), vec![("/users/{id}".to_string(), vec![Method::GET])]);
    /// ```
    pub fn endpoints(&self) -> Vec<(String, Vec<Method>)> {
        self.config
            .routes
            .iter()
            .map(|route| {
                let path: String = route
                    .pattern
                    .segments
                    .iter()
                    .map(|segment| match segment {
                        Segment::Literal(text) => format!("/{text}"),
                        Segment::Param(name) => format!("/{{{name}}}"),
                    })
                    .collect();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                (path, route.methods.clone())
            })
            .collect()
    }

    /// On Lambda, sends every response in Lambda's response streaming mode, so
    /// `send_message` reaches clients that ask for NDJSON or server-sent events as it
    /// is sent, not with the result. For a function URL whose invoke mode is
    /// `RESPONSE_STREAM` (what the generated template sets up for such a router):
    /// API Gateway cannot stream, so leave this off behind it. The local server
    /// streams either way.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn report(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let router = fabric_http(report).lambda_streaming(true);
    /// assert!(router.streams_on_lambda());
    /// ```
    pub fn lambda_streaming(self, stream: bool) -> HttpRouter {
        self.configure(|config| config.lambda_streaming = stream)
    }

    /// Whether responses stream on Lambda; see [`HttpRouter::lambda_streaming`].
    pub fn streams_on_lambda(&self) -> bool {
        self.config.lambda_streaming
    }

    /// Whether the router answers CORS (preflights included).
    pub fn has_cors(&self) -> bool {
        self.config.cors.is_some()
    }

    /// The routes, as `METHODS /path → alias`, in the order they were added.
    pub fn routes(&self) -> Vec<String> {
        self.config
            .routes
            .iter()
            .map(|route| route.text.clone())
            .collect()
    }
}

impl fmt::Debug for HttpRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRouter")
            .field("routes", &self.routes())
            .field("cors", &self.config.cors)
            .field("authorizer", &self.config.authorizer.is_some())
            .field("settings", &self.config.settings)
            .field("lambda_streaming", &self.config.lambda_streaming)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Service;

    #[test]
    fn patterns_match_literals_and_parameters() {
        let pattern = PathPattern::parse("/rooms/:room/members");
        assert_eq!(
            pattern.matches("/rooms/general/members"),
            Some(vec![("room", "general")])
        );
        assert_eq!(
            pattern.matches("/rooms/general/members/"),
            Some(vec![("room", "general")])
        );
        assert_eq!(pattern.matches("/rooms/general"), None);
        assert_eq!(pattern.matches("/rooms/general/members/x"), None);
        assert_eq!(pattern.matches("/room/general/members"), None);
        assert_eq!(PathPattern::parse("/").matches("/"), Some(vec![]));
    }

    #[test]
    #[should_panic(expected = "route POST /items/:name → b overlaps route GET,POST /items/:id → a")]
    fn overlapping_routes_are_refused() {
        let _ = HttpRouter::new()
            .route(Route::new(named("a")).path("/items/:id"))
            .route(
                Route::new(named("b"))
                    .path("/items/:name")
                    .methods([Method::POST]),
            );
    }

    #[test]
    fn literal_segments_win_over_parameters_and_methods_are_collected() {
        let router = HttpRouter::new()
            .route(Route::new(named("by-id")).path("/users/:id"))
            .route(
                Route::new(named("me"))
                    .path("/users/me")
                    .methods([Method::GET]),
            )
            .route(
                Route::new(named("remove"))
                    .path("/users/:id")
                    .methods([Method::DELETE]),
            );
        let config = &router.config;
        match config.find(&Method::GET, "/users/me") {
            Matched::Route(route, params) => {
                assert_eq!(route.target.name(), "me");
                assert!(params.is_empty());
            }
            _ => panic!("/users/me has a route"),
        }
        match config.find(&Method::GET, "/users/7") {
            Matched::Route(route, params) => {
                assert_eq!(route.target.name(), "by-id");
                assert_eq!(params, [("id", "7")]);
            }
            _ => panic!("/users/7 has a route"),
        }
        match config.find(&Method::PUT, "/users/7") {
            Matched::OtherMethods(methods) => {
                assert_eq!(methods, [&Method::GET, &Method::POST, &Method::DELETE])
            }
            _ => panic!("PUT is not allowed"),
        }
        assert!(matches!(
            config.find(&Method::GET, "/nope"),
            Matched::Nothing
        ));
    }

    /// A service that only has a name.
    fn named(alias: &'static str) -> impl Service {
        struct Named(&'static str);
        impl Service for Named {
            fn alias(&self) -> &str {
                self.0
            }
            fn description(&self) -> &str {
                ""
            }
            fn input(&self) -> &'static crate::input::Shape {
                static EMPTY: std::sync::LazyLock<crate::input::Shape> =
                    std::sync::LazyLock::new(|| crate::input::Shape {
                        name: "Empty",
                        description: None,
                        fields: Vec::new(),
                    });
                &EMPTY
            }
            fn serve(
                &self,
                _raw: serde_json::Value,
                _ctx: crate::Context,
            ) -> futures_util::future::BoxFuture<'static, Result<crate::Output, Error>>
            {
                Box::pin(async { Ok(crate::Output::Empty) })
            }
        }
        Named(alias)
    }

    #[test]
    #[should_panic(expected = "must start with `/`")]
    fn a_path_without_a_slash_is_refused() {
        PathPattern::parse("division");
    }
}
