//! One error type for every transport, and its JSON:API envelope.
//!
//! A service returns [`Error`]; each transport maps it to its own form: a WebSocket
//! error frame, an HTTP status and body, or a CLI exit code and stderr. The body is
//! always the same envelope:
//!
//! ```json
//! { "errors": [ { "status": 400, "title": "Bad Request",
//!                 "detail": "Missing required field \"room\"",
//!                 "source": { "pointer": "/room" } } ] }
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BoxError;

/// The kind of an [`Error`], which fixes its HTTP status and title.
///
/// ```
/// use fabric::ErrorKind;
/// assert_eq!(ErrorKind::NotFound.status(), 404);
/// assert_eq!(ErrorKind::NotFound.title(), "Not Found");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400: the input is malformed or invalid.
    BadRequest,
    /// 401: the caller is not authenticated.
    Unauthorized,
    /// 403: the caller may not do this.
    Forbidden,
    /// 404: the thing asked for does not exist.
    NotFound,
    /// 405: the transport method is not allowed here.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 410: the thing asked for existed and is gone (a closed WebSocket connection).
    Gone,
    /// 413: the payload is over a limit.
    PayloadTooLarge,
    /// 429: the caller or a downstream service is throttled.
    TooManyRequests,
    /// 500: a bug or an unexpected failure, including a panic in a service.
    Internal,
    /// 502: a downstream service answered badly.
    BadGateway,
    /// 503: the service is switched off or overloaded.
    Unavailable,
    /// 504: a downstream service did not answer in time.
    GatewayTimeout,
}

impl ErrorKind {
    /// Every kind, in status order.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::BadRequest,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::Conflict,
        ErrorKind::Gone,
        ErrorKind::PayloadTooLarge,
        ErrorKind::TooManyRequests,
        ErrorKind::Internal,
        ErrorKind::BadGateway,
        ErrorKind::Unavailable,
        ErrorKind::GatewayTimeout,
    ];

    /// The HTTP status code of this kind.
    pub const fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
            ErrorKind::BadGateway => 502,
            ErrorKind::Unavailable => 503,
            ErrorKind::GatewayTimeout => 504,
        }
    }

    /// The standard reason phrase of the status, used as the envelope's `title`.
    pub const fn title(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "Bad Request",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::NotFound => "Not Found",
            ErrorKind::MethodNotAllowed => "Method Not Allowed",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Gone => "Gone",
            ErrorKind::PayloadTooLarge => "Payload Too Large",
            ErrorKind::TooManyRequests => "Too Many Requests",
            ErrorKind::Internal => "Internal Server Error",
            ErrorKind::BadGateway => "Bad Gateway",
            ErrorKind::Unavailable => "Service Unavailable",
            ErrorKind::GatewayTimeout => "Gateway Timeout",
        }
    }

    /// The kind for an HTTP status, if it is one of ours.
    ///
    /// ```
    /// use fabric::ErrorKind;
    /// assert_eq!(ErrorKind::from_status(410), Some(ErrorKind::Gone));
    /// assert_eq!(ErrorKind::from_status(418), None);
    /// ```
    pub fn from_status(status: u16) -> Option<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.status() == status)
    }

    /// Whether this is a server-side (5xx) kind, whose detail is scrubbed by default.
    pub const fn is_server_error(self) -> bool {
        self.status() >= 500
    }

    /// The detail shown in place of a scrubbed 5xx detail.
    const fn generic_detail(self) -> &'static str {
        match self {
            ErrorKind::BadGateway => "A downstream service returned an invalid response",
            ErrorKind::Unavailable => "The service is temporarily unavailable",
            ErrorKind::GatewayTimeout => "A downstream service did not respond in time",
            _ => "An internal error occurred",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.title())
    }
}

/// One problem inside an [`Error`]: a detail, and where in the input it is.
///
/// ```
/// use fabric::Issue;
/// let issue = Issue::new("Missing required field \"room\"").at("/room");
/// assert_eq!(issue.pointer(), Some("/room"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    detail: String,
    pointer: Option<String>,
}

impl Issue {
    /// An issue with a detail and no location.
    pub fn new(detail: impl Into<String>) -> Issue {
        Issue {
            detail: detail.into(),
            pointer: None,
        }
    }

    /// `Validation failed for field "{field}": {reason}`, the detail every failed
    /// rule gets (`field` as people read it: `room`, `items[0].name`).
    ///
    /// ```
    /// let issue = fabric::Issue::invalid_field("room", "must not be empty");
    /// assert_eq!(issue.detail(), r#"Validation failed for field "room": must not be empty"#);
    /// ```
    pub fn invalid_field(field: &str, reason: impl fmt::Display) -> Issue {
        Issue::new(format!("Validation failed for field \"{field}\": {reason}"))
    }

