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
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
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

/// A string borrowed from the event text when it has no escapes (serde's own
/// `Cow<str>` always copies).
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
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
