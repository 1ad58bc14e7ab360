//! The [`Service`] trait: what every transport serves.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::input::Shape;
use crate::panic::{CatchPanic, catch_panic};
use crate::{Context, Error};

/// A service: an alias, a description, an input shape, and a call from raw JSON to
/// a result. `#[fabric_service]` implements it for an async function; adapters
/// (`fabric_websocket`, `fabric_http`, `fabric_cli`) serve it.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// struct Echo { text: String }
///
/// /// Says it back.
/// #[fabric_service(alias = "echo")]
/// async fn echo(input: Echo, _ctx: Context) -> Result<String, Error> {
///     Ok(input.text)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(echo.alias(), "echo");
/// assert_eq!(echo.description(), "Says it back.");
/// let (ctx, _) = Context::test();
/// let out = echo.call(json!({"text": 42}), ctx).await.unwrap();
/// assert_eq!(out.json(), Some("\"42\""));
/// # })
/// ```
pub trait Service: Send + Sync + 'static {
    /// The name the service is reached by: route key, path, subcommand.
    fn alias(&self) -> &str;

    /// One line on what the service does, for help and schemas.
    fn description(&self) -> &str;

    /// The shape of the input: fields, kinds, defaults, rules.
    fn input(&self) -> &'static Shape;

    /// The JSON Schema of the input.
    fn input_schema(&self) -> Value {
        self.input().json_schema()
    }

    /// The JSON Schema of the result, where its type says what it is: a primitive,
    /// `String`, a `Vec`, an `Option`, a map, a date, or a type with
    /// `#[derive(Input)]`. `None` for `serde_json::Value`, `()` and types that only
    /// derive `Serialize`. `#[fabric_service]` reads it from the function's return
    /// type.
    ///
    /// ```
    /// use fabric::prelude::*;
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Numbers { values: Vec<f64> }
    ///
    /// #[fabric_service]
    /// async fn total(input: Numbers, _ctx: Context) -> Result<f64, Error> {
    ///     Ok(input.values.iter().sum())
    /// }
    ///
    /// #[fabric_service]
    /// async fn anything(_input: Numbers, _ctx: Context) -> Result<Value, Error> {
    ///     Ok(json!({}))
    /// }
    ///
    /// assert_eq!(total.output_schema(), Some(json!({"type": "number"})));
    /// assert_eq!(anything.output_schema(), None);
    /// ```
    fn output_schema(&self) -> Option<Value> {
        None
    }

    /// What the service does to the world, for clients that ask before calling
    /// (MCP's tool annotations): `#[fabric_service(read_only)]`, `idempotent`,
    /// `destructive` or `destructive = false`.
    fn hints(&self) -> Hints {
        Hints::new()
    }

    /// Runs the pipeline on raw JSON: coerce, deserialize, validate, call, serialize.
    /// Implementations may panic; adapters reach it through [`ServiceExt::call`],
    /// which catches that.
    fn serve(&self, raw: Value, ctx: Context) -> BoxFuture<'static, Result<Output, Error>>;
}

/// How every caller runs a [`Service`]: [`call`](ServiceExt::call) serves it inside
/// [`catch_panic`], so a panic anywhere in the service is a 500 and the process keeps
/// serving. Implemented for every service; it cannot be overridden.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// struct Nothing {}
///
/// #[fabric_service]
/// async fn explode(_input: Nothing, _ctx: Context) -> Result<(), Error> {
///     panic!("boom")
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (ctx, _) = Context::test();
/// let err = explode.call(json!({}), ctx).await.unwrap_err();
/// assert_eq!(err.status(), 500);
/// # })
/// ```
pub trait ServiceExt: Service {
    /// Serves a call, turning a panic into a 500.
    fn call(&self, raw: Value, ctx: Context) -> Call {
        Call {
            guarded: catch_panic(|| self.serve(raw, ctx)),
        }
    }
}

impl<S: Service + ?Sized> ServiceExt for S {}

impl<S: Service + ?Sized> Service for Arc<S> {
    fn alias(&self) -> &str {
        (**self).alias()
    }
    fn description(&self) -> &str {
        (**self).description()
    }
    fn input(&self) -> &'static Shape {
        (**self).input()
    }
    fn input_schema(&self) -> Value {
        (**self).input_schema()
    }
    fn output_schema(&self) -> Option<Value> {
        (**self).output_schema()
    }
    fn hints(&self) -> Hints {
        (**self).hints()
    }
    fn serve(&self, raw: Value, ctx: Context) -> BoxFuture<'static, Result<Output, Error>> {
        (**self).serve(raw, ctx)
    }
}

