//! Bad input through the real binaries, as a hostile or broken client sends it:
//! every one is answered with the transport's own clear error (an error frame or a
//! close code, an HTTP status with a body, an exit code), and the process keeps
//! serving.

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::lambda_runtime::{LambdaRuntime, Outcome};
use support::process::{KillOnDrop, free_port, ready_line, spawn_binary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts `binary` off Lambda on a free port and waits for its ready line.
async fn serve(binary: &str) -> (KillOnDrop, u16) {
    let port = free_port();
    let (child, lines) = spawn_binary(binary, port, &[], &[]);
    let child = KillOnDrop(child);
    let (line, _lines) = ready_line(lines).await;
    assert!(line.contains(&port.to_string()), "{line}");
    (child, port)
}

/// Writes `request` on a new connection and reads the answer until the server
/// closes it, or 20 s pass.
async fn raw(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // A server may answer and close before it read everything: that is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// POSTs a JSON body of `size` bytes to `/division`, writing it while reading the
/// answer, and gives the answer: its head and its body (by `content-length`).
async fn upload(port: u16, size: usize) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /division HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
    );
    let writing = tokio::spawn(async move {
        let chunk = vec![b'1'; 64 * 1024];
        // The server may stop reading and close at any point: that is its answer.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                if writer.write_all(&chunk[..n]).await.is_err() {
                    break;
                }
                left -= n;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let read = tokio::time::timeout(Duration::from_secs(20), reader.read(&mut buffer)).await;
        match read {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            _ => break,
        }
        if complete(&answer) {
            break;
        }
    }
    writing.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `answer` holds a whole head and the body its `content-length` gives.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    length.is_some_and(|length| body.len() >= length)
}

