//! Layers: code that runs around every call of a service, on every transport.
//!
//! A [`Layer`] gets the call as a [`ServiceRequest`] — the service (its alias), the
//! route the transport reached it by, the [`Transport`], the raw input and the
//! [`Context`] — and a [`Next`] that runs the rest of the chain. It can
//!
//! - refuse the call with an [`Error`] without running the service; each transport
//!   answers in its own form (a WebSocket error frame, an HTTP status, a command
//!   line's exit code);
//! - put per-request values into the context ([`ServiceRequest::insert`]), which
//!   the service reads with [`Context::extension`];
//! - run code after the service and see (or change) its result.
//!
//! Every adapter takes layers with `.layer(..)` (`fabric_websocket`,
//! `fabric_http`, `fabric_cli`, `fabric_mcp`), so one layer written once applies to
//! the same service on each of them; an `App` (`App::layer`) applies its own to
//! every function. Layers run in the order they were added, the first outermost,
//! inside the transport's panic guard: a panicking layer is a 500 like a panicking
//! service. With no layer, a call costs what it did without them.
//!
//! ```
//! use fabric::prelude::*;
//! use fabric::layer::{Next, ServiceRequest, Transport};
//!
//! #[derive(Deserialize, Input)]
//! struct Nothing {}
//!
//! /// Who the layer found.
//! #[derive(Clone)]
//! struct Caller(String);
//!
//! #[fabric_service(alias = "whoami")]
//! async fn whoami(_input: Nothing, ctx: Context) -> Result<String, Error> {
//!     Ok(ctx.extension::<Caller>().map(|c| c.0.clone()).unwrap_or_default())
//! }
//!
//! async fn require_caller(mut request: ServiceRequest, next: Next) -> Result<Output, Error> {
//!     let caller = match request.context().identity().await? {
//!         Some(identity) => identity.user_id,
//!         // Off a WebSocket there is no connection identity; let the command line in.
//!         None if request.transport() == Transport::Cli => "operator".to_owned(),
//!         None => return Err(Error::unauthorized("sign in first")),
//!     };
//!     request.insert(Caller(caller));
//!     let started = std::time::Instant::now();
//!     let result = next.run(request).await;
//!     tracing::info!(took_us = started.elapsed().as_micros() as u64, "whoami answered");
//!     result
//! }
//! # use fabric::Output;
//!
//! let websocket = fabric_websocket(whoami).layer(require_caller);
//! let cli = fabric_cli(whoami).layer(require_caller);
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! assert_eq!(cli.run_from(["whoami"]).await, 0);
//! # });
//! # let _ = websocket;
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::service::Call;
use crate::{Context, Error, Output, Service, ServiceExt};

/// Code around a service's calls. Implemented for every
/// `async fn(ServiceRequest, Next) -> Result<Output, Error>` (and closures of that
/// shape); implement it on a type for a layer with settings of its own.
///
/// ```
/// use fabric::layer::{Layer, Next, ServiceRequest};
/// use fabric::{Error, Output};
/// use futures_util::future::BoxFuture;
///
/// /// Refuses every call to the aliases it names.
/// struct Closed(Vec<&'static str>);
///
/// impl Layer for Closed {
///     fn call(&self, request: ServiceRequest, next: Next) -> BoxFuture<'static, Result<Output, Error>> {
///         if self.0.contains(&request.alias()) {
///             let alias = request.alias().to_owned();
///             return Box::pin(async move { Err(Error::forbidden(format!("{alias} is closed"))) });
///         }
///         next.run(request)
///     }
/// }
/// # let _ = Closed(vec!["admin"]);
/// ```
pub trait Layer: Send + Sync + 'static {
    /// Runs around one call: `next.run(request)` runs the rest of the chain and the
    /// service; returning without it refuses the call.
    fn call(
        &self,
        request: ServiceRequest,
        next: Next,
    ) -> BoxFuture<'static, Result<Output, Error>>;
}

impl<F, Fut> Layer for F
where
    F: Fn(ServiceRequest, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Output, Error>> + Send + 'static,
{
    fn call(
        &self,
        request: ServiceRequest,
        next: Next,
    ) -> BoxFuture<'static, Result<Output, Error>> {
        Box::pin(self(request, next))
    }
}