/// What a service says about its effects, as `#[fabric_service(..)]` declares it:
/// hints for clients, not promises (MCP clients may ask a person before calling a
/// tool that is not read-only).
///
/// ```
/// use fabric::prelude::*;
/// use fabric::service::Hints;
///
/// #[derive(Deserialize, Input)]
/// struct Key { key: String }
///
/// #[fabric_service(read_only, idempotent)]
/// async fn lookup(input: Key, _ctx: Context) -> Result<String, Error> {
///     Ok(input.key)
/// }
///
/// #[fabric_service(destructive = false)]
/// async fn append(input: Key, _ctx: Context) -> Result<(), Error> {
///     Ok(())
/// }
///
/// assert_eq!(lookup.hints(), Hints::new().read_only(true).idempotent(true));
/// assert_eq!(append.hints().destructive, Some(false));
/// assert!(!append.hints().read_only);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hints {
    /// It changes nothing (`read_only`).
    pub read_only: bool,
    /// Calling it again with the same input changes nothing more (`idempotent`).
    pub idempotent: bool,
    /// Whether it may delete or overwrite (`destructive`, or `destructive =
    /// false` for a service that only adds); `None` when it does not say.
    pub destructive: Option<bool>,
}

impl Hints {
    /// No hints: a service that says nothing about its effects.
    pub const fn new() -> Hints {
        Hints {
            read_only: false,
            idempotent: false,
            destructive: None,
        }
    }

    /// Whether it changes nothing.
    pub const fn read_only(mut self, read_only: bool) -> Hints {
        self.read_only = read_only;
        self
    }

    /// Whether a repeated call changes nothing more.
    pub const fn idempotent(mut self, idempotent: bool) -> Hints {
        self.idempotent = idempotent;
        self
    }

    /// Whether it may delete or overwrite, if it says.
    pub const fn destructive(mut self, destructive: Option<bool>) -> Hints {
        self.destructive = destructive;
        self
    }

    /// Whether it says anything at all.
    pub const fn is_empty(&self) -> bool {
        !self.read_only && !self.idempotent && self.destructive.is_none()
    }
}

/// The future of [`ServiceExt::call`]: the service's result, or a 500 if it
/// panicked.
#[must_use = "futures do nothing unless awaited"]
pub struct Call {
    guarded: CatchPanic<BoxFuture<'static, Result<Output, Error>>>,
}

impl Call {
    /// The future `start` makes, inside the same panic guard as a service's call
    /// (the layers' chain runs in it).
    pub(crate) fn guarded(
        start: impl FnOnce() -> BoxFuture<'static, Result<Output, Error>>,
    ) -> Call {
        Call {
            guarded: catch_panic(start),
        }
    }
}

impl Future for Call {
    type Output = Result<Output, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.guarded)
            .poll(cx)
            .map(|result| result.unwrap_or_else(|panic| Err(panic.into())))
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").finish_non_exhaustive()
    }
}

/// What a service returned, serialized: JSON text, or nothing for `()`.
///
/// ```
/// use fabric::Output;
/// let out = Output::from_value(&vec![1, 2]).unwrap();
/// assert_eq!(out.json(), Some("[1,2]"));
/// assert_eq!(out.data_envelope(), r#"{"data":[1,2]}"#);
/// assert!(Output::from_value(&()).unwrap().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The service returned `()`: HTTP answers 204, the CLI prints nothing.
    Empty,
    /// The result as compact JSON text.
    Json(String),
}

impl Output {
    /// Serializes a service's result; `()` becomes [`Output::Empty`].
    pub fn from_value<T: Serialize + 'static>(value: &T) -> Result<Output, Error> {
        if TypeId::of::<T>() == TypeId::of::<()>() {
            return Ok(Output::Empty);
        }
        serde_json::to_string(value)
            .map(Output::Json)
            .map_err(Error::internal)
    }

    /// Whether the service returned `()`.
    pub fn is_empty(&self) -> bool {
        matches!(self, Output::Empty)
    }

    /// The JSON text of the result, if there is one.
    pub fn json(&self) -> Option<&str> {
        match self {
            Output::Empty => None,
            Output::Json(text) => Some(text),
        }
    }

    /// The result as a JSON value (`null` for `()`).
    pub fn to_value(&self) -> Value {
        match self {
            Output::Empty => Value::Null,
            Output::Json(text) => serde_json::from_str(text).expect("outputs are JSON"),
        }
    }

    /// The success envelope every transport sends: `{"data": result}`.
    pub fn data_envelope(&self) -> String {
        let data = self.json().unwrap_or("null");
        let mut body = String::with_capacity(data.len() + 9);
        body.push_str("{\"data\":");
        body.push_str(data);
        body.push('}');
        body
    }

    /// [`data_envelope`](Output::data_envelope), written into the result's own
    /// text: serde_json leaves room in a short result's buffer, so the envelope
    /// usually costs no allocation of its own.
    ///
    /// ```
    /// use fabric::Output;
    /// let out = Output::from_value(&serde_json::json!({"ok": true})).unwrap();
    /// assert_eq!(out.into_data_envelope(), r#"{"data":{"ok":true}}"#);
    /// assert_eq!(Output::Empty.into_data_envelope(), r#"{"data":null}"#);
    /// ```
    pub fn into_data_envelope(self) -> String {
        match self {
            Output::Empty => "{\"data\":null}".to_owned(),
            Output::Json(mut text) => {
                text.insert_str(0, "{\"data\":");
                text.push('}');
                text
            }
        }
    }
}
