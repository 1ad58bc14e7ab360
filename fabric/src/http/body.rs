//! Response bodies: whole JSON texts, or a stream of messages ending with the
//! result.

use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use tokio::sync::mpsc;

use super::encoding::StreamFormat;
use crate::{Error, MessageSink, Output};

/// A service's call, as the stream polls it.
pub(super) type Call = futures_util::future::BoxFuture<'static, Result<Output, Error>>;

/// The body of every response of an [`HttpRouter`](super::HttpRouter): a whole JSON
/// text, nothing, or a stream of `send_message` lines that ends with the result.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fabric::prelude::*;
/// use http_body_util::BodyExt;
/// use tower_service::Service as _;
///
/// #[derive(Deserialize, Input)]
/// struct Nothing {}
///
/// #[fabric_service(alias = "ping")]
/// async fn ping(_input: Nothing, _ctx: Context) -> Result<&'static str, Error> {
///     Ok("pong")
/// }
///
/// let request = http::Request::get("/ping").body(String::new()).unwrap();
/// let response = fabric_http(ping).call(request).await.unwrap();
/// let body = response.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(body, r#"{"data":"pong"}"#);
/// # })
/// ```
pub struct HttpBody {
    inner: Inner,
}

enum Inner {
    Full(Option<Bytes>),
    Stream(Box<Exchange>),
    Other(BoxBody<Bytes, Infallible>),
}

impl HttpBody {
    /// A whole body, for [`Endpoint`](super::Endpoint)s.
    ///
    /// ```
    /// use http_body::Body as _;
    /// let body = fabric::http::HttpBody::new("hello");
    /// assert_eq!(body.size_hint().exact(), Some(5));
    /// ```
    pub fn new(bytes: impl Into<Bytes>) -> HttpBody {
        HttpBody::full(bytes)
    }

    /// Any other body of bytes, streamed as it comes, for
    /// [`Endpoint`](super::Endpoint)s. On Lambda it is collected first, unless the
    /// router streams ([`lambda_streaming`](super::HttpRouter::lambda_streaming)).
    ///
    /// ```
    /// use http_body_util::Full;
    /// let body = fabric::http::HttpBody::from_body(Full::new(bytes::Bytes::from("hello")));
    /// # let _ = body;
    /// ```
    pub fn from_body<B>(body: B) -> HttpBody
    where
        B: http_body::Body<Data = Bytes, Error = Infallible> + Send + Sync + 'static,
    {
        HttpBody {
            inner: Inner::Other(BoxBody::new(body)),
        }
    }

    pub(super) fn empty() -> HttpBody {
        HttpBody {
            inner: Inner::Full(None),
        }
    }

    pub(super) fn full(text: impl Into<Bytes>) -> HttpBody {
        let bytes = text.into();
        HttpBody {
            inner: Inner::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// The body's bytes when it was made whole; a stream is given back.
    pub(super) fn into_full(self) -> Result<Bytes, HttpBody> {
        match self.inner {
            Inner::Full(bytes) => Ok(bytes.unwrap_or_default()),
            inner => Err(HttpBody { inner }),
        }
    }
}

impl std::fmt::Debug for HttpBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Full(bytes) => f.debug_tuple("HttpBody").field(bytes).finish(),
            Inner::Stream(_) | Inner::Other(_) => f.write_str("HttpBody(stream)"),
        }
    }
}

impl http_body::Body for HttpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.inner {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Stream(exchange) => exchange.poll_next(cx).map(|chunk| chunk.map(Ok)),
            Inner::Other(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(bytes) => bytes.is_none(),
            Inner::Stream(exchange) => exchange.finished,
            Inner::Other(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Stream(_) => SizeHint::default(),
            Inner::Other(body) => body.size_hint(),
        }
    }
}

/// Where `send_message` goes when the client streams: a bounded channel, so a slow
/// client slows the service instead of filling memory.
pub(super) struct StreamSink(mpsc::Sender<String>);

