//! Support for the code `#[derive(Input)]` and `#[fabric_service]` generate. Not a
//! public API: names here change without notice.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

pub use futures_util::future::BoxFuture;
pub use serde_json;
pub use validator;

pub use crate::input::names::{field_names, variant_names};

use crate::input::Input;
use crate::{Context, Error, Output};

/// A function turned into a service by `#[fabric_service]`. The associated types'
/// bounds are checked once, at the user's spans, when the impl is generated.
pub trait ServiceFn: 'static {
    /// The input struct.
    type Input: Input;
    /// What the function returns.
    type Result: ServiceResult;
    /// Calls the typed function.
    fn run(input: Self::Input, ctx: Context)
    -> impl Future<Output = Self::Result> + Send + 'static;
}

/// The pipeline behind every `#[fabric_service]`: parse the raw input, call the
/// typed function, serialize what it returns.
pub async fn call_service<S: ServiceFn>(raw: Value, ctx: Context) -> Result<Output, Error> {
    let input = crate::input::parse::<S::Input>(raw)?;
    let value = S::run(input, ctx).await.into_result()?;
    Output::from_value(&value)
}

/// What a service function may return.
#[diagnostic::on_unimplemented(
    message = "a Fabric service must return `Result<T, fabric::Error>` where `T: Serialize`, found `{Self}`",
    label = "unsupported return type"
)]
pub trait ServiceResult {
    /// The success value.
    type Ok: Serialize + 'static;
    /// The result as a plain `Result`.
    fn into_result(self) -> Result<Self::Ok, Error>;
}

impl<T: Serialize + 'static> ServiceResult for Result<T, Error> {
    type Ok = T;
    fn into_result(self) -> Result<T, Error> {
        self
    }
}

/// Only [`Context`] may be a service's second parameter.
#[diagnostic::on_unimplemented(
    message = "the second parameter of a Fabric service must be `fabric::Context`, found `{Self}`",
    label = "expected `fabric::Context`"
)]
pub trait IsContext {
    /// The context as the parameter's type.
    fn from_context(ctx: Context) -> Self;
}

impl IsContext for Context {
    fn from_context(ctx: Context) -> Self {
        ctx
    }
}

/// The JSON of an `#[input(default = ..)]` value.
pub fn default_json<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("an input default must serialize to JSON")
}

/// Converts an `#[input(default = ..)]` expression to the field's type, so that
/// `default = 12` works for an `f64` and `default = "general"` for a `String`.
pub trait IntoDefault<T> {
    /// The value as the field's type.
    fn into_default(self) -> T;
}

impl<T> IntoDefault<T> for T {
    fn into_default(self) -> T {
        self
    }
}

impl IntoDefault<String> for &str {
    fn into_default(self) -> String {
        self.to_owned()
    }
}

impl IntoDefault<f64> for i32 {
    fn into_default(self) -> f64 {
        f64::from(self)
    }
}

impl IntoDefault<f32> for i32 {
    fn into_default(self) -> f32 {
        self as f32
    }
}

/// Probes what a type can do, by autoref specialization, where the generated code
/// names a concrete type: `(&TypeProbe::<T>::new()).default_json()` is `Some` when
/// a `#[serde(default)]` field's `T: Default + Serialize` and `None` otherwise;
/// `output_schema()` likewise for a service's result type.
#[derive(Debug)]
pub struct TypeProbe<T>(PhantomData<T>);

impl<T> TypeProbe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        TypeProbe(PhantomData)
    }
}

impl<T> Default for TypeProbe<T> {
    fn default() -> Self {
        TypeProbe::new()
    }
}

/// The branch of [`TypeProbe`] taken when `T: Default + Serialize`.
pub trait SerializableDefault {
    /// The default as JSON.
    fn default_json(&self) -> Option<Value>;
}

impl<T: Default + Serialize> SerializableDefault for TypeProbe<T> {
    fn default_json(&self) -> Option<Value> {
        serde_json::to_value(T::default()).ok()
    }
}

/// The fallback branch of [`SerializableDefault`].
pub trait OpaqueDefault {
    /// No JSON for this default.
    fn default_json(&self) -> Option<Value> {
        None
    }
}

impl<T> OpaqueDefault for &TypeProbe<T> {}

/// The same probe for the value of a `#[serde(default = "path")]` function.
#[derive(Debug)]
pub struct ValueProbe<T>(pub T);

/// The branch of [`ValueProbe`] taken when `T: Serialize`.
pub trait SerializableValue {
    /// The value as JSON.
    fn value_json(&self) -> Option<Value>;
}

impl<T: Serialize> SerializableValue for ValueProbe<T> {
    fn value_json(&self) -> Option<Value> {
        serde_json::to_value(&self.0).ok()
    }
}

/// The fallback branch of [`ValueProbe`].
pub trait OpaqueValue {
    /// No JSON for this value.
    fn value_json(&self) -> Option<Value> {
        None
    }
}

impl<T> OpaqueValue for &ValueProbe<T> {}

/// The source of a `validator` regex rule, for the schema's `pattern`.
pub fn regex_pattern<R: validator::AsRegex>(regex: R) -> String {
    regex.as_regex().as_str().to_owned()
}

/// The success type of a `Result` a service function is written to return, read
/// without [`ServiceResult`]'s bounds, so that a wrong error type is reported once,
/// by `ServiceResult`.
#[diagnostic::on_unimplemented(
    message = "a Fabric service must return `Result<T, fabric::Error>` where `T: Serialize`, found `{Self}`",
    label = "unsupported return type"
)]
pub trait ResultOk {
    /// The success type.
    type Ok;
}

impl<T, E> ResultOk for Result<T, E> {
    type Ok = T;
}

/// The branch of [`TypeProbe`] taken when `T: InputType`: a service's result type
/// with a known schema. `(&TypeProbe::<T>::new()).output_schema()` is `None` for
/// other types (a `serde_json::Value`, a type that only derives `Serialize`, `()`).
pub trait DescribedOutput {
    /// The result's schema.
    fn output_schema(&self) -> Option<Value>;
}

impl<T: crate::InputType> DescribedOutput for TypeProbe<T> {
    fn output_schema(&self) -> Option<Value> {
        T::kind().output_schema()
    }
}

/// The fallback branch of [`DescribedOutput`].
pub trait OpaqueOutput {
    /// No schema for this result.
    fn output_schema(&self) -> Option<Value> {
        None
    }
}

impl<T> OpaqueOutput for &TypeProbe<T> {}
