//! Coercion of raw JSON into the shape of an input struct, before serde sees it.
//!
//! Inputs arrive as JSON from WebSocket frames and HTTP bodies, and as strings from
//! query strings and command lines. Coercion makes the things that feel right work
//! (`"42"` for an integer, `"a,b"` for a list) and collects everything else as
//! issues, so one 400 lists every bad field.

use serde_json::{Map, Number, Value};

use super::{Choice, Field, Kind, Shape};
use crate::{Error, ErrorKind, Issue};

/// Coerces `value` in place into `shape`; every problem is one [`Issue`] of a single
/// 400 error.
///
/// ```
/// use fabric::input::{coerce, Field, Kind, Shape};
/// use serde_json::json;
///
/// let shape = Shape {
///     name: "Page",
///     description: None,
///     fields: vec![Field::new("size", Kind::Integer { min: 0, max: 100 })],
/// };
/// let mut raw = json!({"size": " 25 "});
/// coerce(&shape, &mut raw).unwrap();
/// assert_eq!(raw, json!({"size": 25}));
///
/// let err = coerce(&shape, &mut json!({"size": "lots"})).unwrap_err();
/// assert_eq!(err.detail(), r#"Invalid value for field "size": expected an integer, got "lots""#);
/// ```
pub fn coerce(shape: &Shape, value: &mut Value) -> Result<(), Error> {
    let Value::Object(map) = value else {
        return Err(Error::bad_request("Input must be an object"));
    };
    let mut issues = Vec::new();
    coerce_fields(shape, map, &Path::ROOT, &mut issues);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Error::with_issues(ErrorKind::BadRequest, issues))
    }
}

/// Where a value sits in the input; a stack-allocated linked list, so coercing a
/// valid input allocates nothing for paths.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path {
        parent: None,
        segment: Segment::Root,
    };

    fn child(&'a self, segment: Segment<'a>) -> Path<'a> {
        Path {
            parent: Some(self),
            segment,
        }
    }

    fn segments(&self) -> Vec<Segment<'a>> {
        let mut segments = Vec::new();
        let mut at = Some(self);
        while let Some(path) = at {
            if !matches!(path.segment, Segment::Root) {
                segments.push(path.segment);
            }
            at = path.parent;
        }
        segments.reverse();
        segments
    }

    /// The JSON pointer (RFC 6901): `/tags/2`, with `~` and `/` escaped.
    fn pointer(&self) -> String {
        let mut pointer = String::new();
        for segment in self.segments() {
            pointer.push('/');
            match segment {
                Segment::Key(key) => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
                Segment::Index(index) => pointer.push_str(&index.to_string()),
                Segment::Root => {}
            }
        }
        pointer
    }

    /// The name used in messages: `room`, `tags[2]`, `address.city`.
    fn display(&self) -> String {
        let mut name = String::new();
        for segment in self.segments() {
            match segment {
                Segment::Key(key) => {
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.push_str(key);
                }
                Segment::Index(index) => name.push_str(&format!("[{index}]")),
                Segment::Root => {}
            }
        }
        name
    }

    fn missing(&self) -> Issue {
        Issue::new(format!("Missing required field \"{}\"", self.display())).at(self.pointer())
    }

    fn invalid(&self, reason: &str) -> Issue {
        Issue::new(format!(
            "Invalid value for field \"{}\": {reason}",
            self.display()
        ))
        .at(self.pointer())
    }
}

fn coerce_fields(
    shape: &Shape,
    map: &mut Map<String, Value>,
    path: &Path,
    issues: &mut Vec<Issue>,
) {
    for field in &shape.fields {
        let path = path.child(Segment::Key(field.name));
        match map.get_mut(field.name) {
            Some(value) if !is_blank(value, &field.kind) => {
                coerce_value(&field.kind, value, &path, issues)
            }
            present => {
                let present = present.is_some();
                fill_blank(field, present, map, &path, issues);
            }
        }
    }
}