#[async_trait]
impl MessageSink for StreamSink {
    async fn send(&self, message: String) -> Result<(), Error> {
        self.0
            .send(message)
            .await
            .map_err(|_| Error::gone("The client closed the stream"))
    }
}

/// A running call whose messages are streamed.
pub(super) struct Exchange {
    call: Option<Call>,
    messages: mpsc::Receiver<String>,
    format: StreamFormat,
    scrub: bool,
    first: Option<String>,
    result: Option<Result<Output, Error>>,
    finished: bool,
}

/// How a streamed call began: it finished before sending anything, or it sent a
/// first message and goes on in the body.
pub(super) enum Opening {
    Finished(Result<Output, Error>),
    Streaming(HttpBody),
}

/// A sink for a streamed call, and the receiving end for [`open`].
pub(super) fn channel() -> (StreamSink, mpsc::Receiver<String>) {
    let (sender, receiver) = mpsc::channel(32);
    (StreamSink(sender), receiver)
}

/// Runs `call` until it finishes or sends its first message, whichever is first.
pub(super) async fn open(
    mut call: Call,
    mut messages: mpsc::Receiver<String>,
    format: StreamFormat,
    scrub: bool,
) -> Opening {
    let first = poll_fn(|cx| {
        if let Poll::Ready(Some(message)) = messages.poll_recv(cx) {
            return Poll::Ready(Err(message));
        }
        Pin::new(&mut call).poll(cx).map(Ok)
    })
    .await;
    let (call, first, result) = match first {
        Err(message) => (Some(call), message, None),
        // Finished, but maybe with messages sent in the same poll: stream those first.
        Ok(result) => match messages.try_recv() {
            Ok(message) => (None, message, Some(result)),
            Err(_) => return Opening::Finished(result),
        },
    };
    Opening::Streaming(HttpBody {
        inner: Inner::Stream(Box::new(Exchange {
            call,
            messages,
            format,
            scrub,
            first: Some(first),
            result,
            finished: false,
        })),
    })
}

impl Exchange {
    fn poll_next(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Frame<Bytes>>> {
        if let Some(message) = self.first.take() {
            return Poll::Ready(Some(Frame::data(self.format.message(&message))));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            let Some(call) = &mut self.call else {
                // The call is over: what it sent before returning, then its result.
                if let Ok(message) = self.messages.try_recv() {
                    return Poll::Ready(Some(Frame::data(self.format.message(&message))));
                }
                self.finished = true;
                let result = self.result.take().expect("a finished call has a result");
                return Poll::Ready(Some(Frame::data(self.format.result(&result, self.scrub))));
            };
            if let Poll::Ready(Some(message)) = self.messages.poll_recv(cx) {
                return Poll::Ready(Some(Frame::data(self.format.message(&message))));
            }
            match Pin::new(call).poll(cx) {
                Poll::Ready(result) => {
                    self.call = None;
                    self.result = Some(result);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_stream_format() {
        let pick = |accept: &str| StreamFormat::from_accept(Some(&accept.parse().unwrap()));
        assert_eq!(pick("application/x-ndjson"), Some(StreamFormat::Ndjson));
        assert_eq!(
            pick("application/json;q=0.5, text/event-stream"),
            Some(StreamFormat::Sse)
        );
        assert_eq!(pick("application/json"), None);
        assert_eq!(pick("*/*"), None);
        assert_eq!(StreamFormat::from_accept(None), None);
    }

    #[test]
    fn frames_are_lines_or_events() {
        let ok = Ok(Output::Json("2".into()));
        assert_eq!(StreamFormat::Ndjson.result(&ok, true), "{\"data\":2}\n");
        assert_eq!(
            StreamFormat::Sse.result(&ok, true),
            "event: result\ndata: {\"data\":2}\n\n"
        );
        assert_eq!(
            StreamFormat::Sse.message("1"),
            "event: message\ndata: 1\n\n"
        );
        let err = Err(Error::internal_message("secret"));
        let line = StreamFormat::Ndjson.result(&err, true);
        assert!(!String::from_utf8_lossy(&line).contains("secret"));
    }
}