/// The transport a call came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// A WebSocket message (`fabric_websocket`): `ctx.websocket()` and
    /// `ctx.identity()` are there.
    WebSocket,
    /// An HTTP request (`fabric_http`): `ctx.extension::<HttpRequest>()` is there.
    Http,
    /// A command line (`fabric_cli`).
    Cli,
    /// An MCP tool call (`fabric_mcp`).
    Mcp,
    /// A language model's tool call through `fabric::tools::Tools`.
    Tool,
}

impl Transport {
    /// The transport's name, for logs: `websocket`, `http`, `cli`, `mcp`, `tool`.
    ///
    /// ```
    /// assert_eq!(fabric::layer::Transport::Http.name(), "http");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Http => "http",
            Transport::Cli => "cli",
            Transport::Mcp => "mcp",
            Transport::Tool => "tool",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One call of a service, as a [`Layer`] sees it.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::layer::{Layers, Transport};
///
/// #[derive(Deserialize, Input)]
/// struct Nothing {}
/// #[derive(Clone)]
/// struct Tenant(&'static str);
///
/// #[fabric_service(alias = "tenant")]
/// async fn tenant(_input: Nothing, ctx: Context) -> Result<String, Error> {
///     Ok(ctx.extension::<Tenant>().map(|t| t.0.to_owned()).unwrap_or_default())
/// }
///
/// let layers = Layers::new().with(|mut request: fabric::layer::ServiceRequest, next: fabric::layer::Next| async move {
///     assert_eq!((request.alias(), request.route(), request.transport()), ("tenant", "GET /tenant", Transport::Http));
///     request.insert(Tenant("acme"));
///     next.run(request).await
/// });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service: std::sync::Arc<dyn Service> = std::sync::Arc::new(tenant);
/// let (ctx, _) = Context::test();
/// let out = layers.call(&service, "GET /tenant", Transport::Http, json!({}), ctx).await.unwrap();
/// assert_eq!(out.to_value(), json!("acme"));
/// # })
/// ```
pub struct ServiceRequest {
    service: Arc<dyn Service>,
    route: String,
    transport: Transport,
    input: Value,
    ctx: Context,
}

impl ServiceRequest {
    /// The service's alias: the same on every transport.
    pub fn alias(&self) -> &str {
        self.service.alias()
    }

    /// The service itself: its description, input shape and hints.
    pub fn service(&self) -> &dyn Service {
        self.service.as_ref()
    }

    /// How the transport reached the service: the WebSocket route key that picked
    /// it (`sendMessage`, or the action a `$default` message named), the HTTP
    /// method and path pattern (`POST /rooms/:room`), the command line's
    /// subcommand, the tool's name.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// The transport the call came by.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The raw input, before coercion and validation.
    pub fn input(&self) -> &Value {
        &self.input
    }

    /// The raw input, to change before the service reads it.
    pub fn input_mut(&mut self) -> &mut Value {
        &mut self.input
    }

    /// The call's context: `ctx.identity()`, `ctx.websocket()`,
    /// `ctx.extension::<HttpRequest>()`, the shared state.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Puts a per-request value into the context, replacing one of the same type;
    /// the service (and later layers) read it with [`Context::extension`].
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.ctx = self.ctx.with_extension(value);
    }
}

impl fmt::Debug for ServiceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceRequest")
            .field("alias", &self.alias())
            .field("route", &self.route)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// The rest of the chain: the layers after this one, then the service.
pub struct Next {
    layers: Arc<[Arc<dyn Layer>]>,
    index: usize,
}

impl Next {
    /// Runs the next layer, or the service when none is left: its pipeline (coerce,
    /// deserialize, validate, call) on the request's input and context.
    pub fn run(self, request: ServiceRequest) -> BoxFuture<'static, Result<Output, Error>> {
        match self.layers.get(self.index).cloned() {
            Some(layer) => {
                let next = Next {
                    layers: self.layers,
                    index: self.index + 1,
                };
                layer.call(request, next)
            }
            None => request.service.serve(request.input, request.ctx),
        }
    }
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("remaining", &(self.layers.len() - self.index))
            .finish()
    }
}

/// An ordered list of layers, as an adapter holds them. Adapters build it with
/// `.layer(..)`; transports call services through [`Layers::call`].
///
/// ```
/// use fabric::layer::Layers;
/// let layers = Layers::new();
/// assert!(layers.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct Layers {
    layers: Option<Arc<[Arc<dyn Layer>]>>,
}

impl Layers {
    /// No layers.
    pub fn new() -> Layers {
        Layers::default()
    }

    /// These layers, then `layer` innermost.
    pub fn with(self, layer: impl Layer) -> Layers {
        self.with_shared(Arc::new(layer))
    }