/// A missing, null or empty value: the default, None, or a missing-field issue.
fn fill_blank(
    field: &Field,
    present: bool,
    map: &mut Map<String, Value>,
    path: &Path,
    issues: &mut Vec<Issue>,
) {
    if let Some(default) = &field.default {
        map.insert(field.name.to_owned(), default.clone());
    } else if matches!(field.kind, Kind::Optional(_)) {
        if present {
            map.insert(field.name.to_owned(), Value::Null);
        }
    } else if field.required {
        issues.push(path.missing());
    } else if present {
        // A serde default we cannot express as JSON: let serde fill it in.
        map.remove(field.name);
    }
}

/// Null, "", or for non-text kinds only whitespace: all mean "no value".
fn is_blank(value: &Value, kind: &Kind) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => {
            text.is_empty() || (!matches!(kind.inner(), Kind::String) && text.trim().is_empty())
        }
        _ => false,
    }
}

fn coerce_value(kind: &Kind, value: &mut Value, path: &Path, issues: &mut Vec<Issue>) {
    match kind {
        Kind::Any => {}
        Kind::Optional(inner) => {
            if is_blank(value, inner) {
                *value = Value::Null;
            } else {
                coerce_value(inner, value, path, issues);
            }
        }
        Kind::Object(shape) => {
            parse_embedded_json(value, '{');
            match value {
                Value::Object(map) => coerce_fields(shape, map, path, issues),
                other => issues.push(path.invalid(&expected(kind, other))),
            }
        }
        Kind::Map(inner) => {
            parse_embedded_json(value, '{');
            match value {
                Value::Object(map) => {
                    for (key, item) in map.iter_mut() {
                        coerce_value(inner, item, &path.child(Segment::Key(key)), issues);
                    }
                }
                other => issues.push(path.invalid(&expected(kind, other))),
            }
        }
        Kind::List(inner) => match into_list(value.take()) {
            Ok(mut items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    coerce_value(inner, item, &path.child(Segment::Index(index)), issues);
                }
                *value = Value::Array(items);
            }
            Err(reason) => issues.push(path.invalid(&reason)),
        },
        scalar => {
            if let Value::Array(items) = value {
                if items.len() != 1 {
                    let reason = format!("expected a single value, got a list of {}", items.len());
                    issues.push(path.invalid(&reason));
                    return;
                }
                *value = items.pop().expect("one item");
            }
            if let Err(reason) = coerce_scalar(scalar, value) {
                issues.push(path.invalid(&reason));
            }
        }
    }
}

/// A JSON object or array sent as a string (from a query string or a CLI flag).
fn parse_embedded_json(value: &mut Value, opener: char) {
    if let Value::String(text) = value {
        if text.trim_start().starts_with(opener) {
            if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                *value = parsed;
            }
        }
    }
}

/// Arrays as they are; a JSON array string parsed; "a,b,c" or tab-separated text
/// split and trimmed; any other single value as a one-element list.
fn into_list(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        Value::String(text) => {
            let trimmed = text.trim();
            if trimmed.starts_with('[') {
                return serde_json::from_str(trimmed).map_err(|_| {
                    format!("expected a list, got invalid JSON {}", describe_text(&text))
                });
            }
            if trimmed.is_empty() {
                return Ok(Vec::new());
            }
            let separator = if trimmed.contains('\t') { '\t' } else { ',' };
            Ok(trimmed
                .split(separator)
                .map(|part| Value::String(part.trim().to_owned()))
                .collect())
        }
        single => Ok(vec![single]),
    }
}

fn coerce_scalar(kind: &Kind, value: &mut Value) -> Result<(), String> {
    match kind {
        Kind::Bool => coerce_bool(value),
        Kind::Integer { min, max } => coerce_integer(value, *min, *max),
        Kind::Float => coerce_float(value),
        Kind::String => coerce_string(value, kind),
        Kind::DateTime => coerce_datetime(value),
        Kind::Choice(choices) => coerce_choice(value, choices),
        _ => Ok(()),
    }
}

fn coerce_bool(value: &mut Value) -> Result<(), String> {
    let truth = match value {
        Value::Bool(_) => return Ok(()),
        Value::Number(number) => number.as_f64().is_some_and(|n| n > 0.0),
        Value::String(text) => {
            let text = text.trim();
            if text.eq_ignore_ascii_case("true") {
                true
            } else if text.eq_ignore_ascii_case("false") {
                false
            } else {
                parse_float(text).map_err(|_| expected(&Kind::Bool, value))? > 0.0
            }
        }
        other => return Err(expected(&Kind::Bool, other)),
    };
    *value = Value::Bool(truth);
    Ok(())
}

