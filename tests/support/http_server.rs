//! A real HTTP server on a loopback port that records every request and answers as
//! the test scripts it: the stand-in for API Gateway's Management API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub raw_path: String,
    /// The path percent-decoded.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The last path segment, decoded: the connection id of `@connections/{id}`.
    pub(crate) fn last_segment(&self) -> String {
        let segment = self.raw_path.rsplit('/').next().unwrap_or_default();
        percent_decode(segment)
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub(crate) fn json(status: u16, body: &str) -> Reply {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body)
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub(crate) fn body(mut self, body: &str) -> Reply {
        self.body = body.to_owned();
        self
    }

    /// An AWS error as API Gateway sends it: status, `x-amzn-ErrorType`, JSON body.
    pub(crate) fn aws_error(status: u16, error_type: &str) -> Reply {
        Reply::json(status, &format!(r#"{{"message":"{error_type}"}}"#))
            .header("x-amzn-ErrorType", error_type)
    }
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    per_path: Arc<Mutex<HashMap<String, usize>>>,
    respond: Arc<Responder>,
}

/// The running server.
pub(crate) struct RecordingServer {
    pub url: String,
    pub port: u16,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingServer {
    /// Starts a server on 127.0.0.1; `respond` gets each request and how many earlier
    /// requests had the same path (0 for the first).
    pub(crate) async fn start(
        respond: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> RecordingServer {
        let shared = Shared {
            requests: Arc::default(),
            per_path: Arc::default(),
            respond: Arc::new(respond),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        RecordingServer {
            url: format!("http://127.0.0.1:{port}"),
            port,
            shared,
            task,
        }
    }

    /// A server answering 200 to everything.
    pub(crate) async fn ok() -> RecordingServer {
        RecordingServer::start(|_, _| Reply::status(200)).await
    }

    /// Every request so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The bodies of the POSTs to `@connections/{id}`, as text.
    pub(crate) fn posts_to(&self, connection_id: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.last_segment() == connection_id)
            .map(|r| r.body_text())
            .collect()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_path = uri.path().to_owned();
    let recorded = Recorded {
        method: method.to_string(),
        path: percent_decode(&raw_path),
        raw_path: raw_path.clone(),
        headers,
        body: body.to_vec(),
    };
    let seen = {
        let mut per_path = shared.per_path.lock().unwrap();
        let count = per_path.entry(raw_path).or_insert(0);
        *count += 1;
        *count - 1
    };
    shared.requests.lock().unwrap().push(recorded.clone());
    let reply = (shared.respond)(&recorded, seen);
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
