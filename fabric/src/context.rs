//! What a service knows about the call it is serving, and how it talks back.

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// Where [`Context::send_message`] delivers: a WebSocket post to the caller's
/// connection, a line of an HTTP stream, a line on the CLI's stderr. Each adapter
/// wires its own.
///
/// ```
/// use fabric::{Context, Error, MessageSink, async_trait};
///
/// struct Stdout;
///
/// #[async_trait]
/// impl MessageSink for Stdout {
///     async fn send(&self, message: String) -> Result<(), Error> {
///         println!("{message}");
///         Ok(())
///     }
/// }
///
/// let ctx = Context::builder("req-1").sink(Stdout).build();
/// # let _ = ctx;
/// ```
#[async_trait]
pub trait MessageSink: Send + Sync + 'static {
    /// Delivers one message, already serialized as JSON.
    async fn send(&self, message: String) -> Result<(), Error>;
}

/// A typed map of values shared by every call of an adapter: clients created once
/// per cold start, configuration, the connection store.
///
/// ```
/// use fabric::State;
///
/// struct Config { greeting: &'static str }
/// let state = State::new().with(Config { greeting: "hi" });
/// assert_eq!(state.get::<Config>().unwrap().greeting, "hi");
/// assert!(state.get::<String>().is_none());
/// ```
#[derive(Clone, Default)]
pub struct State {
    entries: Arc<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl State {
    /// An empty state.
    pub fn new() -> State {
        State::default()
    }

    /// The state with `value` added, replacing any earlier value of the same type.
    pub fn with<T: Send + Sync + 'static>(self, value: T) -> State {
        self.with_shared(Arc::new(value))
    }

    /// Like [`State::with`], for a value that is already shared.
    pub fn with_shared<T: Send + Sync + 'static>(self, value: Arc<T>) -> State {
        let mut entries = Arc::unwrap_or_clone(self.entries);
        entries.retain(|(id, _)| *id != TypeId::of::<T>());
        entries.push((TypeId::of::<T>(), value));
        State {
            entries: Arc::new(entries),
        }
    }

    /// The value of type `T`, if one was added.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.entries
            .iter()
            .find(|(id, _)| *id == TypeId::of::<T>())
            .and_then(|(_, value)| value.downcast_ref())
    }

    /// The shared handle of the value of type `T`, if one was added.
    pub fn get_shared<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.entries
            .iter()
            .find(|(id, _)| *id == TypeId::of::<T>())
            .and_then(|(_, value)| value.clone().downcast().ok())
    }

    /// Merges `other` into this state; `other`'s values win.
    pub fn merge(self, other: &State) -> State {
        let mut entries = Arc::unwrap_or_clone(self.entries);
        for (id, value) in other.entries.iter() {
            entries.retain(|(existing, _)| existing != id);
            entries.push((*id, value.clone()));
        }
        State {
            entries: Arc::new(entries),
        }
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("values", &self.entries.len())
            .finish()
    }
}

/// The context of one call: who called, how to send them messages, the adapter's
/// shared state, and the transport's own details.
///
/// Cheap to clone; clones share everything.
///
/// ```
/// use fabric::Context;
/// use serde_json::json;
///
/// # tokio_test();
/// # fn tokio_test() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (ctx, sent) = Context::test();
/// ctx.send_message(json!({"joined": "general"})).await.unwrap();
/// assert_eq!(sent.all(), vec![json!({"joined": "general"})]);
/// # }) }
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    request_id: String,
    sink: Option<Arc<dyn MessageSink>>,
    state: State,
    extensions: Vec<Arc<dyn Any + Send + Sync>>,
}

impl Context {
    /// Starts a context for the request `request_id`; adapters use this.
    pub fn builder(request_id: impl Into<String>) -> ContextBuilder {
        ContextBuilder {
            inner: Inner {
                request_id: request_id.into(),
                sink: None,
                state: State::default(),
                extensions: Vec::new(),
            },
        }
    }

    /// A context for tests, and the messages sent through it.
    pub fn test() -> (Context, SentMessages) {
        let sent = SentMessages::default();
        let ctx = Context::builder("test-request").sink(sent.clone()).build();
        (ctx, sent)
    }

