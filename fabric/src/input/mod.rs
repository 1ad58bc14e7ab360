//! Typed service input: what `#[derive(Input)]` knows about a struct, and how raw
//! JSON becomes that struct.
//!
//! The pipeline for every call, whatever the transport:
//!
//! 1. [`coerce`](coerce::coerce) the raw JSON into the struct's shape (strings to
//!    numbers, lists from `"a,b,c"`, defaults for missing values, ...), collecting
//!    every problem at once;
//! 2. deserialize with serde;
//! 3. run the `validator` rules.
//!
//! [`parse`] does all three and returns one 400 [`Error`] listing
//! every failing field.
//!
//! # The coercion table
//!
//! | Target | Accepts | Rejects (400) |
//! |---|---|---|
//! | `bool` | `true`/`false`; `"true"`/`"false"` in any case, trimmed; numbers and numeric strings (true above 0) | other strings, objects, arrays of 2+ |
//! | integers, floats | numbers; numeric strings, trimmed (the whole string: `"42abc"` is refused); `true`/`false` as 1/0 | other strings, NaN and infinities, values out of the type's range, fractions for integers |
//! | `String` | strings as they are; numbers and booleans as their text | objects, arrays of 2+ |
//! | `Vec<T>`, sets | arrays; a JSON array in a string; `"a,b,c"` or tab-separated text; a single value as `[value]`; each element coerced as `T`, errors naming its index | |
//! | `Option<T>` | missing, `null` or `""` (or blank, for a non-text `T`) as `None` | |
//! | choices (unit enums) | the variant names serde uses, trimmed | anything else, with the allowed names in the message |
//! | date-times | RFC 3339 strings; epoch milliseconds, as numbers or strings | everything else |
//! | any scalar | a one-element array, unwrapped | arrays of 2+ |
//! | a field with a default | the default when the value is missing, `null` or `""` | |
//!
//! Undeclared keys are left alone (a WebSocket body always carries `action`), and
//! every bad field is reported at once. Each row is a property test
//! (`tests/properties.rs`).

mod coerce;
pub(crate) mod names;
mod schema;
mod validate;

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

pub use coerce::coerce;

/// A struct that a service takes as input. Derive it with `#[derive(Input)]`.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Debug, Deserialize, Input)]
/// struct Greeting {
///     /// Who to greet
///     name: String,
///     /// How many times
///     #[input(default = 1)]
///     times: u32,
/// }
///
/// let shape = Greeting::shape();
/// assert_eq!(shape.fields[0].name, "name");
/// assert!(shape.fields[0].required);
/// assert_eq!(shape.fields[1].default, Some(json!(1)));
///
/// let greeting: Greeting = fabric::input::parse(json!({"name": "Ada", "times": "3"})).unwrap();
/// assert_eq!(greeting.times, 3);
/// ```
///
/// # Names
///
/// The wire names of fields and of choices are serde's own: the derive asks the
/// type's `Deserialize` for them (the first time [`Input::shape`] or
/// [`InputType::kind`] is called), so `rename`, every `rename_all` rule and `skip`
/// give exactly the names serde accepts.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// #[serde(rename_all = "snake_case")]
/// enum Backend {
///     HTTPServer,
///     Lambda,
/// }
///
/// let fabric::input::Kind::Choice(choices) = <Backend as fabric::InputType>::kind() else {
///     unreachable!()
/// };
/// assert_eq!(choices[0].name, "h_t_t_p_server");
/// ```
///
/// A type whose `Deserialize` does not name its fields or variants to serde (a
/// hand-written impl, `#[serde(from, try_from, transparent, untagged)]`, an
/// internally tagged enum) keeps its Rust names, without `r#`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Fabric input",
    label = "this type does not implement `fabric::Input`",
    note = "add `#[derive(fabric::Input)]` (with `serde::Deserialize`) to `{Self}`"
)]
pub trait Input: DeserializeOwned + Send + 'static {
    /// The fields of the input, their kinds, defaults, descriptions and rules.
    fn shape() -> &'static Shape;

    /// Runs the struct's `validator` rules, if it has any.
    fn validate(&self) -> Result<(), validator::ValidationErrors>;
}

/// A type that can be a field of an [`Input`]: it knows its [`Kind`], which drives
/// coercion, the input schema and CLI flags.
///
/// Implemented for the primitive types, `String`, `Vec`, `Option`, maps with string
/// keys, `serde_json::Value`, `chrono::DateTime`, and for every type with
/// `#[derive(Input)]` (structs become nested objects, unit-only enums become choices).
///
/// ```
/// use fabric::input::{InputType, Kind};
/// assert!(matches!(<Vec<u8> as InputType>::kind(), Kind::List(_)));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a field of a Fabric input",
    label = "unsupported field type",
    note = "use a primitive, String, Vec, Option, a map, serde_json::Value, chrono::DateTime, or a type with `#[derive(fabric::Input)]`"
)]
pub trait InputType {
    /// How values of this type are coerced and described.
    fn kind() -> Kind;
}

