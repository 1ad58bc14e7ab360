//! A stand-in for the AWS Lambda Runtime API (`/2018-06-01/runtime/...`), served on a
//! loopback port, so a real Fabric binary runs its real Lambda loop in tests: it
//! hands out queued events and records each response or error.

use std::collections::VecDeque;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Notify;

/// What the function sent back for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// `POST /invocation/{id}/response`, parsed as JSON.
    Response(serde_json::Value),
    /// `POST /invocation/{id}/error`, parsed as JSON.
    Error(serde_json::Value),
    /// A response in the streaming mode of function URLs: the JSON prelude (status,
    /// headers, cookies), then the body as streamed.
    Streamed {
        prelude: serde_json::Value,
        body: String,
    },
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<(String, String)>>,
    ready: Notify,
    outcomes: Mutex<Vec<(String, Outcome)>>,
    init_errors: Mutex<Vec<String>>,
}

/// The running Runtime API.
pub(crate) struct LambdaRuntime {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
    next_id: Mutex<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl LambdaRuntime {
    pub(crate) async fn start() -> LambdaRuntime {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        LambdaRuntime {
            address,
            shared,
            next_id: Mutex::new(0),
            task,
        }
    }

    /// Queues an event; returns its request id.
    pub(crate) fn invoke(&self, event: &str) -> String {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            format!("invocation-{next}")
        };
        self.shared
            .queue
            .lock()
            .unwrap()
            .push_back((id.clone(), event.to_owned()));
        self.shared.ready.notify_one();
        id
    }

    /// Waits until `id` has an outcome.
    pub(crate) async fn outcome(&self, id: &str) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((_, outcome)) = self
                .shared
                .outcomes
                .lock()
                .unwrap()
                .iter()
                .find(|(i, _)| i == id)
            {
                return outcome.clone();
            }
            assert!(Instant::now() < deadline, "no outcome for {id} within 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Initialization errors the function reported.
    pub(crate) fn init_errors(&self) -> Vec<String> {
        self.shared.init_errors.lock().unwrap().clone()
    }

    /// Starts `binary` as a Lambda function against this Runtime API.
    pub(crate) fn spawn_function(&self, binary: &str, env: &[(&str, &str)]) -> Function {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "fabric-test")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fabric-test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the function");
        let logs = drain(child.stderr.take().expect("piped stderr"));
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        Function {
            child,
            logs,
            stdout,
        }
    }
}

impl Drop for LambdaRuntime {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a pipe as it fills, so a chatty function never blocks on a full one.
fn drain(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(read) = pipe.read(&mut buffer) {
            if read == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    text
}

/// A function process; killed when dropped, after its EMF output is checked.
pub(crate) struct Function {
    pub child: Child,
    logs: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Function {
    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// What the process has logged on stderr so far.
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The EMF documents the process wrote on stdout so far, each checked.
    pub(crate) fn emf(&self) -> Vec<serde_json::Value> {
        super::emf::documents(&self.stdout.lock().unwrap())
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::emf::check_on_drop(&self.stdout.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        let notified = shared.ready.notified();
        if let Some((id, event)) = shared.queue.lock().unwrap().pop_front() {
            let mut headers = HeaderMap::new();
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            headers.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).unwrap(),
            );
            headers.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_str(&deadline.to_string()).unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static(
                    "arn:aws:lambda:eu-west-1:123456789012:function:fabric-test",
                ),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
            );
            return (StatusCode::OK, headers, event).into_response();
        }
        notified.await;
    }
}

fn parse(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|mode| mode == "streaming");
    let outcome = if streaming {
        // Lambda's HTTP integration response: the prelude ends at eight NUL bytes.
        let split = body
            .windows(8)
            .position(|window| window == [0; 8])
            .expect("a streamed HTTP response has a prelude");
        Outcome::Streamed {
            prelude: parse(&body.slice(..split)),
            body: String::from_utf8_lossy(&body[split + 8..]).into_owned(),
        }
    } else {
        Outcome::Response(parse(&body))
    };
    shared.outcomes.lock().unwrap().push((id, outcome));
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    shared
        .outcomes
        .lock()
        .unwrap()
        .push((id, Outcome::Error(parse(&body))));
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    shared
        .init_errors
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}
