//! A request's raw input: query parameters, then path parameters, then the body's
//! fields, each level overriding the one before.

use std::borrow::Cow;

use http::HeaderValue;
use serde_json::{Map, Value};

use crate::Error;

/// Builds the raw input of a request; a body that cannot be read as input is a 400.
pub(super) fn raw_input(
    query: Option<&str>,
    params: &[(&str, &str)],
    content_type: Option<&HeaderValue>,
    body: &[u8],
) -> Result<Value, Error> {
    let mut input = Map::new();
    if let Some(query) = query {
        if query.contains(['%', '+']) {
            add_pairs(&mut input, decoded_pairs(query, "query string")?);
        } else {
            // Nothing to decode: the pairs are slices of the query.
            add_pairs(&mut input, plain_pairs(query));
        }
    }
    for (name, value) in params {
        let value = percent_decode(value, false)
            .map_err(|bad| invalid_encoding(&format!("path parameter \"{name}\""), &bad))?;
        input.insert((*name).to_owned(), Value::String(value.into_owned()));
    }
    if let Some(fields) = body_fields(content_type, body)? {
        input.extend(fields);
    }
    Ok(Value::Object(input))
}

/// Adds `key=value` pairs; a key given twice becomes a list.
fn add_pairs<'a>(
    input: &mut Map<String, Value>,
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) {
    for (key, value) in pairs {
        let value = Value::String(value.into_owned());
        match input.get_mut(key.as_ref()) {
            None => {
                input.insert(key.into_owned(), value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
}

/// `key=value` pairs of a query or form body, decoded; a `%` not followed by two
/// hex digits, or escapes that do not decode to UTF-8 text, are a 400: read
/// leniently, they would reach the service as other text than the client sent.
fn decoded_pairs<'a>(
    text: &'a str,
    what: &str,
) -> Result<impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + use<'a>, Error> {
    let mut pairs = Vec::new();
    for (key, value) in plain_pairs(text) {
        let decode =
            |part: &'a str| percent_decode(part, true).map_err(|bad| invalid_encoding(what, &bad));
        pairs.push((decode_cow(key, decode)?, decode_cow(value, decode)?));
    }
    Ok(pairs.into_iter())
}

fn decode_cow<'a>(
    part: Cow<'a, str>,
    decode: impl Fn(&'a str) -> Result<Cow<'a, str>, Error>,
) -> Result<Cow<'a, str>, Error> {
    match part {
        Cow::Borrowed(text) => decode(text),
        Cow::Owned(text) => Ok(Cow::Owned(text)),
    }
}

/// `text` percent-decoded (and `+` as a space, in queries and forms), or the
/// offending escape.
fn percent_decode(text: &str, plus_as_space: bool) -> Result<Cow<'_, str>, String> {
    let escaped = text.contains('%') || (plus_as_space && text.contains('+'));
    if !escaped {
        return Ok(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'%' => {
                let hex = bytes.get(at + 1..at + 3).and_then(|pair| {
                    std::str::from_utf8(pair)
                        .ok()
                        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                        .filter(|_| pair.iter().all(u8::is_ascii_hexdigit))
                });
                let Some(byte) = hex else {
                    let end = (at + 3).min(bytes.len());
                    return Err(String::from_utf8_lossy(&bytes[at..end]).into_owned());
                };
                out.push(byte);
                at += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                at += 1;
            }
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| format!("escapes in \"{}\" that are not UTF-8", describe(text)))
}

/// A value in a message, cut at 40 characters.
fn describe(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

fn invalid_encoding(what: &str, bad: &str) -> Error {
    Error::bad_request(format!("The {what} has invalid percent-encoding: {bad}"))
}

/// `key=value` pairs of a query with no escapes; empty pairs are skipped and a key
/// without `=` has an empty value.
fn plain_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (Cow::Borrowed(key), Cow::Borrowed(value))
        })
}

enum BodyFormat {
    Json,
    Form,
    /// No content type, or plain text: JSON if it looks like it, else form fields.
    Guess,
}

fn body_format(content_type: Option<&HeaderValue>) -> Result<BodyFormat, Error> {
    let Some(content_type) = content_type else {
        return Ok(BodyFormat::Guess);
    };
    let text = content_type.to_str().unwrap_or_default();
    let media = text.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json")
        || media.to_ascii_lowercase().ends_with("+json")
    {
        Ok(BodyFormat::Json)
    } else if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyFormat::Form)
    } else if media.is_empty() || media.eq_ignore_ascii_case("text/plain") {
        Ok(BodyFormat::Guess)
    } else {
        Err(Error::bad_request(format!(
            "Unsupported content type \"{text}\": send a JSON object (application/json) or form fields (application/x-www-form-urlencoded)"
        )))
    }
}