    /// Places the issue at a JSON pointer into the input (`/room`, `/items/0/name`).
    pub fn at(mut self, pointer: impl Into<String>) -> Issue {
        self.pointer = Some(pointer.into());
        self
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The JSON pointer to the offending input, if any.
    pub fn pointer(&self) -> Option<&str> {
        self.pointer.as_deref()
    }
}

/// The error a service returns, and that every transport reports in the same envelope.
///
/// Build one with a constructor named after its kind, add a pointer or a source, and
/// return it:
///
/// ```
/// use fabric::{Error, ErrorKind};
///
/// let err = Error::bad_request("Room is full").with_pointer("/room");
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.kind(), ErrorKind::BadRequest);
/// assert_eq!(err.detail(), "Room is full");
///
/// // Any other error becomes a 500 whose detail is hidden from clients by default.
/// let io = std::io::Error::other("disk on fire");
/// let err = Error::internal(io);
/// assert_eq!(err.status(), 500);
/// assert_eq!(err.envelope(true).errors[0].detail, "An internal error occurred");
/// ```
#[derive(thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    issues: Vec<Issue>,
    #[source]
    source: Option<BoxError>,
    retry_after: Option<Duration>,
}

macro_rules! kind_constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(detail: impl Into<String>) -> Error {
                Error::new(ErrorKind::$kind, detail)
            }
        )*
    };
}

impl Error {
    /// An error of `kind` with one detail.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error::with_issues(kind, vec![Issue::new(detail)])
    }

    /// An error of `kind` carrying several issues at once (for example one per invalid
    /// field). An empty list gets one issue with the kind's title as detail.
    pub fn with_issues(kind: ErrorKind, mut issues: Vec<Issue>) -> Error {
        if issues.is_empty() {
            issues.push(Issue::new(kind.title()));
        }
        Error {
            kind,
            issues,
            source: None,
            retry_after: None,
        }
    }

    kind_constructors! {
        /// A 400 Bad Request.
        bad_request => BadRequest;
        /// A 401 Unauthorized.
        unauthorized => Unauthorized;
        /// A 403 Forbidden.
        forbidden => Forbidden;
        /// A 404 Not Found.
        not_found => NotFound;
        /// A 405 Method Not Allowed.
        method_not_allowed => MethodNotAllowed;
        /// A 409 Conflict.
        conflict => Conflict;
        /// A 410 Gone.
        gone => Gone;
        /// A 413 Payload Too Large.
        payload_too_large => PayloadTooLarge;
        /// A 429 Too Many Requests.
        too_many_requests => TooManyRequests;
        /// A 502 Bad Gateway.
        bad_gateway => BadGateway;
        /// A 503 Service Unavailable.
        unavailable => Unavailable;
        /// A 504 Gateway Timeout.
        gateway_timeout => GatewayTimeout;
    }

    /// A 500 Internal Server Error caused by `source`. Its text is the detail, which
    /// clients only see when scrubbing is off.
    ///
    /// ```
    /// use fabric::Error;
    /// fn load() -> Result<u32, Error> {
    ///     "x".parse::<u32>().map_err(Error::internal)
    /// }
    /// assert_eq!(load().unwrap_err().status(), 500);
    /// ```
    pub fn internal(source: impl Into<BoxError>) -> Error {
        let source = source.into();
        Error::new(ErrorKind::Internal, source.to_string()).with_source(source)
    }

    /// A 500 Internal Server Error with a detail and no source.
    pub fn internal_message(detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, detail)
    }

    /// A 400 for a rule the input's own checks cannot say: the same detail and
    /// pointer as a failed `#[validate]` rule on the top-level field `field`, so
    /// clients match every validation failure the same way.
    ///
    /// ```
    /// use fabric::Error;
    /// let err = Error::invalid_field("content", r#"is required when action is "message""#);
    /// assert_eq!(err.status(), 400);
    /// assert_eq!(err.detail(), r#"Validation failed for field "content": is required when action is "message""#);
    /// assert_eq!(err.issues()[0].pointer(), Some("/content"));
    /// ```
    pub fn invalid_field(field: &str, reason: impl fmt::Display) -> Error {
        let pointer = format!("/{}", field.replace('~', "~0").replace('/', "~1"));
        Error::with_issues(
            ErrorKind::BadRequest,
            vec![Issue::invalid_field(field, reason).at(pointer)],
        )
    }

    /// Places the first issue at a JSON pointer into the input.
    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Error {
        let first = self.issues.remove(0);
        self.issues.insert(0, first.at(pointer));
        self
    }

    /// Attaches the underlying cause, kept for logs and `Error::source`.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.source = Some(source.into());
        self
    }

    /// Tells the client when to try again: the envelope's entries get
    /// `"meta": {"retryAfterMs": milliseconds}`, as a rate limit's 429 does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fabric::Error;
    /// let err = Error::too_many_requests("slow down").with_retry_after(Duration::from_millis(250));
    /// assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
    /// assert!(err.envelope_json(true).contains(r#""meta":{"retryAfterMs":250}"#));
    /// ```
    pub fn with_retry_after(mut self, after: Duration) -> Error {
        self.retry_after = Some(after);
        self
    }

    /// When the client may try again, if the error says.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The detail of the first issue.
    pub fn detail(&self) -> &str {
        &self.issues[0].detail
    }

    /// Every issue, in order; there is always at least one.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The JSON:API envelope of this error. With `scrub`, 5xx details are replaced by
    /// a generic text so internals never reach clients; 4xx details are always kept.
    ///
    /// ```
    /// use fabric::Error;
    /// let err = Error::unavailable("database at 10.0.0.7 refused");
    /// assert_eq!(err.envelope(true).errors[0].detail, "The service is temporarily unavailable");
    /// assert_eq!(err.envelope(false).errors[0].detail, "database at 10.0.0.7 refused");
    /// ```
    pub fn envelope(&self, scrub: bool) -> ErrorEnvelope {
        let hide = scrub && self.kind.is_server_error();
        let meta = self.retry_after.map(|after| ErrorMeta {
            // Rounded up: a client that waits the hint finds the token there.
            retry_after_ms: Some(
                u64::try_from(after.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
            ),
        });
        let errors = if hide {
            vec![ErrorObject {
                status: self.status(),
                title: self.kind.title().to_owned(),
                detail: self.kind.generic_detail().to_owned(),
                source: None,
                meta,
            }]
        } else {
            self.issues
                .iter()
                .map(|issue| ErrorObject {
                    status: self.status(),
                    title: self.kind.title().to_owned(),
                    detail: issue.detail.clone(),
                    source: issue.pointer.clone().map(|pointer| ErrorSource { pointer }),
                    meta: meta.clone(),
                })
                .collect()
        };
        ErrorEnvelope { errors }
    }

    /// The envelope serialized as compact JSON.
    ///
    /// ```
    /// use fabric::Error;
    /// let body = Error::not_found("No such room").envelope_json(true);
    /// assert_eq!(body, r#"{"errors":[{"status":404,"title":"Not Found","detail":"No such room"}]}"#);
    /// ```
    pub fn envelope_json(&self, scrub: bool) -> String {
        serde_json::to_string(&self.envelope(scrub)).expect("an envelope always serializes")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("kind", &self.kind)
            .field("issues", &self.issues);
        if let Some(source) = &self.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind)?;
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&issue.detail)?;
        }
        Ok(())
    }
}