fn coerce_integer(value: &mut Value, min: i128, max: i128) -> Result<(), String> {
    let kind = Kind::Integer { min, max };
    let integer: i128 = match value {
        Value::Number(number) => {
            if let Some(i) = number.as_i64() {
                i128::from(i)
            } else if let Some(u) = number.as_u64() {
                i128::from(u)
            } else {
                whole(number.as_f64().unwrap_or(f64::NAN))?
            }
        }
        Value::String(text) => {
            let text = text.trim();
            match text.parse::<i128>() {
                Ok(i) => i,
                Err(_) => whole(parse_float(text).map_err(|_| expected(&kind, value))?)?,
            }
        }
        Value::Bool(flag) => i128::from(*flag),
        other => return Err(expected(&kind, other)),
    };
    if integer < min || integer > max {
        return Err(format!(
            "{integer} is out of range: must be between {min} and {max}"
        ));
    }
    *value = if integer < 0 {
        Value::from(integer as i64)
    } else {
        Value::from(integer as u64)
    };
    Ok(())
}

/// A float that is a whole number, as an integer; fractions are refused.
fn whole(number: f64) -> Result<i128, String> {
    if number.fract() != 0.0 {
        return Err(format!("expected an integer, got the fraction {number}"));
    }
    // `as` saturates; the range check that follows refuses what does not fit.
    Ok(number as i128)
}

fn coerce_float(value: &mut Value) -> Result<(), String> {
    let number = match value {
        Value::Number(_) => return Ok(()),
        Value::String(text) => {
            parse_float(text.trim()).map_err(|_| expected(&Kind::Float, value))?
        }
        Value::Bool(flag) => f64::from(u8::from(*flag)),
        other => return Err(expected(&Kind::Float, other)),
    };
    *value = Value::Number(Number::from_f64(number).expect("parse_float returns finite numbers"));
    Ok(())
}

/// The whole (trimmed) text as a finite number: "42abc", "NaN" and "inf" are refused.
fn parse_float(text: &str) -> Result<f64, ()> {
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    match text.parse::<f64>() {
        Ok(number) if looks_numeric && number.is_finite() => Ok(number),
        _ => Err(()),
    }
}

fn coerce_string(value: &mut Value, kind: &Kind) -> Result<(), String> {
    let text = match value {
        Value::String(_) => return Ok(()),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => return Err(expected(kind, other)),
    };
    *value = Value::String(text);
    Ok(())
}

fn coerce_datetime(value: &mut Value) -> Result<(), String> {
    let millis = match value {
        Value::String(text) => {
            let trimmed = text.trim();
            if chrono::DateTime::parse_from_rfc3339(trimmed).is_ok() {
                if trimmed.len() != text.len() {
                    *value = Value::String(trimmed.to_owned());
                }
                return Ok(());
            }
            trimmed
                .parse::<i64>()
                .map_err(|_| expected(&Kind::DateTime, value))?
        }
        Value::Number(number) => number
            .as_i64()
            .ok_or_else(|| expected(&Kind::DateTime, value))?,
        other => return Err(expected(&Kind::DateTime, other)),
    };
    let time = chrono::DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| format!("{millis} is out of range for epoch milliseconds"))?;
    *value = Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    Ok(())
}

fn coerce_choice(value: &mut Value, choices: &'static [Choice]) -> Result<(), String> {
    match value {
        Value::String(text) if choices.iter().any(|c| c.name == text) => Ok(()),
        Value::String(text) => {
            let trimmed = text.trim();
            if choices.iter().any(|c| c.name == trimmed) {
                *value = Value::String(trimmed.to_owned());
                Ok(())
            } else {
                Err(expected(&Kind::Choice(choices), value))
            }
        }
        other => Err(expected(&Kind::Choice(choices), other)),
    }
}

