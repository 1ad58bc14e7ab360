//! Responses: the data envelope, `204` for `()`, error envelopes with their status,
//! and streams.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use super::body::HttpBody;
use super::encoding::{StreamFormat, error_json};
use crate::{Error, Output};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

pub(super) fn stream_response(
    status: StatusCode,
    format: StreamFormat,
    body: HttpBody,
) -> Response<HttpBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, format.content_type());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// 200 with the data envelope, 204 for `()`, or the error's status and envelope.
pub(super) fn result_response(result: Result<Output, Error>, scrub: bool) -> Response<HttpBody> {
    match result {
        Ok(Output::Empty) => {
            let mut response = Response::new(HttpBody::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Ok(output) => json_response(StatusCode::OK, output.data_envelope()),
        Err(err) => error_response(&err, scrub),
    }
}

pub(super) fn json_response(status: StatusCode, json: String) -> Response<HttpBody> {
    let mut response = Response::new(HttpBody::full(json));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON);
    response
}

/// The error's status and envelope; a 401 also says which scheme to use, and an
/// error with a retry hint (a 429, a 503) says when in `Retry-After`: whole seconds,
/// rounded up, as RFC 9110 has it (the envelope's `meta.retryAfterMs` is exact).
pub(super) fn error_response(err: &Error, scrub: bool) -> Response<HttpBody> {
    let mut response = json_response(status_of(err), error_json(err, scrub));
    if err.status() == 401 {
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(after) = err.retry_after() {
        let seconds = after.as_millis().div_ceil(1000);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds as u64));
    }
    response
}

pub(super) fn status_of(err: &Error) -> StatusCode {
    StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