/// The fields of the body, or `None` for an empty body.
fn body_fields(
    content_type: Option<&HeaderValue>,
    body: &[u8],
) -> Result<Option<Map<String, Value>>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let format = body_format(content_type)?;
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::bad_request("The body is not valid UTF-8 text"))?;
    // `curl -d '{...}'` sends JSON labelled as a form: a form never starts with `{`.
    let json = match format {
        BodyFormat::Json => true,
        BodyFormat::Form | BodyFormat::Guess => text.trim_start().starts_with('{'),
    };
    if !json {
        let mut fields = Map::new();
        add_pairs(&mut fields, decoded_pairs(text, "form body")?);
        return Ok(Some(fields));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(fields)) => Ok(Some(fields)),
        Ok(other) => Err(Error::bad_request(format!(
            "The body must be a JSON object, got {}",
            json_type(&other)
        ))),
        Err(err) => {
            Err(Error::bad_request(format!("The body is not valid JSON: {err}")).with_source(err))
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(query: &str, params: &[(&str, &str)], content_type: &str, body: &str) -> Value {
        let content_type = (!content_type.is_empty()).then(|| content_type.parse().unwrap());
        raw_input(Some(query), params, content_type.as_ref(), body.as_bytes()).unwrap()
    }

    fn refused(content_type: &str, body: &str) -> String {
        let content_type: HeaderValue = content_type.parse().unwrap();
        raw_input(None, &[], Some(&content_type), body.as_bytes())
            .unwrap_err()
            .detail()
            .to_owned()
    }

    #[test]
    fn the_body_wins_over_the_path_which_wins_over_the_query() {
        let got = input(
            "a=query&b=query&c=query",
            &[("b", "path"), ("c", "path")],
            "application/json",
            r#"{"c": "body"}"#,
        );
        assert_eq!(got, json!({"a": "query", "b": "path", "c": "body"}));
    }

    #[test]
    fn repeated_query_keys_become_lists_and_values_are_decoded() {
        let got = input(
            "tag=a&tag=b+c&tag=d%2Ce&x=%C3%A9",
            &[("id", "a%20b")],
            "",
            "",
        );
        assert_eq!(
            got,
            json!({"tag": ["a", "b c", "d,e"], "x": "é", "id": "a b"})
        );
    }

    #[test]
    fn plain_queries_read_as_form_urlencoded_reads_them() {
        for query in [
            "a=1&b=2",
            "&&a=1&&",
            "a&b=",
            "a=1=2&=x",
            "",
            "é=ü&tag=a&tag=b",
        ] {
            let mut plain = Map::new();
            add_pairs(&mut plain, plain_pairs(query));
            let mut decoded = Map::new();
            add_pairs(&mut decoded, form_urlencoded::parse(query.as_bytes()));
            assert_eq!(plain, decoded, "{query}");
        }
    }

    #[test]
    fn forms_and_json_sent_as_a_form_are_read() {
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            input("", &[], form, "a=1&b=x+y"),
            json!({"a": "1", "b": "x y"})
        );
        assert_eq!(input("", &[], form, r#"{"a": 1}"#), json!({"a": 1}));
        assert_eq!(input("", &[], "", r#" {"a": 1}"#), json!({"a": 1}));
        assert_eq!(input("", &[], "text/plain", "a=2"), json!({"a": "2"}));
        assert_eq!(
            input(
                "",
                &[],
                "application/vnd.api+json; charset=utf-8",
                r#"{"a":3}"#
            ),
            json!({"a": 3})
        );
    }

    #[test]
    fn bad_json_bodies_are_bad_requests() {
        assert!(refused("application/json", "hello").starts_with("The body is not valid JSON"));
        assert_eq!(
            refused("application/json", "[1, 2]"),
            "The body must be a JSON object, got an array"
        );
        assert!(refused("image/png", "x").starts_with("Unsupported content type \"image/png\""));
        assert_eq!(
            raw_input(None, &[], None, &[0xff, 0xfe])
                .unwrap_err()
                .detail(),
            "The body is not valid UTF-8 text"
        );
    }

    #[test]
    fn an_empty_body_adds_nothing() {
        assert_eq!(
            input("a=1", &[], "application/json", "  "),
            json!({"a": "1"})
        );
    }
}