/// The shape of an input struct, as `#[derive(Input)]` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// The Rust name of the struct.
    pub name: &'static str,
    /// The struct's doc comment.
    pub description: Option<&'static str>,
    /// The deserialized fields, in declaration order.
    pub fields: Vec<Field>,
}

/// One field of a [`Shape`].
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The name on the wire, as serde deserializes it (see the note on names in
    /// [`Input`]).
    pub name: &'static str,
    /// The Rust name of the field, which `validator` reports errors under.
    pub rust_name: &'static str,
    /// How the value is coerced.
    pub kind: Kind,
    /// Whether the input must carry a value (not `Option`, no default).
    pub required: bool,
    /// The value used when the input has none, as JSON.
    pub default: Option<Value>,
    /// The field's doc comment.
    pub description: Option<&'static str>,
    /// The CLI long flag, without dashes. `#[derive(Input)]` sets it: the field's
    /// `#[input(long = "..")]`, or else the kebab-case of its name (`page-size` for
    /// `page_size` or `pageSize`). `None` (as from [`Field::new`]) uses the wire name
    /// as it is.
    pub long: Option<&'static str>,
    /// The CLI short flag.
    pub short: Option<char>,
    /// Limits from the field's `validator` rules, for the schema.
    pub rules: Rules,
}

impl Field {
    /// A field with the given wire name and kind and nothing else; a building block
    /// for hand-written [`Input`] implementations and tests.
    ///
    /// ```
    /// use fabric::input::{Field, Kind};
    /// let field = Field::new("room", Kind::String);
    /// assert!(field.required);
    /// ```
    pub fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            rust_name: name,
            required: !matches!(kind, Kind::Optional(_)),
            kind,
            default: None,
            description: None,
            long: None,
            short: None,
            rules: Rules::default(),
        }
    }
}

/// Schema-relevant limits taken from a field's `#[validate(...)]` attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// `length(min = ..)` or `length(equal = ..)`.
    pub min_length: Option<u64>,
    /// `length(max = ..)` or `length(equal = ..)`.
    pub max_length: Option<u64>,
    /// `range(min = ..)`.
    pub minimum: Option<f64>,
    /// `range(max = ..)`.
    pub maximum: Option<f64>,
    /// `range(exclusive_min = ..)`.
    pub exclusive_minimum: Option<f64>,
    /// `range(exclusive_max = ..)`.
    pub exclusive_maximum: Option<f64>,
    /// `regex(path = ..)`: the regular expression's source.
    pub pattern: Option<String>,
    /// `email`, `url` or `ip`: a JSON Schema format.
    pub format: Option<&'static str>,
}

/// How a field's value is coerced, per the table in the design notes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// `bool`.
    Bool,
    /// Any integer type, with its inclusive range.
    Integer {
        /// The smallest value of the type.
        min: i128,
        /// The largest value of the type.
        max: i128,
    },
    /// `f32` or `f64`.
    Float,
    /// `String`.
    String,
    /// A timestamp: RFC 3339 text or epoch milliseconds.
    DateTime,
    /// A unit-only enum with `#[derive(Input)]`: one of a fixed set of names.
    Choice(&'static [Choice]),
    /// `Vec<T>` and other sequences.
    List(Box<Kind>),
    /// A map with string keys.
    Map(Box<Kind>),
    /// `Option<T>`: missing, null and "" are None.
    Optional(Box<Kind>),
    /// A nested struct with `#[derive(Input)]`.
    Object(&'static Shape),
    /// `serde_json::Value`: taken as it comes.
    Any,
}

impl Kind {
    /// The kind under any `Optional` wrappers.
    pub fn inner(&self) -> &Kind {
        match self {
            Kind::Optional(inner) => inner.inner(),
            kind => kind,
        }
    }

    /// A short name of what the kind expects, for messages ("an integer", "a list").
    pub fn expected(&self) -> String {
        match self {
            Kind::Bool => "a boolean".into(),
            Kind::Integer { .. } => "an integer".into(),
            Kind::Float => "a number".into(),
            Kind::String => "a string".into(),
            Kind::DateTime => "an RFC 3339 date-time or epoch milliseconds".into(),
            Kind::Choice(choices) => format!("one of {}", Choice::list(choices)),
            Kind::List(_) => "a list".into(),
            Kind::Map(_) | Kind::Object(_) => "an object".into(),
            Kind::Optional(inner) => inner.expected(),
            Kind::Any => "any value".into(),
        }
    }
}

/// One allowed value of a [`Kind::Choice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The name on the wire, as serde deserializes it (see the note on names in
    /// [`Input`]).
    pub name: &'static str,
    /// The variant's doc comment.
    pub description: Option<&'static str>,
}

