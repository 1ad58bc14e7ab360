#![allow(dead_code)]
//! Helpers shared by the integration tests.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A stand-in for the Lambda Runtime API, which a function polls for events and
/// posts its answers to. AWS's own emulator is a download this machine cannot make,
/// so this serves the documented endpoints: `GET /2018-06-01/runtime/invocation/next`
/// hands out the queued events one at a time (then holds the poll open, as Lambda
/// does between invocations), and `POST .../{id}/response` or `.../{id}/error` is
/// recorded.
pub struct RuntimeApi {
    /// Where the function should point `AWS_LAMBDA_RUNTIME_API`.
    pub address: SocketAddr,
    answers: mpsc::UnboundedReceiver<Answer>,
}

/// What the function posted for one invocation.
#[derive(Debug)]
pub struct Answer {
    pub request_id: String,
    /// `response` or `error`.
    pub kind: String,
    pub body: String,
}

impl RuntimeApi {
    /// Starts serving `events` on a free port.
    pub async fn start(events: Vec<String>) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let queue = Arc::new(Mutex::new(
            events
                .into_iter()
                .enumerate()
                .map(|(i, event)| (format!("invocation-{i}"), event))
                .collect::<VecDeque<_>>(),
        ));
        let (sender, answers) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let queue = queue.clone();
                let sender = sender.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let queue = queue.clone();
                    let sender = sender.clone();
                    async move { Ok::<_, Infallible>(runtime_api(request, &queue, &sender).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        RuntimeApi { address, answers }
    }

    /// The next answer the function posted.
    pub async fn answer(&mut self) -> Answer {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.answers.recv())
            .await
            .expect("the function answers")
            .expect("the runtime API is running")
    }
}

async fn runtime_api(
    request: Request<Incoming>,
    queue: &Mutex<VecDeque<(String, String)>>,
    answers: &mpsc::UnboundedSender<Answer>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path == "/2018-06-01/runtime/invocation/next" {
        let next = queue.lock().unwrap().pop_front();
        let Some((request_id, event)) = next else {
            // No more events: the poll stays open until the test ends.
            std::future::pending::<()>().await;
            unreachable!();
        };
        return Response::builder()
            .header("lambda-runtime-aws-request-id", request_id)
            .header("lambda-runtime-deadline-ms", "4102444800000")
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:division",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["2018-06-01", "runtime", "invocation", request_id, kind] = parts[..] {
        let request_id = request_id.to_owned();
        let kind = kind.to_owned();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let _ = answers.send(Answer {
            request_id,
            kind,
            body,
        });
        return Response::builder()
            .status(202)
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
    }
    Response::builder()
        .status(404)
        .body(Full::new(Bytes::new()))
        .unwrap()
}