/// "expected an integer, got \"42abc\"".
fn expected(kind: &Kind, got: &Value) -> String {
    format!("expected {}, got {}", kind.expected(), describe(got))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => describe_text(text),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// Quoted, and cut at 40 characters so a huge value does not flood the message.
fn describe_text(text: &str) -> String {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("\"{}...\"", &text[..cut]),
        None => format!("\"{text}\""),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COLORS: &[Choice] = &[
        Choice {
            name: "red",
            description: None,
        },
        Choice {
            name: "green",
            description: None,
        },
    ];

    fn coerce_one(kind: Kind, raw: Value) -> Result<Value, Vec<String>> {
        let shape = Shape {
            name: "T",
            description: None,
            fields: vec![Field::new("v", kind)],
        };
        let mut input = json!({ "v": raw });
        match coerce(&shape, &mut input) {
            Ok(()) => Ok(input.get("v").cloned().unwrap_or(Value::Null)),
            Err(err) => Err(err.issues().iter().map(|i| i.detail().to_owned()).collect()),
        }
    }

    fn int() -> Kind {
        Kind::Integer {
            min: i64::MIN.into(),
            max: i64::MAX.into(),
        }
    }

    fn byte() -> Kind {
        Kind::Integer { min: 0, max: 255 }
    }

    #[test]
    fn bool_accepts_text_in_any_case_numbers_and_numeric_text() {
        for (raw, want) in [
            (json!(true), true),
            (json!(" TRUE "), true),
            (json!("False"), false),
            (json!(1), true),
            (json!(0), false),
            (json!(-2), false),
            (json!("0.5"), true),
            (json!("0"), false),
            (json!(["true"]), true),
        ] {
            assert_eq!(
                coerce_one(Kind::Bool, raw.clone()),
                Ok(json!(want)),
                "{raw}"
            );
        }
    }

    #[test]
    fn bool_rejects_other_text_objects_and_long_arrays() {
        for raw in [json!("yes"), json!({"a": 1}), json!([true, false])] {
            assert!(coerce_one(Kind::Bool, raw.clone()).is_err(), "{raw}");
        }
        assert_eq!(
            coerce_one(Kind::Bool, json!("yes")).unwrap_err(),
            vec![r#"Invalid value for field "v": expected a boolean, got "yes""#]
        );
    }

    #[test]
    fn integers_accept_numbers_numeric_text_bools_and_whole_floats() {
        for (raw, want) in [
            (json!(42), json!(42)),
            (json!("42"), json!(42)),
            (json!(" -7 "), json!(-7)),
            (json!("1e3"), json!(1000)),
            (json!(4.0), json!(4)),
            (json!(true), json!(1)),
            (json!(false), json!(0)),
            (json!(["7"]), json!(7)),
            (json!(u64::MAX), json!(u64::MAX)),
        ] {
            let kind = if raw == json!(u64::MAX) {
                Kind::Integer {
                    min: 0,
                    max: u64::MAX.into(),
                }
            } else {
                int()
            };
            assert_eq!(coerce_one(kind, raw.clone()), Ok(want), "{raw}");
        }
    }

    #[test]
    fn integers_reject_garbage_fractions_nan_and_out_of_range() {
        let cases = [
            (int(), json!("42abc"), r#"expected an integer, got "42abc""#),
            (
                int(),
                json!(2.5),
                "expected an integer, got the fraction 2.5",
            ),
            (
                int(),
                json!("2.5"),
                "expected an integer, got the fraction 2.5",
            ),
            (int(), json!("NaN"), r#"expected an integer, got "NaN""#),
            (
                int(),
                json!("Infinity"),
                r#"expected an integer, got "Infinity""#,
            ),
            (int(), json!("inf"), r#"expected an integer, got "inf""#),
            (
                int(),
                json!([1, 2]),
                "expected a single value, got a list of 2",
            ),
            (int(), json!({}), "expected an integer, got an object"),
            (
                byte(),
                json!(256),
                "256 is out of range: must be between 0 and 255",
            ),
            (
                byte(),
                json!("-1"),
                "-1 is out of range: must be between 0 and 255",
            ),
            (int(), json!("1e999"), r#"expected an integer, got "1e999""#),
        ];
        for (kind, raw, reason) in cases {
            assert_eq!(
                coerce_one(kind, raw.clone()),
                Err(vec![format!("Invalid value for field \"v\": {reason}")]),
                "{raw}"
            );
        }
    }

    #[test]
    fn floats_accept_numbers_text_and_bools_and_reject_the_rest() {
        assert_eq!(coerce_one(Kind::Float, json!(" 2.5 ")), Ok(json!(2.5)));
        assert_eq!(coerce_one(Kind::Float, json!("-1e2")), Ok(json!(-100.0)));
        assert_eq!(coerce_one(Kind::Float, json!(3)), Ok(json!(3)));
        assert_eq!(coerce_one(Kind::Float, json!(true)), Ok(json!(1.0)));
        for raw in [
            "12.5kg", "NaN", "nan", "-inf", "Infinity", "1e400", "0x10", "1_000",
        ] {
            assert_eq!(
                coerce_one(Kind::Float, json!(raw)),
                Err(vec![format!(
                    "Invalid value for field \"v\": expected a number, got \"{raw}\""
                )]),
            );
        }
    }

    #[test]
    fn strings_take_numbers_and_bools_as_text_and_refuse_structures() {
        assert_eq!(
            coerce_one(Kind::String, json!("  as is ")),
            Ok(json!("  as is "))
        );
        assert_eq!(coerce_one(Kind::String, json!(12.5)), Ok(json!("12.5")));
        assert_eq!(coerce_one(Kind::String, json!(false)), Ok(json!("false")));
        assert_eq!(coerce_one(Kind::String, json!(["one"])), Ok(json!("one")));
        assert!(coerce_one(Kind::String, json!({"a": 1})).is_err());
        assert_eq!(
            coerce_one(Kind::String, json!(["a", "b"])).unwrap_err(),
            vec![r#"Invalid value for field "v": expected a single value, got a list of 2"#]
        );
    }

    #[test]
    fn lists_accept_arrays_json_text_separated_text_and_single_values() {
        let ints = || Kind::List(Box::new(int()));
        assert_eq!(coerce_one(ints(), json!("1,2,3")), Ok(json!([1, 2, 3])));
        assert_eq!(coerce_one(ints(), json!("1\t2\t3")), Ok(json!([1, 2, 3])));
        assert_eq!(coerce_one(ints(), json!("[1,2]")), Ok(json!([1, 2])));
        assert_eq!(coerce_one(ints(), json!(["4", 5])), Ok(json!([4, 5])));
        assert_eq!(coerce_one(ints(), json!(9)), Ok(json!([9])));
        let words = Kind::List(Box::new(Kind::String));
        assert_eq!(
            coerce_one(words.clone(), json!("solo")),
            Ok(json!(["solo"]))
        );
        assert_eq!(
            coerce_one(words.clone(), json!("a, b")),
            Ok(json!(["a", "b"]))
        );
        assert_eq!(coerce_one(words, json!("a,b\tc")), Ok(json!(["a,b", "c"])));
    }

    #[test]
    fn list_errors_name_the_index() {
        let ints = Kind::List(Box::new(int()));
        let err = coerce_one(ints.clone(), json!("1,x,3,4.5")).unwrap_err();
        assert_eq!(
            err,
            vec![
                r#"Invalid value for field "v[1]": expected an integer, got "x""#,
                r#"Invalid value for field "v[3]": expected an integer, got the fraction 4.5"#,
            ]
        );
        assert_eq!(
            coerce_one(ints, json!("[1,")).unwrap_err(),
            vec![r#"Invalid value for field "v": expected a list, got invalid JSON "[1,""#]
        );
    }

    #[test]
    fn optional_values_are_none_when_missing_null_or_empty() {
        let opt = || Kind::Optional(Box::new(int()));
        assert_eq!(coerce_one(opt(), json!("")), Ok(Value::Null));
        assert_eq!(coerce_one(opt(), json!("  ")), Ok(Value::Null));
        assert_eq!(coerce_one(opt(), Value::Null), Ok(Value::Null));
        assert_eq!(coerce_one(opt(), json!("5")), Ok(json!(5)));
        assert!(coerce_one(opt(), json!("five")).is_err());
        let opt_text = Kind::Optional(Box::new(Kind::String));
        assert_eq!(coerce_one(opt_text.clone(), json!("")), Ok(Value::Null));
        assert_eq!(coerce_one(opt_text, json!(" ")), Ok(json!(" ")));
    }

    #[test]
    fn choices_accept_their_names_and_list_them_otherwise() {
        let kind = || Kind::Choice(COLORS);
        assert_eq!(coerce_one(kind(), json!("red")), Ok(json!("red")));
        assert_eq!(coerce_one(kind(), json!(" green ")), Ok(json!("green")));
        assert_eq!(
            coerce_one(kind(), json!("blue")).unwrap_err(),
            vec![r#"Invalid value for field "v": expected one of "red", "green", got "blue""#]
        );
        assert!(coerce_one(kind(), json!("RED")).is_err());
        assert!(coerce_one(kind(), json!(1)).is_err());
    }

    #[test]
    fn dates_accept_rfc3339_and_epoch_millis() {
        assert_eq!(
            coerce_one(Kind::DateTime, json!("2026-11-22T09:30:00+01:00")),
            Ok(json!("2026-11-22T09:30:00+01:00"))
        );
        assert_eq!(
            coerce_one(Kind::DateTime, json!(1795310400000_i64)),
            Ok(json!("2026-11-22T01:20:00.000Z"))
        );
        assert_eq!(
            coerce_one(Kind::DateTime, json!("1795310400000")),
            Ok(json!("2026-11-22T01:20:00.000Z"))
        );
        for raw in [
            json!("22/11/2026"),
            json!("2026-11-22"),
            json!(1.5),
            json!(true),
        ] {
            assert!(coerce_one(Kind::DateTime, raw.clone()).is_err(), "{raw}");
        }
    }

    #[test]
    fn nested_objects_and_maps_are_coerced_with_full_paths() {
        let inner: &'static Shape = Box::leak(Box::new(Shape {
            name: "Inner",
            description: None,
            fields: vec![Field::new("n", byte())],
        }));
        assert_eq!(
            coerce_one(Kind::Object(inner), json!({"n": "3"})),
            Ok(json!({"n": 3}))
        );
        assert_eq!(
            coerce_one(Kind::Object(inner), json!(r#"{"n": "4"}"#)),
            Ok(json!({"n": 4}))
        );
        let err = coerce_one(
            Kind::List(Box::new(Kind::Object(inner))),
            json!([{"n": 1}, {}]),
        );
        assert_eq!(err.unwrap_err(), vec![r#"Missing required field "v[1].n""#]);
        let map = Kind::Map(Box::new(byte()));
        assert_eq!(
            coerce_one(map.clone(), json!({"a/b": "1"})),
            Ok(json!({"a/b": 1}))
        );
        let shape = Shape {
            name: "T",
            description: None,
            fields: vec![Field::new("m", map)],
        };
        let err = coerce(&shape, &mut json!({"m": {"a/b": "x"}})).unwrap_err();
        assert_eq!(err.issues()[0].pointer(), Some("/m/a~1b"));
    }

    #[test]
    fn defaults_fill_missing_null_and_empty_values() {
        let mut field = Field::new("v", int());
        field.required = false;
        field.default = Some(json!(3));
        let shape = Shape {
            name: "T",
            description: None,
            fields: vec![field],
        };
        for raw in [json!({}), json!({"v": null}), json!({"v": ""})] {
            let mut input = raw.clone();
            coerce(&shape, &mut input).unwrap();
            assert_eq!(input, json!({"v": 3}), "{raw}");
        }
    }

    #[test]
    fn missing_required_fields_and_non_objects_are_reported() {
        let shape = Shape {
            name: "T",
            description: None,
            fields: vec![Field::new("a", int()), Field::new("b", Kind::String)],
        };
        let err = coerce(&shape, &mut json!({"a": null})).unwrap_err();
        let details: Vec<_> = err.issues().iter().map(|i| i.detail()).collect();
        assert_eq!(
            details,
            [
                r#"Missing required field "a""#,
                r#"Missing required field "b""#
            ]
        );
        for raw in [json!([1]), json!(3), json!("text"), Value::Null] {
            let err = coerce(&shape, &mut raw.clone()).unwrap_err();
            assert_eq!(err.detail(), "Input must be an object", "{raw}");
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(100);
        let err = coerce_one(int(), json!(long)).unwrap_err();
        assert!(
            err[0].ends_with(&format!("\"{}...\"", "x".repeat(40))),
            "{}",
            err[0]
        );
    }
}