/// The JSON:API error envelope: `{"errors": [...]}`.
///
/// It deserializes too, so clients and tests can read what a transport sent:
///
/// ```
/// use fabric::ErrorEnvelope;
/// let envelope: ErrorEnvelope = serde_json::from_str(
///     r#"{"errors":[{"status":400,"title":"Bad Request","detail":"x","source":{"pointer":"/a"}}]}"#,
/// ).unwrap();
/// assert_eq!(envelope.errors[0].source.as_ref().unwrap().pointer, "/a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The errors, at least one.
    pub errors: Vec<ErrorObject>,
}

/// One entry of an [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The HTTP status, the same for every entry of one envelope.
    pub status: u16,
    /// The status' reason phrase.
    pub title: String,
    /// What went wrong, for humans.
    pub detail: String,
    /// Where in the input it went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ErrorSource>,
    /// Hints beyond the detail, such as when to retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ErrorMeta>,
}

/// The `meta` of an [`ErrorObject`].
///
/// ```
/// use fabric::ErrorMeta;
/// let meta: ErrorMeta = serde_json::from_str(r#"{"retryAfterMs":100}"#).unwrap();
/// assert_eq!(meta.retry_after_ms, Some(100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMeta {
    /// Milliseconds to wait before trying again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// The location of an [`ErrorObject`] in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSource {
    /// A JSON pointer (RFC 6901) into the input, such as `/room` or `/tags/2`.
    pub pointer: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_status_and_back() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_status(kind.status()), Some(kind));
        }
        assert_eq!(ErrorKind::Unavailable.status(), 503);
        assert_eq!(ErrorKind::TooManyRequests.title(), "Too Many Requests");
    }

    #[test]
    fn scrubbing_hides_every_5xx_issue_and_keeps_4xx() {
        let err = Error::with_issues(
            ErrorKind::Internal,
            vec![Issue::new("secret one"), Issue::new("secret two")],
        );
        let scrubbed = err.envelope(true);
        assert_eq!(scrubbed.errors.len(), 1);
        assert!(!scrubbed.errors[0].detail.contains("secret"));
        assert_eq!(err.envelope(false).errors.len(), 2);

        let client = Error::conflict("Room already exists").with_pointer("/room");
        let kept = client.envelope(true);
        assert_eq!(kept.errors[0].detail, "Room already exists");
        assert_eq!(kept.errors[0].source.as_ref().unwrap().pointer, "/room");
    }

    #[test]
    fn display_lists_every_issue_and_source_is_kept() {
        let err = Error::with_issues(
            ErrorKind::BadRequest,
            vec![Issue::new("a"), Issue::new("b")],
        );
        assert_eq!(err.to_string(), "400 Bad Request: a; b");
        let err = Error::internal(std::io::Error::other("boom"));
        assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "boom");
    }

    #[test]
    fn an_empty_issue_list_still_has_a_detail() {
        let err = Error::with_issues(ErrorKind::Forbidden, Vec::new());
        assert_eq!(err.detail(), "Forbidden");
    }
}
