//! Which service answers a WebSocket message: by route key, by the value the route
//! selection expression picks from the body, or a fallback.

use std::sync::Arc;

use serde_json::Value;

use crate::{Error, Service};

/// API Gateway's route selection expression, `$request.body.action` by default.
///
/// The local gateway evaluates it to pick a route key, the adapter uses it to
/// dispatch `$default` messages inside one Lambda, and the deploy template writes it
/// into the API, so all three agree.
///
/// ```
/// use fabric::websocket::RouteSelection;
/// use serde_json::json;
///
/// let selection = RouteSelection::default();
/// assert_eq!(selection.expression(), "$request.body.action");
/// assert_eq!(selection.select(&json!({"action": "join"})), Some("join"));
/// assert_eq!(selection.select(&json!({"action": 7})), None);
///
/// let nested = RouteSelection::parse("$request.body.meta.type").unwrap();
/// assert_eq!(nested.select(&json!({"meta": {"type": "ping"}})), Some("ping"));
/// assert!(RouteSelection::parse("$request.header.x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSelection {
    expression: String,
    path: Vec<String>,
}

impl RouteSelection {
    const PREFIX: &'static str = "$request.body.";

    /// Parses an expression of the form `$request.body.<field>[.<field>...]`, the
    /// form API Gateway supports for WebSocket APIs.
    pub fn parse(expression: &str) -> Result<RouteSelection, Error> {
        let path: Vec<String> = expression
            .strip_prefix(Self::PREFIX)
            .map(|rest| rest.split('.').map(str::to_owned).collect())
            .unwrap_or_default();
        if path.is_empty() || path.iter().any(String::is_empty) {
            return Err(Error::internal_message(format!(
                "unsupported route selection expression `{expression}`: expected `$request.body.<field>`"
            )));
        }
        Ok(RouteSelection {
            expression: expression.to_owned(),
            path,
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The route key the expression picks from a parsed body, if the body has a
    /// string there.
    pub fn select<'a>(&self, body: &'a Value) -> Option<&'a str> {
        self.path
            .iter()
            .try_fold(body, |value, key| value.get(key))
            .and_then(Value::as_str)
    }

    /// The route key for a raw text frame, as API Gateway picks it: the selected
    /// value if it names one of `keys`, else `$default` (also for non-JSON bodies).
    ///
    /// ```
    /// use fabric::websocket::RouteSelection;
    /// let selection = RouteSelection::default();
    /// let keys = ["join", "leave"];
    /// assert_eq!(selection.route_key(r#"{"action":"join"}"#, &keys), "join");
    /// assert_eq!(selection.route_key(r#"{"action":"dance"}"#, &keys), "$default");
    /// assert_eq!(selection.route_key("not json", &keys), "$default");
    /// ```
    pub fn route_key<'k>(&self, body: &str, keys: &[&'k str]) -> &'k str {
        let Ok(parsed) = serde_json::from_str::<Value>(body) else {
            return "$default";
        };
        self.select(&parsed)
            .and_then(|selected| keys.iter().find(|key| **key == selected).copied())
            .unwrap_or("$default")
    }
}

impl Default for RouteSelection {
    fn default() -> Self {
        RouteSelection::parse("$request.body.action").expect("the default expression parses")
    }
}

/// Several services in one WebSocket Lambda, each under a route key.
///
/// A message goes to the service whose key equals its route key; a `$default`
/// message goes to the service whose key the route selection picks from its body
/// (so one Lambda works whether or not the API declares the custom routes), and
/// otherwise to the fallback.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::websocket::WebSocketRouter;
///
/// #[derive(Deserialize, Input)]
/// struct Room { room: String }
///
/// #[fabric_service]
/// async fn join(input: Room, _ctx: Context) -> Result<String, Error> { Ok(input.room) }
/// #[fabric_service]
/// async fn leave(input: Room, _ctx: Context) -> Result<String, Error> { Ok(input.room) }
///
/// let router = WebSocketRouter::new().service(join).route("bye", leave);
/// assert_eq!(router.route_keys(), vec!["join", "bye"]);
/// ```
#[derive(Clone, Default)]
pub struct WebSocketRouter {
    routes: Vec<(String, Arc<dyn Service>)>,
    fallback: Option<Arc<dyn Service>>,
}

impl std::fmt::Debug for WebSocketRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketRouter")
            .field("routes", &self.route_keys())
            .field("fallback", &self.fallback.as_ref().map(|s| s.alias()))
            .finish()
    }
}

impl WebSocketRouter {
    /// A router with no routes.
    pub fn new() -> WebSocketRouter {
        WebSocketRouter::default()
    }

    /// Serves `service` under the route key `key`.
    ///
    /// # Panics
    /// When `key` is empty or starts with `$` (the reserved routes are not services).
    pub fn route(mut self, key: &str, service: impl Service) -> WebSocketRouter {
        assert!(
            !key.is_empty() && !key.starts_with('$'),
            "route key `{key}` is reserved or empty; use `fallback` for `$default`"
        );
        self.routes.push((key.to_owned(), Arc::new(service)));
        self
    }

    /// Serves `service` under its alias.
    pub fn service(self, service: impl Service) -> WebSocketRouter {
        let key = service.alias().to_owned();
        self.route(&key, service)
    }

    /// Serves every message no route claims.
    pub fn fallback(mut self, service: impl Service) -> WebSocketRouter {
        self.fallback = Some(Arc::new(service));
        self
    }

    /// The custom route keys, in the order they were added.
    pub fn route_keys(&self) -> Vec<&str> {
        self.routes.iter().map(|(key, _)| key.as_str()).collect()
    }

    /// Whether a custom route `key` was added (not a fallback), without listing
    /// them all.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::WebSocketRouter;
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Beat {}
    ///
    /// #[fabric_service]
    /// async fn ping(_input: Beat, _ctx: Context) -> Result<String, Error> { Ok("mine".into()) }
    ///
    /// let router = WebSocketRouter::new().service(ping);
    /// assert!(router.has_route("ping"));
    /// assert!(!router.has_route("join"));
    /// ```
    pub fn has_route(&self, key: &str) -> bool {
        self.routes.iter().any(|(route, _)| route == key)
    }

    /// Whether a fallback serves `$default`.
    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// The service for a message with `route_key`, and `selected` (the value of the
    /// route selection expression in its body, if any).
    pub(crate) fn find(
        &self,
        route_key: &str,
        selected: Option<&str>,
    ) -> Option<&Arc<dyn Service>> {
        let wanted = if route_key == "$default" {
            selected
        } else {
            Some(route_key)
        };
        wanted
            .and_then(|key| self.routes.iter().find(|(k, _)| k == key))
            .map(|(_, service)| service)
            .or(self.fallback.as_ref())
    }
}

impl<S: Service> From<S> for WebSocketRouter {
    /// One service answering every message.
    fn from(service: S) -> WebSocketRouter {
        WebSocketRouter::new().fallback(service)
    }
}