/// The body of a raw HTTP answer, as JSON.
fn body_of(answer: &str) -> Value {
    let (_, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {answer:?}"));
    serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: the body of {answer:?}"))
}

async fn chat_client(port: u16) -> Client {
    let url = format!("ws://127.0.0.1:{port}/?token=dev-token");
    let config = WebSocketConfig::default().max_frame_size(None);
    let (client, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .unwrap();
    client
}

async fn next_frame(client: &mut Client) -> Message {
    tokio::time::timeout(Duration::from_secs(10), client.next())
        .await
        .expect("an answer within 10 s")
        .expect("the connection is open")
        .expect("no protocol error")
}

async fn next_json(client: &mut Client) -> Value {
    match next_frame(client).await {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// `text` as one message in frames of at most 30,000 bytes: API Gateway's frame
/// limit is 32 KB, its message limit 128 KB.
async fn send_fragmented(client: &mut Client, text: &[u8]) {
    let chunks: Vec<&[u8]> = text.chunks(30_000).collect();
    for (index, chunk) in chunks.iter().enumerate() {
        let opcode = if index == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let header = FrameHeader {
            is_final: index == chunks.len() - 1,
            opcode,
            ..FrameHeader::default()
        };
        client
            .send(Message::Frame(Frame::from_payload(
                header,
                chunk.to_vec().into(),
            )))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn websocket_frames_that_are_not_input_get_error_frames_and_the_chat_serves_on() {
    let (_chat, port) = serve(env!("CARGO_BIN_EXE_chat")).await;
    let mut client = chat_client(port).await;
    let bad: Vec<(Vec<u8>, &str)> = vec![
        (
            b"not json".to_vec(),
            "Input must be an object, got invalid JSON",
        ),
        (b"[1, 2]".to_vec(), "Input must be an object"),
        (b"3".to_vec(), "Input must be an object"),
        (b"null".to_vec(), "Input must be an object"),
        (br#""text""#.to_vec(), "Input must be an object"),
        ("[".repeat(100_000).into_bytes(), "recursion limit exceeded"),
        (
            format!("{}1{}", "[".repeat(60_000), "]".repeat(60_000)).into_bytes(),
            "recursion limit exceeded",
        ),
        (
            format!(
                r#"{{"action": "join", "room": {}"x"{}}}"#,
                "{\"a\":".repeat(20_000),
                "}".repeat(20_000)
            )
            .into_bytes(),
            "recursion limit exceeded",
        ),
        (
            br#"{"action": "join", "room": "\ud800"}"#.to_vec(),
            "Input must be an object, got invalid JSON",
        ),
        (
            br#"{"action": "join", "room": "a\u0000b"}"#.to_vec(),
            "control characters",
        ),
        (
            b"{\"action\": \"join\", \"room\": \"a\x00b\"}".to_vec(),
            "Input must be an object, got invalid JSON",
        ),
        (
            br#"{"action": 5, "room": []}"#.to_vec(),
            r#"Invalid value for field "action""#,
        ),
    ];
    for (frame, expected) in &bad {
        if frame.len() > 30_000 {
            send_fragmented(&mut client, frame).await;
        } else {
            client
                .send(Message::text(String::from_utf8(frame.clone()).unwrap()))
                .await
                .unwrap();
        }
        let answer = next_json(&mut client).await;
        let shown = String::from_utf8_lossy(&frame[..frame.len().min(60)]).into_owned();
        assert_eq!(answer["errors"][0]["status"], 400, "{shown}: {answer}");
        let details: Vec<&str> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|error| error["detail"].as_str())
            .collect();
        assert!(
            details.iter().any(|detail| detail.contains(expected)),
            "{shown}: {details:?}"
        );
    }
    // Wrong types: every bad field in one answer.
    client
        .send(Message::text(r#"{"action": 5, "room": []}"#))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut client).await["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    client
        .send(Message::text(r#"{"action": "join", "room": "general"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut client).await["joined"], "general");

    // Bytes that are not UTF-8 in a text frame: the connection closes with 1007,
    // and the gateway serves the next one.
    let mut broken = chat_client(port).await;
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    broken
        .send(Message::Frame(Frame::from_payload(
            header,
            vec![0xff, 0xfe, b'{'].into(),
        )))
        .await
        .unwrap();
    match next_frame(&mut broken).await {
        Message::Close(Some(close)) => assert_eq!(u16::from(close.code), 1007),
        other => panic!("expected a close, got {other:?}"),
    }
    let mut after = chat_client(port).await;
    after
        .send(Message::text(r#"{"action": "join", "room": "after"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut after).await["joined"], "after");
}

fn handshake(headers: &str) -> Vec<u8> {
    format!("GET /?token=dev-token HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{headers}\r\n").into_bytes()
}

#[tokio::test]
async fn malformed_handshakes_are_refused_clearly_and_half_open_sockets_are_closed() {
    let (_chat, port) = serve(env!("CARGO_BIN_EXE_chat")).await;
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    let answer = raw(port, &handshake("Sec-WebSocket-Version: 13\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Key is missing"), "{answer}");

    let answer = raw(
        port,
        &handshake("Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("16 bytes in base64"), "{answer}");

    let answer = raw(
        port,
        &handshake(&format!("{key}Sec-WebSocket-Version: 8\r\n")),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13\r\n"),
        "RFC 6455 §4.4 names the version: {answer}"
    );

    let huge = format!(
        "{key}Sec-WebSocket-Version: 13\r\nX-Big: {}\r\n",
        "a".repeat(1 << 20)
    );
    let answer = raw(port, &handshake(&huge)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    assert_eq!(
        body_of(&answer)["message"],
        "Request Header Fields Too Large"
    );

    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let answer = raw(port, long.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer:.200}");
    assert_eq!(body_of(&answer)["message"], "URI Too Long");

    // 200 handshakes that never finish: each is closed once its head is late, and
    // a client meanwhile connects and chats.
    let started = Instant::now();
    let mut half_open = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream
            .write_all(
                b"GET /?token=dev-token HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",
            )
            .await
            .unwrap();
        half_open.push(stream);
    }
    let mut client = chat_client(port).await;
    client
        .send(Message::text(r#"{"action": "join", "room": "general"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut client).await["joined"], "general");
    for mut stream in half_open {
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a half-sent handshake was kept open");
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(25), "closed after {waited:?}");
    client
        .send(Message::text(
            r#"{"action": "message", "room": "general", "content": "still here"}"#,
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut client).await["content"], "still here");
}

#[tokio::test]
async fn http_bodies_of_10_mb_bad_escapes_and_oversized_heads_get_envelopes() {
    let (_server, port) = serve(env!("CARGO_BIN_EXE_division-http")).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    // The server answers 413 and closes before the client has written the 10 MB,
    // so the answer is read while the body is still being written: a client that
    // reads only after writing everything may meet the reset first.
    let answer = upload(port, 10 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // The rest of the body is never read, so the connection is not reused.
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer:?}"
    );
    assert_eq!(body_of(&answer)["errors"][0]["status"], 413);

    for (path, expected) in [
        (
            "/division?numerator=%zz",
            "The query string has invalid percent-encoding: %zz",
        ),
        (
            "/division?numerator=1%",
            "The query string has invalid percent-encoding: %",
        ),
        (
            "/division?numerator=%ff%fe",
            "The query string has invalid percent-encoding",
        ),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let envelope: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let detail = envelope["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.starts_with(expected), "{path}: {detail}");
    }
    let response = client
        .post(format!("{base}/division"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("numerator=%E0%A4%A")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let envelope: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        envelope["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("The form body has invalid percent-encoding")
    );

    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let answer = raw(port, long.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer:.200}");
    assert_eq!(body_of(&answer)["errors"][0]["status"], 414);
    let huge = format!(
        "GET /division HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let answer = raw(port, huge.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    assert_eq!(
        body_of(&answer)["errors"][0]["title"],
        "Request Header Fields Too Large"
    );
    let answer = raw(port, b"BREW /pot HTTP/1.1\r\nHost x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:.200}");
    assert_eq!(body_of(&answer)["errors"][0]["status"], 400);

    let response = client
        .get(format!("{base}/division?numerator=14&denominator=7"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), r#"{"data":2.0}"#);
}

fn message_event(body: Value, base64: Value) -> String {
    let mut event: Value =
        serde_json::from_str(&support::fixture("apigw/websocket-message.json")).unwrap();
    event["body"] = body;
    event["isBase64Encoded"] = base64;
    event.to_string()
}

#[tokio::test]
async fn lambda_events_of_the_wrong_shape_get_clear_errors_and_the_function_serves_on() {
    let runtime = LambdaRuntime::start().await;
    let mut function = runtime.spawn_function(env!("CARGO_BIN_EXE_echo"), &[]);
    let runtime = &runtime;
    let answered = |event: String| async move {
        let id = runtime.invoke(&event);
        match runtime.outcome(&id).await {
            Outcome::Response(response) => response,
            _ => panic!("the function reported an error for {event:.200}"),
        }
    };
    for (event, expected) in [
        ("[]".to_owned(), "Invalid WebSocket event"),
        ("42".to_owned(), "Invalid WebSocket event"),
        (r#""text""#.to_owned(), "Invalid WebSocket event"),
        (
            r#"{"requestContext": "nope"}"#.to_owned(),
            "Invalid WebSocket event",
        ),
        (
            r#"{"requestContext": {"routeKey": 7}}"#.to_owned(),
            "Invalid WebSocket event",
        ),
        (
            message_event(json!(5), json!(false)),
            "Invalid WebSocket event",
        ),
        (
            message_event(json!("{}"), json!("yes")),
            "Invalid WebSocket event",
        ),
        (
            message_event(json!("%%% not base64"), json!(true)),
            "The body is marked base64 but is not",
        ),
        (
            message_event(json!("//79"), json!(true)),
            "The body is not UTF-8 text",
        ),
    ] {
        let response = answered(event.clone()).await;
        assert_eq!(response["statusCode"], 400, "{event:.200}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.starts_with(expected), "{event:.200}: {detail}");
    }
    let response = answered(message_event(
        json!(r#"{"text": "still here"}"#),
        json!(false),
    ))
    .await;
    assert_eq!(response["statusCode"], 200);
    assert!(function.is_running());

    // An HTTP function: an event of no known shape is an invocation error that says
    // why (API Gateway then answers 502); a known one with a body marked base64
    // that is not is a 400 in its own shape.
    let runtime = LambdaRuntime::start().await;
    let mut function = runtime.spawn_function(env!("CARGO_BIN_EXE_division-http"), &[]);
    let id = runtime.invoke("[1, 2]");
    match runtime.outcome(&id).await {
        Outcome::Error(error) => assert!(
            !error["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{error}"
        ),
        _ => panic!("an array is not an HTTP event"),
    }
    let mut event: Value = serde_json::from_str(&support::fixture(
        "apigw/example-apigw-v2-request-no-authorizer.json",
    ))
    .unwrap();
    event["rawPath"] = json!("/division");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["body"] = json!("%%% not base64");
    event["isBase64Encoded"] = json!(true);
    let id = runtime.invoke(&event.to_string());
    let Outcome::Response(response) = runtime.outcome(&id).await else {
        panic!("an HTTP API event is answered");
    };
    assert_eq!(response["statusCode"], 400);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("base64"),
        "{body}"
    );
    event["body"] = json!("");
    event["isBase64Encoded"] = json!(false);
    event["rawQueryString"] = json!("numerator=14&denominator=7");
    let id = runtime.invoke(&event.to_string());
    let Outcome::Response(response) = runtime.outcome(&id).await else {
        panic!("the function serves on");
    };
    assert_eq!(response["body"], r#"{"data":2.0}"#);
    assert!(function.is_running());
}

#[cfg(unix)]
#[tokio::test]
async fn command_line_arguments_that_are_not_utf8_exit_2_with_a_message() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    for (args, expected) in [
        (
            vec![
                OsStr::from_bytes(b"--numerator"),
                OsStr::from_bytes(b"\xff\xfe"),
            ],
            "UTF-8",
        ),
        (
            vec![OsStr::from_bytes(b"--\xffnumerator=1")],
            "unexpected argument",
        ),
        (
            vec![
                OsStr::from_bytes(b"--json"),
                OsStr::from_bytes(b"{\"numerator\": \"\xff\"}"),
            ],
            "UTF-8",
        ),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_division"))
            .args(&args)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
}
