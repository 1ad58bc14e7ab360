//! The optional authorizer: a Bearer token in, a value for the Context out.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::HeaderMap;

use crate::{ContextBuilder, Error};

/// Attaches what an authorizer returned to the Context of the call it allowed.
pub(super) type Grant = Box<dyn FnOnce(ContextBuilder) -> ContextBuilder + Send>;

/// A type-erased `authorize(token)` function.
#[derive(Clone)]
pub(super) struct Authorizer {
    check: Arc<dyn Fn(String) -> BoxFuture<'static, Result<Grant, Error>> + Send + Sync>,
}

impl Authorizer {
    pub(super) fn new<F, Fut, T>(authorize: F) -> Authorizer
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        Authorizer {
            check: Arc::new(move |token| {
                let decision = authorize(token);
                Box::pin(async move {
                    let value = decision.await?;
                    let grant: Grant = Box::new(move |ctx: ContextBuilder| ctx.extension(value));
                    Ok(grant)
                })
            }),
        }
    }

    /// Runs the authorizer on the request's Bearer token; a missing one is a 401.
    pub(super) async fn check(&self, headers: &HeaderMap) -> Result<Grant, Error> {
        let token = bearer_token(headers).ok_or_else(|| {
            Error::unauthorized(
                "Missing bearer token: send an Authorization: Bearer <token> header",
            )
        })?;
        (self.check)(token.to_owned()).await
    }
}

/// The token of `Authorization: Bearer <token>`, with "Bearer" in any case and the
/// token trimmed; `None` when there is no such header or the token is empty.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_trimmed() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER   abc  ",
            "  Bearer\tabc",
        ] {
            assert_eq!(
                bearer_token(&with_authorization(value)),
                Some("abc"),
                "{value}"
            );
        }
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_no_token() {
        for value in ["Basic abc", "Bearer", "Bearer   ", "abc", "Bearerabc"] {
            assert_eq!(bearer_token(&with_authorization(value)), None, "{value}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