    /// A builder that starts from this context: its request id, sink, state and
    /// extensions. For a transport that derives the context of each call from the
    /// context of the request that carried it (MCP, with a sink per tool call).
    ///
    /// ```
    /// use fabric::{Context, State};
    /// struct Region(&'static str);
    /// let request = Context::builder("r1").state(State::new().with(Region("eu"))).build();
    /// let (_, sent) = Context::test();
    /// let call = request.to_builder().sink(sent).build();
    /// assert_eq!(call.request_id(), "r1");
    /// assert_eq!(call.state::<Region>().unwrap().0, "eu");
    /// ```
    pub fn to_builder(&self) -> ContextBuilder {
        ContextBuilder {
            inner: (*self.inner).clone(),
        }
    }

    /// The id of this request, for logs and correlation.
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// Sends a message to the caller while the service runs: a post to their
    /// WebSocket connection, a line of an HTTP stream, a line on the CLI's stderr.
    /// Transports without a channel drop it.
    pub async fn send_message(&self, message: impl Serialize) -> Result<(), Error> {
        let Some(sink) = &self.inner.sink else {
            return Ok(());
        };
        let text = serde_json::to_string(&message).map_err(Error::internal)?;
        sink.send(text).await
    }

    /// The adapter's shared value of type `T`; a 500 if the adapter was not given one.
    ///
    /// ```
    /// use fabric::{Context, State};
    /// struct Db(&'static str);
    /// let ctx = Context::builder("r").state(State::new().with(Db("main"))).build();
    /// assert_eq!(ctx.state::<Db>().unwrap().0, "main");
    /// assert_eq!(ctx.state::<u8>().unwrap_err().status(), 500);
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&T, Error> {
        self.inner.state.get().ok_or_else(|| {
            Error::internal_message(format!(
                "no shared state of type `{}` was given to the adapter",
                type_name::<T>()
            ))
        })
    }

    /// The declared secret `name` (see [`secrets`](crate::secrets)), fetched again
    /// when older than its time to live; a 500 if the adapter did not declare it.
    ///
    /// ```
    /// use fabric::{Context, State};
    /// use fabric::secrets::Secrets;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let secrets = Secrets::builder(["API_KEY"]).lookup(|name| (name == "API_KEY").then(|| "k-1".into())).load().await.unwrap();
    /// let ctx = Context::builder("r").state(State::new().with(secrets)).build();
    /// assert_eq!(ctx.secret("API_KEY").await.unwrap().expose(), "k-1");
    /// assert_eq!(ctx.secret("OTHER").await.unwrap_err().status(), 500);
    /// # })
    /// ```
    pub async fn secret(&self, name: &str) -> Result<crate::secrets::SecretValue, Error> {
        let secrets = self
            .inner
            .state
            .get::<crate::secrets::Secrets>()
            .ok_or_else(|| {
                Error::internal_message(format!(
                    "no secret named {name} was declared on the adapter"
                ))
            })?;
        secrets.get(name).await
    }

    /// This invocation's metrics (see [`metrics`](crate::metrics)): one call adds a
    /// custom metric. When the transport has metrics off, they are dropped.
    ///
    /// ```
    /// use fabric::Context;
    /// use fabric::metrics::Metrics;
    ///
    /// let metrics = Metrics::new("Shop");
    /// let ctx = Context::builder("r").extension(metrics.clone()).build();
    /// ctx.metrics().add("OrdersPlaced", 1.0);
    /// assert_eq!(metrics.readable(), "OrdersPlaced=1 Count");
    /// Context::test().0.metrics().add("Dropped", 1.0);
    /// ```
    pub fn metrics(&self) -> crate::metrics::Metrics {
        self.extension::<crate::metrics::Metrics>()
            .cloned()
            .unwrap_or_else(crate::metrics::current)
    }

    /// The whole shared state of the adapter.
    pub fn shared_state(&self) -> &State {
        &self.inner.state
    }