    /// Like [`with`](Layers::with), for a layer that is already shared.
    pub fn with_shared(self, layer: Arc<dyn Layer>) -> Layers {
        let mut list: Vec<Arc<dyn Layer>> = self.layers.as_deref().unwrap_or_default().to_vec();
        list.push(layer);
        Layers {
            layers: Some(list.into()),
        }
    }

    /// `outer`'s layers around these (an app's around a function's own).
    pub fn inside(self, outer: &Layers) -> Layers {
        let mut list: Vec<Arc<dyn Layer>> = outer.layers.as_deref().unwrap_or_default().to_vec();
        list.extend(self.layers.as_deref().unwrap_or_default().iter().cloned());
        Layers {
            layers: (!list.is_empty()).then(|| list.into()),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.layers.is_none()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.layers.as_deref().map_or(0, <[_]>::len)
    }

    /// Calls `service` through the layers, inside the panic guard of
    /// [`ServiceExt::call`]; with no layers, that call alone (`route` is written out
    /// only when there are layers to read it).
    pub fn call(
        &self,
        service: &Arc<dyn Service>,
        route: impl fmt::Display,
        transport: Transport,
        input: Value,
        ctx: Context,
    ) -> Call {
        let Some(layers) = &self.layers else {
            return service.call(input, ctx);
        };
        let request = ServiceRequest {
            service: service.clone(),
            route: route.to_string(),
            transport,
            input,
            ctx,
        };
        let next = Next {
            layers: layers.clone(),
            index: 0,
        };
        Call::guarded(|| next.run(request))
    }
}

impl fmt::Debug for Layers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layers").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(serde::Deserialize, crate::Input)]
    struct Marks {
        changed: Option<bool>,
    }

    /// Says the layers' marks back.
    #[crate::fabric_service(alias = "echo")]
    async fn echo_marks(input: Marks, ctx: Context) -> Result<Value, Error> {
        let mark = ctx.extension::<&'static str>().copied();
        Ok(serde_json::json!([input.changed, mark]))
    }

    fn echo() -> Arc<dyn Service> {
        Arc::new(echo_marks)
    }

    #[tokio::test]
    async fn layers_run_in_order_around_the_service() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (first, second) = (seen.clone(), seen.clone());
        let layers = Layers::new()
            .with(move |mut request: ServiceRequest, next: Next| {
                let seen = first.clone();
                async move {
                    seen.lock().unwrap().push("first in");
                    request.insert("first");
                    let result = next.run(request).await;
                    seen.lock().unwrap().push("first out");
                    result
                }
            })
            .with(move |mut request: ServiceRequest, next: Next| {
                let seen = second.clone();
                async move {
                    seen.lock().unwrap().push("second in");
                    // A later value of the same type replaces the earlier one.
                    request.insert("second");
                    *request.input_mut() = serde_json::json!({"changed": true});
                    next.run(request).await
                }
            });
        let (ctx, _) = Context::test();
        let out = layers
            .call(&echo(), "echo", Transport::Cli, serde_json::json!({}), ctx)
            .await
            .unwrap();
        assert_eq!(out.to_value(), serde_json::json!([true, "second"]));
        assert_eq!(
            *seen.lock().unwrap(),
            ["first in", "second in", "first out"]
        );
    }

    #[tokio::test]
    async fn a_layer_refuses_without_running_the_service_and_a_panic_is_a_500() {
        let refuse = Layers::new().with(|_request: ServiceRequest, _next: Next| async {
            Err::<Output, _>(Error::unauthorized("no"))
        });
        let (ctx, _) = Context::test();
        let err = refuse
            .call(&echo(), "echo", Transport::Http, Value::Null, ctx.clone())
            .await
            .unwrap_err();
        assert_eq!(err.status(), 401);

        let panics = Layers::new().with(
            |_request: ServiceRequest, _next: Next| -> BoxFuture<'static, Result<Output, Error>> {
                panic!("layer bug")
            },
        );
        let err = panics
            .call(&echo(), "echo", Transport::Http, Value::Null, ctx)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 500);
    }

    #[test]
    fn an_apps_layers_go_around_a_functions_own() {
        let own = Layers::new().with(|r: ServiceRequest, n: Next| n.run(r));
        let app = Layers::new().with(|r: ServiceRequest, n: Next| n.run(r));
        assert_eq!(own.clone().inside(&app).len(), 2);
        assert!(Layers::new().inside(&Layers::new()).is_empty());
    }
}
