//! The text an invocation's metrics keep: names, dimension values, ids.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// The longest text kept inline: request and connection ids, routes.
const INLINE: usize = 30;

/// Borrowed when static (Fabric's own names), inline when short (an id, a route),
/// else owned: the few texts of an invocation then allocate nothing.
#[derive(Clone)]
pub(super) enum Text {
    Static(&'static str),
    Inline { len: u8, bytes: [u8; INLINE] },
    Owned(String),
}

impl Text {
    /// `text`, copied: inline when it fits.
    pub(super) fn copy(text: &str) -> Text {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Text::Inline { len, bytes }
            }
            _ => Text::Owned(text.to_owned()),
        }
    }
}

impl From<Cow<'static, str>> for Text {
    fn from(text: Cow<'static, str>) -> Text {
        match text {
            Cow::Borrowed(text) => Text::Static(text),
            Cow::Owned(text) => Text::Owned(text),
        }
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Static(text) => text,
            // Copied whole from a `&str`, so always text; checked rather than
            // assumed, since this crate has no unsafe code.
            Text::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Text::Owned(text) => text,
        }
    }
}

impl Text {
    /// The text's bytes, without checking them again.
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Text::Static(text) => text.as_bytes(),
            Text::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Text::Owned(text) => text.as_bytes(),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        match (self, other) {
            // The same static name (Fabric's own), or two inline copies whose unused
            // bytes are zero: compared without reading the text apart.
            (Text::Static(a), Text::Static(b)) if std::ptr::eq(*a, *b) => true,
            (Text::Inline { len: a, bytes: x }, Text::Inline { len: b, bytes: y }) => {
                a == b && x == y
            }
            _ => self.bytes() == other.bytes(),
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_inline_and_long_text_owned_and_both_read_back() {
        let id = "Bq7ZkfvLIAMCLbQ=";
        assert!(matches!(Text::copy(id), Text::Inline { .. }));
        assert_eq!(&*Text::copy(id), id);
        let long = "x".repeat(INLINE + 1);
        assert!(matches!(Text::copy(&long), Text::Owned(_)));
        assert_eq!(&*Text::copy(&long), long);
        let exact = "é".repeat(INLINE / 2);
        assert_eq!(&*Text::copy(&exact), exact);
        assert_eq!(&*Text::copy(""), "");
        assert!(Text::copy(id) == Text::from(Cow::Borrowed(id)));
    }
}
