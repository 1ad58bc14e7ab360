//! How results are written: the error envelope a client gets, and the framing of
//! streamed messages. Text only; the response types are built in `response`.

use bytes::Bytes;
use http::HeaderValue;

use crate::{Error, Output};

/// How streamed messages and the final result are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StreamFormat {
    /// `application/x-ndjson`: one JSON text per line.
    Ndjson,
    /// `text/event-stream`: `message` events, then a `result` or `error` event.
    Sse,
}

impl StreamFormat {
    /// The format an `Accept` header asks for, if any.
    pub(super) fn from_accept(accept: Option<&HeaderValue>) -> Option<StreamFormat> {
        let accept = accept?.to_str().ok()?;
        accept.split(',').find_map(|item| {
            let media = item.split(';').next().unwrap_or_default().trim();
            if media.eq_ignore_ascii_case("application/x-ndjson") {
                Some(StreamFormat::Ndjson)
            } else if media.eq_ignore_ascii_case("text/event-stream") {
                Some(StreamFormat::Sse)
            } else {
                None
            }
        })
    }

    pub(super) fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            StreamFormat::Ndjson => "application/x-ndjson",
            StreamFormat::Sse => "text/event-stream",
        })
    }

    pub(super) fn frame(self, event: &str, json: &str) -> Bytes {
        match self {
            StreamFormat::Ndjson => {
                let mut line = String::with_capacity(json.len() + 1);
                line.push_str(json);
                line.push('\n');
                Bytes::from(line)
            }
            StreamFormat::Sse => Bytes::from(format!("event: {event}\ndata: {json}\n\n")),
        }
    }

    pub(super) fn message(self, json: &str) -> Bytes {
        self.frame("message", json)
    }

    /// The last frame: the data envelope, or the error envelope.
    pub(super) fn result(self, result: &Result<Output, Error>, scrub: bool) -> Bytes {
        match result {
            Ok(output) => self.frame("result", &output.data_envelope()),
            Err(err) => self.frame("error", &error_json(err, scrub)),
        }
    }
}

/// The error envelope sent to the client. Server errors are logged here in full,
/// since the client may only see a scrubbed text.
pub(super) fn error_json(err: &Error, scrub: bool) -> String {
    if err.kind().is_server_error() {
        tracing::error!(error = %err, cause = ?std::error::Error::source(err), "request failed");
    }
    err.envelope_json(scrub)
}