impl Choice {
    /// `"join", "leave", "message"`: the names quoted and joined, for messages.
    pub fn list(choices: &[Choice]) -> String {
        let quoted: Vec<String> = choices.iter().map(|c| format!("\"{}\"", c.name)).collect();
        quoted.join(", ")
    }
}

impl Shape {
    /// The field with this wire name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Parses raw JSON into `T`: coerce, deserialize, validate. Every problem is reported
/// in one 400 error, one issue per field, each with a JSON pointer.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Debug, Deserialize, Validate, Input)]
/// struct Page {
///     #[validate(range(min = 1))]
///     number: u32,
///     #[validate(range(max = 100))]
///     size: u32,
/// }
///
/// let page: Page = fabric::input::parse(json!({"number": "2", "size": 10})).unwrap();
/// assert_eq!(page.number, 2);
///
/// let err = fabric::input::parse::<Page>(json!({"number": 0, "size": 500})).unwrap_err();
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.issues().len(), 2);
/// ```
pub fn parse<T: Input>(mut raw: Value) -> Result<T, Error> {
    let shape = T::shape();
    coerce(shape, &mut raw)?;
    // Deserializing from a borrowed value keeps `raw` for the rare failure, where the
    // path-tracking deserializer (several times slower) runs again to find the field.
    let input = match T::deserialize(&raw) {
        Ok(input) => input,
        Err(_) => serde_path_to_error::deserialize(&raw).map_err(validate::from_serde_error)?,
    };
    input
        .validate()
        .map_err(|errors| validate::from_validation_errors(shape, &errors))?;
    Ok(input)
}

/// Parses text (a WebSocket frame, an HTTP body) into raw input JSON. Text that is
/// not JSON is a 400 in the same words as any other non-object input.
///
/// ```
/// let err = fabric::input::from_json_text("hello").unwrap_err();
/// assert_eq!(err.status(), 400);
/// assert!(err.detail().starts_with("Input must be an object"));
/// assert_eq!(fabric::input::from_json_text(r#"{"a":1}"#).unwrap()["a"], 1);
/// ```
pub fn from_json_text(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|err| {
        Error::bad_request(format!("Input must be an object, got invalid JSON: {err}"))
            .with_source(err)
    })
}

macro_rules! integer_kinds {
    ($($ty:ty),*) => {
        $(
            impl InputType for $ty {
                fn kind() -> Kind {
                    Kind::Integer { min: <$ty>::MIN as i128, max: <$ty>::MAX as i128 }
                }
            }
        )*
    };
}

integer_kinds!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! simple_kinds {
    ($($ty:ty => $kind:expr),* $(,)?) => {
        $(
            impl InputType for $ty {
                fn kind() -> Kind {
                    $kind
                }
            }
        )*
    };
}

simple_kinds! {
    bool => Kind::Bool,
    f32 => Kind::Float,
    f64 => Kind::Float,
    String => Kind::String,
    Value => Kind::Any,
    chrono::DateTime<chrono::Utc> => Kind::DateTime,
    chrono::DateTime<chrono::FixedOffset> => Kind::DateTime,
}

impl<T: InputType> InputType for Option<T> {
    fn kind() -> Kind {
        Kind::Optional(Box::new(T::kind()))
    }
}

impl<T: InputType> InputType for Box<T> {
    fn kind() -> Kind {
        T::kind()
    }
}

impl<T: InputType> InputType for Vec<T> {
    fn kind() -> Kind {
        Kind::List(Box::new(T::kind()))
    }
}

impl<T: InputType, S> InputType for std::collections::HashSet<T, S> {
    fn kind() -> Kind {
        Kind::List(Box::new(T::kind()))
    }
}

impl<T: InputType> InputType for std::collections::BTreeSet<T> {
    fn kind() -> Kind {
        Kind::List(Box::new(T::kind()))
    }
}

impl<T: InputType, S> InputType for HashMap<String, T, S> {
    fn kind() -> Kind {
        Kind::Map(Box::new(T::kind()))
    }
}

impl<T: InputType> InputType for BTreeMap<String, T> {
    fn kind() -> Kind {
        Kind::Map(Box::new(T::kind()))
    }
}