    /// A transport detail of type `T` (the WebSocket request, the HTTP request, the
    /// authorizer's value) or a per-request value a layer (`fabric::layer`) put in, if
    /// one was attached.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner
            .extensions
            .iter()
            .find_map(|value| value.downcast_ref())
    }

    /// This context with `value` attached as an extension, replacing one of the same
    /// type: how a layer (`fabric::layer`) hands a per-request value to the service.
    ///
    /// ```
    /// use fabric::Context;
    /// #[derive(Debug, PartialEq)]
    /// struct Tenant(&'static str);
    /// let ctx = Context::builder("r").extension(Tenant("old")).build();
    /// let ctx = ctx.with_extension(Tenant("acme"));
    /// assert_eq!(ctx.extension::<Tenant>(), Some(&Tenant("acme")));
    /// assert_eq!(ctx.request_id(), "r");
    /// ```
    pub fn with_extension<T: Send + Sync + 'static>(&self, value: T) -> Context {
        let mut inner = (*self.inner).clone();
        inner.extensions.retain(|existing| !(**existing).is::<T>());
        inner.extensions.push(Arc::new(value));
        Context {
            inner: Arc::new(inner),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.inner.request_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Context`]; see [`Context::builder`].
pub struct ContextBuilder {
    inner: Inner,
}

impl fmt::Debug for ContextBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextBuilder")
            .field("request_id", &self.inner.request_id)
            .finish_non_exhaustive()
    }
}

impl ContextBuilder {
    /// Sets where `send_message` delivers.
    pub fn sink(self, sink: impl MessageSink) -> ContextBuilder {
        self.shared_sink(Arc::new(sink))
    }

    /// Sets where `send_message` delivers, from a shared sink.
    pub fn shared_sink(mut self, sink: Arc<dyn MessageSink>) -> ContextBuilder {
        self.inner.sink = Some(sink);
        self
    }

    /// Sets the adapter's shared state.
    pub fn state(mut self, state: State) -> ContextBuilder {
        self.inner.state = state;
        self
    }

    /// Attaches a transport detail, found again with [`Context::extension`].
    pub fn extension<T: Send + Sync + 'static>(self, value: T) -> ContextBuilder {
        self.shared_extension(Arc::new(value))
    }

    /// Attaches a shared transport detail.
    pub fn shared_extension<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> ContextBuilder {
        self.inner.extensions.push(value);
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        Context {
            inner: Arc::new(self.inner),
        }
    }
}

/// The messages a test [`Context`] has sent, in order.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (ctx, sent) = fabric::Context::test();
/// ctx.send_message("one").await.unwrap();
/// ctx.send_message(2).await.unwrap();
/// assert_eq!(sent.all(), vec![serde_json::json!("one"), serde_json::json!(2)]);
/// # })
/// ```
#[derive(Debug, Clone, Default)]
pub struct SentMessages {
    messages: Arc<Mutex<Vec<String>>>,
}

impl SentMessages {
    /// Every message so far, parsed back into JSON.
    pub fn all(&self) -> Vec<Value> {
        self.lock()
            .iter()
            .map(|text| serde_json::from_str(text).expect("messages are JSON"))
            .collect()
    }

    /// Every message so far, as the JSON text that was sent.
    pub fn raw(&self) -> Vec<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A test that panicked mid-push still left a usable list.
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl MessageSink for SentMessages {
    async fn send(&self, message: String) -> Result<(), Error> {
        self.lock().push(message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Region(&'static str);

    #[test]
    fn extensions_and_state_are_found_by_type() {
        let state = State::new()
            .with(Region("eu"))
            .with(7_u32)
            .with(Region("us"));
        let ctx = Context::builder("r1")
            .state(state)
            .extension(String::from("detail"))
            .build();
        assert_eq!(ctx.state::<Region>().unwrap(), &Region("us"));
        assert_eq!(ctx.state::<u32>().unwrap(), &7);
        assert_eq!(ctx.extension::<String>().unwrap(), "detail");
        assert!(ctx.extension::<u32>().is_none());
        assert_eq!(ctx.request_id(), "r1");
        let err = ctx.state::<i64>().unwrap_err();
        assert!(err.detail().contains("i64"), "{}", err.detail());
    }

    #[test]
    fn merged_state_prefers_the_newer_value() {
        let base = State::new().with(Region("eu")).with(1_u8);
        let merged = base.merge(&State::new().with(Region("us")));
        assert_eq!(merged.get::<Region>(), Some(&Region("us")));
        assert_eq!(merged.get::<u8>(), Some(&1));
        assert!(merged.get_shared::<Region>().is_some());
    }

    #[tokio::test]
    async fn a_context_without_a_sink_drops_messages() {
        let ctx = Context::builder("r").build();
        ctx.send_message("nobody hears this").await.unwrap();
    }
}
