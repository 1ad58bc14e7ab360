//! # Fabric
//!
//! Write a service once, as an input struct and an async function, and serve it over
//! AWS API Gateway WebSocket APIs on Lambda, over HTTP, from a command line, and as
//! the tools of an MCP server (`fabric::mcp`, feature `mcp`) or of a language model's API
//! ([`tools`]), with the same validation and the same errors everywhere.
//!
//! ```
//! use fabric::prelude::*;
//!
//! /// Divide two numbers.
//! #[derive(Debug, Deserialize, Validate, Input)]
//! pub struct DivisionInput {
//!     /// The number to divide
//!     #[input(default = 12)]
//!     pub numerator: f64,
//!     /// The number to divide by
//!     #[input(default = 3)]
//!     #[validate(custom(function = "non_zero"))]
//!     pub denominator: f64,
//! }
//!
//! fn non_zero(value: f64) -> Result<(), ValidationError> {
//!     if value == 0.0 {
//!         return Err(ValidationError::new("non_zero").with_message("must not be zero".into()));
//!     }
//!     Ok(())
//! }
//!
//! #[fabric_service(alias = "division", description = "Divide two numbers")]
//! async fn division(input: DivisionInput, _ctx: Context) -> Result<f64, Error> {
//!     Ok(input.numerator / input.denominator)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (ctx, _) = Context::test();
//! let out = division.call(json!({"numerator": "14", "denominator": "7"}), ctx.clone()).await;
//! assert_eq!(out.unwrap().to_value(), json!(2.0));
//!
//! let err = division.call(json!({"denominator": 0}), ctx).await.unwrap_err();
//! assert_eq!(err.status(), 400);
//! assert_eq!(err.detail(), r#"Validation failed for field "denominator": must not be zero"#);
//! # })
//! ```
//!
//! The pipeline, in one direction: a transport event becomes raw JSON, which is
//! [coerced](input::coerce), deserialized and validated into the input struct; the
//! service runs with a [`Context`]; its result or [`Error`] goes back in the
//! transport's own form.

#![warn(missing_docs)]
// On docs.rs (and `.ci/run`'s doc build), items show the features they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets the derive's `::fabric::` paths resolve inside this crate's own tests.
extern crate self as fabric;

#[cfg(any(feature = "websocket", feature = "http"))]
pub mod app;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
mod clock;
pub mod context;
#[cfg(feature = "deploy")]
pub mod deploy;
pub mod describe;
pub mod env;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
#[cfg(any(feature = "websocket", feature = "http"))]
mod init_error;
pub mod input;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(any(feature = "websocket", feature = "http"))]
mod lambda_json;
pub mod layer;
#[cfg(all(feature = "local", any(feature = "websocket", feature = "http")))]
pub mod local;
pub mod logging;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod metrics;
pub mod names;
pub mod panic;
pub mod runtime;
pub mod secrets;
pub mod service;
pub mod settings;
#[cfg(feature = "websocket")]
pub mod store;
#[cfg(any(feature = "websocket", feature = "http"))]
pub mod testing;
pub mod tools;
#[cfg(feature = "websocket")]
pub mod websocket;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "cli")]
pub use cli::{Cli, fabric_cli};
pub use context::{Context, ContextBuilder, MessageSink, SentMessages, State};
pub use error::{Error, ErrorEnvelope, ErrorKind, ErrorMeta, ErrorObject, ErrorSource, Issue};
#[cfg(feature = "http")]
pub use http::{HttpRouter, fabric_http};
pub use input::{Input, InputType};
#[cfg(feature = "mcp")]
pub use mcp::{McpServer, fabric_mcp};
pub use runtime::run;
pub use service::{Call, Output, Service, ServiceExt};
#[cfg(feature = "websocket")]
pub use websocket::{WebSocketRouter, fabric_websocket};

/// Derives [`Input`](trait@Input) for a struct (or [`InputType`] choices for a
/// unit-only enum). See the [`input`] module.
pub use fabric_macros::Input;

/// Turns `async fn name(input: T, ctx: Context) -> Result<O, Error>` into a service
/// value named `name`. The typed function stays callable as `name::handle`.
///
/// Attributes: `alias = "..."` (defaults to the function name; letters, digits, `-`
/// and `_`, starting with a letter or digit, as [`names::check_name`] says),
/// `description = "..."` (defaults to the doc comment), and the
/// [hints](service::Hints) MCP clients read: `read_only`, `idempotent` and
/// `destructive` (each alone, or `= true` / `= false`; a `read_only` service cannot
/// be `destructive`). The result's schema ([`Service::output_schema`]) comes from
/// the return type.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// struct Name { name: String }
///
/// /// Greets someone.
/// #[fabric_service]
/// async fn hello(input: Name, _ctx: Context) -> Result<String, Error> {
///     Ok(format!("Hello, {}!", input.name))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(hello.alias(), "hello");
/// let (ctx, _) = Context::test();
/// let typed = hello::handle(Name { name: "Ada".into() }, ctx).await.unwrap();
/// assert_eq!(typed, "Hello, Ada!");
/// # })
/// ```
pub use fabric_macros::fabric_service;

/// The attribute Fabric's async traits ([`MessageSink`], the Management API and
/// the connection store) are implemented with.
pub use async_trait::async_trait;
pub use serde;
pub use serde_json;
pub use validator;

/// The error type of runtimes and setup code: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a service module usually needs.
///
/// ```
/// use fabric::prelude::*;
/// fn _uses(_: Context, _: Error, _: Value) {}
/// ```
pub mod prelude {
    #[cfg(feature = "websocket")]
    pub use crate::websocket::{Accept, WebSocketRouter, fabric_websocket};
    pub use crate::{Context, Error, ErrorKind, Input, Service, ServiceExt, State, fabric_service};
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Value, json};
    pub use validator::{Validate, ValidationError};

    #[cfg(feature = "cli")]
    pub use crate::cli::{Cli, fabric_cli};
    #[cfg(feature = "http")]
    pub use crate::http::{HttpRouter, fabric_http};
    #[cfg(feature = "mcp")]
    pub use crate::mcp::{McpServer, fabric_mcp};
}
