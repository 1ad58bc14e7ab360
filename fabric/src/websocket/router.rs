//! Which service answers a WebSocket message: by route key, by the value the route
//! selection expression picks from the body, or a fallback.

use std::sync::Arc;

use serde_json::Value;

use super::raw::RawHandler;
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
    routes: Vec<(String, Handler)>,
    fallback: Option<Handler>,
}

/// A route's handler: a service, or a [`RawHandler`] that takes the frame's text.
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) service: Arc<dyn Service>,
    /// Whether it takes the frame's text as sent rather than parsed JSON.
    pub(crate) raw: bool,
}

impl Handler {
    fn typed(service: impl Service) -> Handler {
        Handler {
            service: Arc::new(service),
            raw: false,
        }
    }

    fn raw(handler: RawHandler) -> Handler {
        Handler {
            service: Arc::new(handler),
            raw: true,
        }
    }
}

impl std::fmt::Debug for WebSocketRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketRouter")
            .field("routes", &self.route_keys())
            .field(
                "fallback",
                &self.fallback.as_ref().map(|h| h.service.alias()),
            )
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
    pub fn route(self, key: &str, service: impl Service) -> WebSocketRouter {
        self.add(key, Handler::typed(service))
    }

    /// Serves `handler` under the route key `key`, with the frame's text as sent.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::{RawHandler, WebSocketRouter};
    ///
    /// let shout = RawHandler::new("shout", |text: String, _ctx: Context| async move {
    ///     Ok(text.to_uppercase())
    /// });
    /// let router = WebSocketRouter::new().raw_route("shout", shout);
    /// assert!(router.has_route("shout"));
    /// ```
    ///
    /// # Panics
    /// When `key` is empty or starts with `$`, as [`route`](WebSocketRouter::route).
    pub fn raw_route(self, key: &str, handler: RawHandler) -> WebSocketRouter {
        self.add(key, Handler::raw(handler))
    }

    fn add(mut self, key: &str, handler: Handler) -> WebSocketRouter {
        assert!(
            !key.is_empty() && !key.starts_with('$'),
            "route key `{key}` is reserved or empty; use `fallback` for `$default`"
        );
        self.routes.push((key.to_owned(), handler));
        self
    }

    /// Serves `service` under its alias.
    pub fn service(self, service: impl Service) -> WebSocketRouter {
        let key = service.alias().to_owned();
        self.route(&key, service)
    }

    /// Serves every message no route claims.
    pub fn fallback(mut self, service: impl Service) -> WebSocketRouter {
        self.fallback = Some(Handler::typed(service));
        self
    }

    /// Serves every message no route claims with `handler`, which gets the frame's
    /// text as sent: text that is not JSON (`ping`, a line protocol) reaches it
    /// instead of a 400.
    pub fn raw_fallback(mut self, handler: RawHandler) -> WebSocketRouter {
        self.fallback = Some(Handler::raw(handler));
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
    /// route selection expression in its body, if any), with the key it was found
    /// by: its route's, or `route_key` for the fallback.
    pub(crate) fn find<'a>(
        &'a self,
        route_key: &'a str,
        selected: Option<&str>,
    ) -> Option<(&'a str, &'a Handler)> {
        let wanted = if route_key == "$default" {
            selected
        } else {
            Some(route_key)
        };
        wanted
            .and_then(|key| self.routes.iter().find(|(k, _)| k == key))
            .map(|(key, handler)| (key.as_str(), handler))
            .or_else(|| self.fallback.as_ref().map(|handler| (route_key, handler)))
    }
}

impl<S: Service> From<S> for WebSocketRouter {
    /// One service answering every message.
    fn from(service: S) -> WebSocketRouter {
        WebSocketRouter::new().fallback(service)
    }
}
