//! Reading Lambda event JSON with as few copies as the event allows: strings are
//! borrowed from the event text where they have no escapes, and header values
//! share one buffer. Shared by the WebSocket and HTTP adapters.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON object of header names to values, straight into a `HeaderMap`; invalid
/// names or values are left out, as API Gateway would not send them.
pub(crate) fn header_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<HeaderMap, D::Error> {
    struct Headers;

    impl<'de> Visitor<'de> for Headers {
        type Value = HeaderMap;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of header names to values")
        }

        fn visit_unit<E>(self) -> Result<HeaderMap, E> {
            Ok(HeaderMap::new())
        }

        fn visit_none<E>(self) -> Result<HeaderMap, E> {
            Ok(HeaderMap::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<HeaderMap, D::Error> {
            deserializer.deserialize_map(Headers)
        }

        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<HeaderMap, M::Error> {
            // The values share one buffer: one allocation instead of one per header.
            let mut names = Vec::with_capacity(16);
            let mut values = Vec::with_capacity(512);
            while let Some((Text(name), Text(value))) = map.next_entry()? {
                if let Some(name) = header_name(&name) {
                    let start = values.len();
                    values.extend_from_slice(value.as_bytes());
                    names.push((name, start..values.len()));
                }
            }
            let values = Bytes::from(values);
            let mut headers = HeaderMap::with_capacity(names.len());
            for (name, range) in names {
                if let Ok(value) = HeaderValue::from_maybe_shared(values.slice(range)) {
                    headers.append(name, value);
                }
            }
            Ok(headers)
        }
    }

    deserializer.deserialize_option(Headers)
}

/// Names API Gateway adds to every request. `HeaderName::from_bytes` copies a name
/// that is not a standard one into its own allocation; these are shared instead.
static GATEWAY_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("x-amzn-trace-id"),
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-proto"),
];

/// A header name in any case, or `None` when it is not a valid one.
fn header_name(name: &str) -> Option<HeaderName> {
    let gateway = name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-");
    if gateway {
        if let Some(known) = GATEWAY_HEADERS
            .iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(name))
        {
            return Some(known.clone());
        }
    }
    HeaderName::from_bytes(name.as_bytes()).ok()
}

/// A string borrowed from the event text when it has no escapes (serde's own
/// `Cow<str>`, also under `#[serde(borrow)]` inside an `Option`, copies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl From<String> for Text<'static> {
    fn from(text: String) -> Text<'static> {
        Text(Cow::Owned(text))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Text<'_>> for String {
    fn from(text: Text<'_>) -> String {
        text.0.into_owned()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(json: &str) -> HeaderMap {
        #[derive(Deserialize)]
        struct Event {
            #[serde(deserialize_with = "header_map")]
            headers: HeaderMap,
        }
        serde_json::from_str::<Event>(json).unwrap().headers
    }

    #[test]
    fn header_names_in_any_case_are_read_and_bad_ones_left_out() {
        let map = headers(
            r#"{"headers": {"X-Forwarded-For": "1.2.3.4", "x-amzn-trace-id": "Root=1",
                "Content-Type": "application/json", "X-Custom": "a\"b", "bad name": "x",
                "x-forwarded-protocol": "https"}}"#,
        );
        assert_eq!(map["x-forwarded-for"], "1.2.3.4");
        assert_eq!(map["x-amzn-trace-id"], "Root=1");
        assert_eq!(map["content-type"], "application/json");
        assert_eq!(map["x-custom"], "a\"b");
        assert_eq!(map["x-forwarded-protocol"], "https");
        assert_eq!(map.len(), 5);
        assert!(headers(r#"{"headers": null}"#).is_empty());
    }
}
