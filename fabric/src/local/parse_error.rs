//! Bodies for the answers hyper writes itself. A request hyper cannot parse (a URI
//! over 64 KB, a head over its buffer, bytes that are not HTTP) never reaches a
//! service: hyper answers 414, 431 or 400 with no body and closes. Clients of a
//! Fabric server expect its error bodies, so this wrapper of the connection's
//! socket recognises those bare answers as they are written and gives them one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{ErrorEnvelope, ErrorObject};

/// How a server's errors look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorStyle {
    /// Fabric's error envelope (the HTTP server).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    Envelope,
    /// API Gateway's `{"message": ...}` (the gateway).
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    Message,
}

/// The bare answers hyper writes for requests it cannot parse: status line, and
/// what went wrong.
const BARE_ANSWERS: [(&[u8], u16, &str, &str); 3] = [
    (
        b"HTTP/1.1 414 URI Too Long\r\n",
        414,
        "URI Too Long",
        "The request's URI is over the 65534-byte limit",
    ),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        431,
        "Request Header Fields Too Large",
        "The request's headers are over the server's limit (about 400 KB)",
    ),
    (
        b"HTTP/1.1 400 Bad Request\r\n",
        400,
        "Bad Request",
        "The request is not valid HTTP/1.1",
    ),
];

/// A socket whose bare error answers are written with a body.
#[derive(Debug)]
pub(crate) struct ParseErrorBodies<T> {
    inner: T,
    style: ErrorStyle,
    /// A rewritten answer being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ParseErrorBodies<T> {
    pub(crate) fn new(inner: T, style: ErrorStyle) -> ParseErrorBodies<T> {
        ParseErrorBodies {
            inner,
            style,
            pending: None,
        }
    }
}

/// `head` with a JSON body, when it is one of hyper's bare answers: the status line
/// is one of [`BARE_ANSWERS`], and the head, which is the whole write, says
/// `content-length: 0` (a service's own answers always have a body).
pub(crate) fn with_body(head: &[u8], style: ErrorStyle) -> Option<Vec<u8>> {
    let (_, status, title, detail) = BARE_ANSWERS
        .iter()
        .find(|(line, ..)| head.starts_with(line))?;
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let zero = "\r\ncontent-length: 0\r\n";
    let at = text.find(zero)?;
    let body = match style {
        ErrorStyle::Envelope => serde_json::to_string(&ErrorEnvelope {
            errors: vec![ErrorObject {
                status: *status,
                title: (*title).to_owned(),
                detail: (*detail).to_owned(),
                source: None,
                meta: None,
            }],
        })
        .ok()?,
        ErrorStyle::Message => serde_json::json!({ "message": title }).to_string(),
    };
    let mut answer = String::with_capacity(text.len() + body.len() + 64);
    answer.push_str(&text[..at]);
    answer.push_str("\r\ncontent-type: application/json");
    answer.push_str(&format!("\r\ncontent-length: {}\r\n", body.len()));
    answer.push_str(&text[at + zero.len()..]);
    answer.push_str(&body);
    Some(answer.into_bytes())
}

impl<T: AsyncRead + Unpin> AsyncRead for ParseErrorBodies<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ParseErrorBodies<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match with_body(buf, this.style) {
                Some(answer) => this.pending = Some((answer, 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // The rewritten answer goes out whole before hyper hears its head was.
        while let Some((answer, written)) = &mut this.pending {
            if *written == answer.len() {
                this.pending = None;
                return Poll::Ready(Ok(buf.len()));
            }
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_answers_get_a_body_and_the_rest_is_left_alone() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 22 Nov 2026 01:20:00 GMT\r\n\r\n";
        let answer = String::from_utf8(with_body(bare, ErrorStyle::Envelope).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("date: Sun"));
        let envelope: ErrorEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(envelope.errors[0].status, 414);

        let message = with_body(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            ErrorStyle::Message,
        )
        .unwrap();
        assert!(message.ends_with(br#"{"message":"Bad Request"}"#));

        // A service's own answer, and the bytes of a WebSocket frame.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(with_body(own, ErrorStyle::Envelope), None);
        assert_eq!(with_body(b"\x81\x05hello", ErrorStyle::Envelope), None);
    }
}
