//! `coldstart`: the cold start of Lambda functions, measured as Lambda sees it. Each
//! run starts the binary afresh against a stand-in Runtime API on a loopback port
//! (`AWS_LAMBDA_RUNTIME_API` and the other variables Lambda sets), hands it one
//! `$connect` event, and measures exec → the response received, then the process'
//! peak resident memory (`VmHWM`). Binaries run in turn, run after run, so a busy
//! machine slows both alike; it prints each one's median and its ratio to the first.
//!
//! ```text
//! cargo build --release -p fabric-examples --bin bare-lambda --bin chat --bin coldstart
//! target/release/coldstart --runs 30 target/release/bare-lambda target/release/chat
//! ```

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Arg, Command as Cli, value_parser};
use fabric_examples::load::memory_of;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A real `$connect` event (token `s3cret-token`, which the chat example is told).
const CONNECT_EVENT: &str = include_str!("../../tests/fixtures/apigw/websocket-connect.json");

/// How long one function may take to answer before the run counts as failed.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct Run {
    millis: f64,
    peak_mib: f64,
    answer: String,
}

#[tokio::main]
async fn main() {
    let matches = Cli::new("coldstart")
        .about(
            "Median cold start (exec → first $connect answered) and peak memory of Lambda binaries",
        )
        .arg(
            Arg::new("runs")
                .long("runs")
                .value_parser(value_parser!(usize))
                .default_value("20"),
        )
        .arg(
            Arg::new("env")
                .long("env")
                .value_name("NAME=VALUE")
                .action(clap::ArgAction::Append)
                .help("A variable every binary gets, as Lambda would set it (FABRIC_FUNCTION=chat-connect for an app)"),
        )
        .arg(Arg::new("binary").required(true).num_args(1..))
        .get_matches();
    let runs: usize = *matches.get_one("runs").expect("defaulted");
    let binaries: Vec<String> = matches
        .get_many::<String>("binary")
        .expect("required")
        .cloned()
        .collect();
    let env: Vec<(String, String)> = matches
        .get_many::<String>("env")
        .into_iter()
        .flatten()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                eprintln!("--env {pair}: expected NAME=VALUE");
                std::process::exit(2);
            }
        })
        .collect();
    let mut results: Vec<Vec<Run>> = binaries.iter().map(|_| Vec::new()).collect();
    for _ in 0..runs {
        for (binary, results) in binaries.iter().zip(&mut results) {
            match cold_start(binary, &env).await {
                Ok(run) => results.push(run),
                Err(err) => {
                    eprintln!("{binary}: {err}");
                    std::process::exit(1);
                }
            }
        }
    }
    let mut baseline = None;
    for (binary, results) in binaries.iter().zip(&results) {
        let mut times: Vec<f64> = results.iter().map(|r| r.millis).collect();
        let mut peaks: Vec<f64> = results.iter().map(|r| r.peak_mib).collect();
        let time = median(&mut times);
        let peak = median(&mut peaks);
        let ratio = *baseline.get_or_insert(time);
        let size = std::fs::metadata(binary).map_or(0.0, |m| m.len() as f64 / 1048576.0);
        println!(
            "{binary}: cold start median {time:.1} ms ({:.2}× the first), peak RSS median {peak:.1} MiB, binary {size:.1} MiB, {} runs; answer {}",
            time / ratio,
            results.len(),
            results.last().map_or("", |r| r.answer.as_str()),
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// One cold start of `binary`: a fresh Runtime API, exec, one `$connect`, with `env`
/// on top of what Lambda sets.
async fn cold_start(binary: &str, env: &[(String, String)]) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (answered, mut answers) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        let handed_out = Arc::new(AtomicBool::new(false));
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, handed_out.clone(), answered.clone()));
        }
    });
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coldstart")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "coldstart")
        .env("AWS_SECRET_ACCESS_KEY", "coldstart")
        .env("CHAT_TOKEN", "s3cret-token")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let answer = tokio::time::timeout(LIMIT, answers.recv()).await;
    let elapsed = started.elapsed();
    let peak = memory_of(child.id()).map_or(0.0, |(_, peak)| peak);
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    match answer {
        Ok(Some(answer)) => Ok(Run {
            millis: elapsed.as_secs_f64() * 1000.0,
            peak_mib: peak,
            answer,
        }),
        _ => Err(format!("no answer within {LIMIT:?}")),
    }
}

/// One connection to the Runtime API: its first `next` gets the event, a later one
/// waits (the run is over); a response or error is reported.
async fn serve(
    stream: TcpStream,
    handed_out: Arc<AtomicBool>,
    answered: mpsc::UnboundedSender<String>,
) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default();
        let reply = if path.ends_with("/invocation/next") {
            if handed_out.swap(true, Ordering::SeqCst) {
                // One event a run: the run is over once it is answered.
                std::future::pending::<()>().await;
            }
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                + 30_000;
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: coldstart-1\r\nlambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:coldstart\r\nlambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\ncontent-length: {}\r\n\r\n{CONNECT_EVENT}",
                CONNECT_EVENT.len()
            )
        } else {
            if path.contains("/response") || path.contains("/error") {
                let kind = if path.contains("/error") {
                    "error: "
                } else {
                    ""
                };
                let _ = answered.send(format!("{kind}{}", String::from_utf8_lossy(&body)));
            }
            "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned()
        };
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
