//! Cross-origin resource sharing: which browser origins may call the API.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

/// The CORS policy of an [`HttpRouter`](super::HttpRouter).
///
/// The default allows every origin (`Access-Control-Allow-Origin: *`), no
/// credentials, the `Authorization`, `Content-Type` and `Accept` request headers, and
/// exposes `x-request-id`. A preflight (`OPTIONS`) is answered 204 with the methods
/// of the route it asks about; an origin that is not allowed gets no
/// `Access-Control-Allow-Origin`, so the browser refuses the response.
///
/// ```
/// use std::time::Duration;
/// use fabric::http::Cors;
///
/// let cors = Cors::new()
///     .allow_origins(["https://app.example.com", "http://localhost:5173"])
///     .allow_credentials(true)
///     .allow_headers(["authorization", "content-type", "x-client-version"])
///     .max_age(Duration::from_secs(600));
/// # let _ = cors;
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Option<Vec<HeaderValue>>,
    credentials: bool,
    headers: HeaderValue,
    expose: HeaderValue,
    max_age: Option<HeaderValue>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors::new()
    }
}

impl Cors {
    /// Every origin, no credentials, the usual request headers.
    pub fn new() -> Cors {
        Cors {
            origins: None,
            credentials: false,
            headers: HeaderValue::from_static("authorization, content-type, accept"),
            expose: HeaderValue::from_static("x-request-id"),
            max_age: None,
        }
    }

    /// Allows only these origins (`https://app.example.com`: scheme, host and port).
    ///
    /// # Panics
    ///
    /// When an origin is not a valid header value.
    pub fn allow_origins<I, S>(mut self, origins: I) -> Cors
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| {
                HeaderValue::from_str(origin.as_ref().trim_end_matches('/'))
                    .unwrap_or_else(|_| panic!("invalid CORS origin {:?}", origin.as_ref()))
            })
            .collect();
        self.origins = Some(origins);
        self
    }

    /// Allows every origin again (the default).
    pub fn allow_any_origin(mut self) -> Cors {
        self.origins = None;
        self
    }

    /// Lets browsers send cookies and credentials. The allowed origin is then echoed
    /// back instead of `*`, as browsers require.
    pub fn allow_credentials(mut self, allow: bool) -> Cors {
        self.credentials = allow;
        self
    }

    /// The request headers a browser may send.
    ///
    /// # Panics
    ///
    /// When a name is not a valid header value.
    pub fn allow_headers<I, S>(mut self, headers: I) -> Cors
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.headers = join(headers);
        self
    }

    /// The response headers a browser script may read (default `x-request-id`).
    ///
    /// # Panics
    ///
    /// When a name is not a valid header value.
    pub fn expose_headers<I, S>(mut self, headers: I) -> Cors
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.expose = join(headers);
        self
    }

    /// How long a browser may cache a preflight answer.
    pub fn max_age(mut self, max_age: Duration) -> Cors {
        self.max_age = Some(HeaderValue::from(max_age.as_secs()));
        self
    }

    /// The `Access-Control-Allow-Origin` for `origin`, if it is allowed.
    fn allowed_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match &self.origins {
            None if !self.credentials => Some(HeaderValue::from_static("*")),
            None => Some(origin.clone()),
            Some(list) => list.contains(origin).then(|| origin.clone()),
        }
    }

    /// Adds the headers of an answer to a request from `origin`.
    pub(super) fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if self.origins.is_some() || self.credentials {
            // The answer depends on the origin; shared caches must know.
            headers.append(VARY, HeaderValue::from_static("origin"));
        }
        let Some(allowed) = origin.and_then(|origin| self.allowed_origin(origin)) else {
            return;
        };
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, self.expose.clone());
    }

    /// Adds the headers of a preflight answer for a route taking `methods`.
    pub(super) fn apply_preflight(
        &self,
        origin: Option<&HeaderValue>,
        methods: &[&Method],
        headers: &mut HeaderMap,
    ) {
        self.apply(origin, headers);
        if !headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        headers.remove(ACCESS_CONTROL_EXPOSE_HEADERS);
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, method_list(methods));
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, self.headers.clone());
        if let Some(max_age) = &self.max_age {
            headers.insert(ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
    }
}

/// `GET, POST`: methods as a header value.
pub(super) fn method_list(methods: &[&Method]) -> HeaderValue {
    let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    HeaderValue::from_str(&names.join(", ")).expect("method names are tokens")
}

fn join<I, S>(names: I) -> HeaderValue
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_owned()).collect();
    let joined = names.join(", ");
    HeaderValue::from_str(&joined).unwrap_or_else(|_| panic!("invalid header names {joined:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(cors: &Cors, origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        cors.apply(Some(&HeaderValue::from_str(origin).unwrap()), &mut headers);
        headers
    }

    #[test]
    fn any_origin_is_a_star_and_credentials_echo_the_origin() {
        let headers = answer(&Cors::new(), "https://a.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!headers.contains_key(VARY));
        let headers = answer(&Cors::new().allow_credentials(true), "https://a.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(headers[VARY], "origin");
    }

    #[test]
    fn listed_origins_are_echoed_and_others_get_nothing() {
        let cors = Cors::new().allow_origins(["https://a.example/"]);
        let headers = answer(&cors, "https://a.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        let headers = answer(&cors, "https://evil.example");
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(headers[VARY], "origin");
    }
}
