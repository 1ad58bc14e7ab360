//! Finding a token in a request, and reading its header before trusting it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::JwtError;

/// What a request offers to look for a token in: query parameters, headers and
/// the subprotocols of `Sec-WebSocket-Protocol`. The WebSocket request and the
/// authorizer's request implement it.
pub trait TokenSources {
    /// The first value of query parameter `name`.
    fn query_param(&self, name: &str) -> Option<&str>;
    /// The value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str>;
    /// The subprotocols the client offered, in order.
    fn requested_protocols(&self) -> Vec<&str>;
}

/// Where [`find_token`] found the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `?token=…`
    TokenQuery,
    /// `?Authorization=…` (with or without `Bearer `)
    AuthorizationQuery,
    /// `Authorization: Bearer …`
    BearerHeader,
    /// A subprotocol that is a JWT: the server must echo it as the chosen
    /// protocol, or browsers close the connection.
    Subprotocol(String),
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFound {
    /// The compact JWT.
    pub token: String,
    /// Where it was.
    pub source: TokenSource,
}

impl TokenFound {
    /// The subprotocol to answer with, when the token came as one.
    pub fn chosen_protocol(&self) -> Option<&str> {
        match &self.source {
            TokenSource::Subprotocol(protocol) => Some(protocol),
            _ => None,
        }
    }
}

/// The token of a request: `?token=`, then `?Authorization=`, then
/// `Authorization: Bearer`, then the first subprotocol shaped like a JWT.
///
/// ```
/// use fabric::jwt::{TokenSource, TokenSources, find_token};
/// struct Query(&'static str);
/// impl TokenSources for Query {
///     fn query_param(&self, name: &str) -> Option<&str> { (name == "token").then_some(self.0) }
///     fn header(&self, _: &str) -> Option<&str> { None }
///     fn requested_protocols(&self) -> Vec<&str> { Vec::new() }
/// }
/// let found = find_token(&Query("a.b.c")).unwrap();
/// assert_eq!((found.token.as_str(), found.source), ("a.b.c", TokenSource::TokenQuery));
/// ```
pub fn find_token(request: &impl TokenSources) -> Option<TokenFound> {
    let found = |token: &str, source| {
        let token = token.trim();
        (!token.is_empty()).then(|| TokenFound {
            token: token.to_string(),
            source,
        })
    };
    if let Some(token) = request
        .query_param("token")
        .and_then(|t| found(t, TokenSource::TokenQuery))
    {
        return Some(token);
    }
    if let Some(value) = request.query_param("Authorization") {
        if let Some(token) = found(strip_bearer(value), TokenSource::AuthorizationQuery) {
            return Some(token);
        }
    }
    if let Some(value) = request.header("authorization") {
        let lower = value.get(..7).map(str::to_ascii_lowercase);
        if lower.as_deref() == Some("bearer ") {
            if let Some(token) = found(&value[7..], TokenSource::BearerHeader) {
                return Some(token);
            }
        }
    }
    request
        .requested_protocols()
        .into_iter()
        .find(|p| looks_like_jwt(p))
        .map(|p| TokenFound {
            token: p.to_string(),
            source: TokenSource::Subprotocol(p.to_string()),
        })
}

fn strip_bearer(value: &str) -> &str {
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => &value[7..],
        _ => value,
    }
}

fn looks_like_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The fields of a JOSE header a verifier needs before it picks a key.
#[derive(Debug, Deserialize)]
pub(super) struct Header {
    pub(super) alg: String,
    #[serde(default)]
    pub(super) kid: Option<String>,
}

/// The header of `token`, read without trusting it; `alg` is checked by the caller,
/// so `none` and algorithm confusion are refused before any key is used.
pub(super) fn header(token: &str) -> Result<Header, JwtError> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Request {
        query: Vec<(&'static str, &'static str)>,
        headers: Vec<(&'static str, &'static str)>,
        protocols: Vec<&'static str>,
    }

    impl TokenSources for Request {
        fn query_param(&self, name: &str) -> Option<&str> {
            self.query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
        }
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
        fn requested_protocols(&self) -> Vec<&str> {
            self.protocols.clone()
        }
    }

    fn request(
        query: Vec<(&'static str, &'static str)>,
        headers: Vec<(&'static str, &'static str)>,
        protocols: Vec<&'static str>,
    ) -> Request {
        Request {
            query,
            headers,
            protocols,
        }
    }

    #[test]
    fn every_place_a_client_puts_a_token() {
        let found = |r: Request| find_token(&r).map(|f| (f.token, f.source));
        assert_eq!(
            found(request(
                vec![("Authorization", "Bearer a.b.c")],
                vec![],
                vec![]
            )),
            Some(("a.b.c".into(), TokenSource::AuthorizationQuery))
        );
        assert_eq!(
            found(request(
                vec![],
                vec![("Authorization", "bearer a.b.c")],
                vec![]
            )),
            Some(("a.b.c".into(), TokenSource::BearerHeader))
        );
        let by_protocol = find_token(&request(vec![], vec![], vec!["chat", "x.y.z"])).unwrap();
        assert_eq!(by_protocol.chosen_protocol(), Some("x.y.z"));
        // `?token=` wins over a header; blank values and Basic auth are not tokens.
        assert_eq!(
            found(request(
                vec![("token", "q.q.q")],
                vec![("authorization", "Bearer h.h.h")],
                vec![]
            )),
            Some(("q.q.q".into(), TokenSource::TokenQuery))
        );
        assert_eq!(
            found(request(
                vec![("token", " ")],
                vec![("authorization", "Basic Zm9v")],
                vec!["chat"]
            )),
            None
        );
    }

    #[test]
    fn a_header_that_is_not_base64_json_is_malformed() {
        assert_eq!(header("only.two").unwrap_err(), JwtError::Malformed);
        assert_eq!(header("!!.a.b").unwrap_err(), JwtError::Malformed);
        assert_eq!(header("a.b.c.d").unwrap_err(), JwtError::Malformed);
        let none = format!("{}.e30.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#));
        assert_eq!(header(&none).unwrap().alg, "none");
    }
}
