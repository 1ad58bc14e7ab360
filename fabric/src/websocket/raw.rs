//! Handlers without a typed input: a frame's text as sent (JSON or not), for
//! protocols that are not JSON and for routes moved to Fabric one at a time.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::input::Shape;
use crate::{Context, Error, Output, Service};

/// The shape a raw handler declares: no fields, since it reads the text itself.
static RAW_FRAME: LazyLock<Shape> = LazyLock::new(|| Shape {
    name: "RawFrame",
    description: Some("The frame's text, exactly as the client sent it"),
    fields: Vec::new(),
});

type RawFn = dyn Fn(String, Context) -> BoxFuture<'static, Result<Output, Error>> + Send + Sync;

/// A WebSocket handler that gets the frame's text — any text, JSON or not — and
/// the WebSocket [`Context`]. Add it to a router with
/// [`WebSocketRouter::raw_route`](super::WebSocketRouter::raw_route) or
/// [`raw_fallback`](super::WebSocketRouter::raw_fallback); it answers like a
/// service (its result posted as `{"data": ...}` with `reply(true)`, its errors as
/// error frames) and layers run around it.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::websocket::{RawHandler, WebSocketRouter};
///
/// let echo = RawHandler::new("echo", |text: String, ctx: Context| async move {
///     ctx.send_message(format!("you said: {text}")).await?;
///     Ok(text.len())
/// });
/// let router = WebSocketRouter::new().raw_fallback(echo);
/// assert!(router.has_fallback());
/// ```
#[derive(Clone)]
pub struct RawHandler {
    alias: String,
    handler: Arc<RawFn>,
}

impl std::fmt::Debug for RawHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawHandler")
            .field("alias", &self.alias)
            .finish_non_exhaustive()
    }
}

impl RawHandler {
    /// A raw handler named `alias` (its name in logs, metrics and the route list).
    pub fn new<F, Fut, T>(alias: impl Into<String>, handler: F) -> RawHandler
    where
        F: Fn(String, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Serialize + 'static,
    {
        RawHandler {
            alias: alias.into(),
            handler: Arc::new(move |text, ctx| {
                let answer = handler(text, ctx);
                Box::pin(async move { Output::from_value(&answer.await?) })
            }),
        }
    }
}

impl Service for RawHandler {
    fn alias(&self) -> &str {
        &self.alias
    }

    fn description(&self) -> &str {
        "Takes the frame's text as sent"
    }

    fn input(&self) -> &'static Shape {
        &RAW_FRAME
    }

    fn serve(&self, raw: Value, ctx: Context) -> BoxFuture<'static, Result<Output, Error>> {
        // The router hands a raw handler the frame as one JSON string; a layer
        // that replaced it with something else gets it back as JSON text.
        let text = match raw {
            Value::String(text) => text,
            other => other.to_string(),
        };
        (self.handler)(text, ctx)
    }
}
