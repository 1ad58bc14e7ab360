//! Turning serde and `validator` failures into one 400 [`Error`] with a pointer per
//! issue.

use std::borrow::Cow;

use serde_json::Value;
use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

use super::{Kind, Shape};
use crate::{Error, ErrorKind, Issue};

/// A serde failure after coercion (rare: custom `Deserialize` impls), with the path
/// serde was at.
pub(super) fn from_serde_error(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let mut pointer = String::new();
    for segment in err.path().iter() {
        pointer.push('/');
        match segment {
            serde_path_to_error::Segment::Seq { index } => pointer.push_str(&index.to_string()),
            serde_path_to_error::Segment::Map { key } => {
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            serde_path_to_error::Segment::Enum { variant } => pointer.push_str(variant),
            serde_path_to_error::Segment::Unknown => pointer.push('?'),
        }
    }
    let path = err.path().to_string();
    let inner = err.into_inner();
    if pointer.is_empty() {
        Error::bad_request(format!("Invalid input: {inner}")).with_source(inner)
    } else {
        Error::bad_request(format!("Invalid value for field \"{path}\": {inner}"))
            .with_pointer(pointer)
            .with_source(inner)
    }
}

/// Every `validator` failure as one issue, in the order the fields are declared.
pub(super) fn from_validation_errors(shape: &Shape, errors: &ValidationErrors) -> Error {
    let mut issues = Vec::new();
    collect(shape, errors, "", "", &mut issues);
    Error::with_issues(ErrorKind::BadRequest, issues)
}

fn collect(
    shape: &Shape,
    errors: &ValidationErrors,
    name: &str,
    pointer: &str,
    issues: &mut Vec<Issue>,
) {
    for field in &shape.fields {
        let Some(kind) = errors.0.get(field.rust_name) else {
            continue;
        };
        let name = if name.is_empty() {
            field.name.to_owned()
        } else {
            format!("{name}.{}", field.name)
        };
        let pointer = format!(
            "{pointer}/{}",
            field.name.replace('~', "~0").replace('/', "~1")
        );
        collect_kind(&field.kind, kind, &name, &pointer, issues);
    }
    // Struct-level rules (`#[validate(schema(..))]`) and names we do not know.
    for (key, kind) in &errors.0 {
        if shape.fields.iter().any(|f| f.rust_name == key) {
            continue;
        }
        if let ValidationErrorsKind::Field(list) = kind {
            for error in list {
                let reason = reason(error, &Kind::Any);
                let issue = if name.is_empty() {
                    Issue::new(format!("Validation failed: {reason}"))
                } else {
                    Issue::invalid_field(name, reason)
                };
                issues.push(if pointer.is_empty() {
                    issue
                } else {
                    issue.at(pointer)
                });
            }
        }
    }
}

fn collect_kind(
    kind: &Kind,
    errors: &ValidationErrorsKind,
    name: &str,
    pointer: &str,
    issues: &mut Vec<Issue>,
) {
    match errors {
        ValidationErrorsKind::Field(list) => {
            for error in list {
                issues.push(Issue::invalid_field(name, reason(error, kind)).at(pointer));
            }
        }
        ValidationErrorsKind::Struct(nested) => {
            if let Kind::Object(shape) = kind.inner() {
                collect(shape, nested, name, pointer, issues);
            }
        }
        ValidationErrorsKind::List(items) => {
            let element = match kind.inner() {
                Kind::List(element) => element.inner(),
                other => other,
            };
            if let Kind::Object(shape) = element {
                for (index, nested) in items {
                    collect(
                        shape,
                        nested,
                        &format!("{name}[{index}]"),
                        &format!("{pointer}/{index}"),
                        issues,
                    );
                }
            }
        }
    }
}

/// A sentence for one `validator` failure: its message if it has one, else one
/// built from its code and parameters.
fn reason(error: &ValidationError, kind: &Kind) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    let param = |name: &'static str| error.params.get(&Cow::Borrowed(name)).map(show);
    match error.code.as_ref() {
        "length" => {
            let (verb, unit) = match kind.inner() {
                Kind::List(_) | Kind::Map(_) => ("have", "items"),
                _ => ("be", "characters long"),
            };
            let span = match (param("equal"), param("min"), param("max")) {
                (Some(equal), _, _) => format!("exactly {equal}"),
                (None, Some(min), Some(max)) => format!("between {min} and {max}"),
                (None, Some(min), None) => format!("at least {min}"),
                (None, None, Some(max)) => format!("at most {max}"),
                (None, None, None) => "the right length".to_owned(),
            };
            format!("must {verb} {span} {unit}")
        }
        "range" => {
            let lower = param("min")
                .map(|min| format!("at least {min}"))
                .or_else(|| param("exclusive_min").map(|min| format!("greater than {min}")));
            let upper = param("max")
                .map(|max| format!("at most {max}"))
                .or_else(|| param("exclusive_max").map(|max| format!("less than {max}")));
            match (lower, upper) {
                (Some(lower), Some(upper)) => format!("must be {lower} and {upper}"),
                (Some(bound), None) | (None, Some(bound)) => format!("must be {bound}"),
                (None, None) => "is out of range".to_owned(),
            }
        }
        "email" => "must be a valid email address".to_owned(),
        "url" => "must be a valid URL".to_owned(),
        "ip" | "ipv4" | "ipv6" => "must be a valid IP address".to_owned(),
        "regex" => "does not match the required pattern".to_owned(),
        "contains" => format!("must contain {}", param("needle").unwrap_or_default()),
        "does_not_contain" => format!("must not contain {}", param("needle").unwrap_or_default()),
        "must_match" => format!("must match field {}", param("other").unwrap_or_default()),
        "required" => "is required".to_owned(),
        "credit_card" => "must be a valid credit card number".to_owned(),
        "non_control_character" => "must not contain control characters".to_owned(),
        code => format!("failed the \"{code}\" check"),
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(text) => format!("\"{text}\""),
        other => other.to_string(),
    }
}
