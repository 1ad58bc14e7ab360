//! Lambda authorizers on the local gateway, as API Gateway runs them: real WebSocket
//! clients (tokio-tungstenite) against gateways running in this process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric::app::App;
use fabric::local::{Gateway, RunningGateway};
use fabric::prelude::*;
use fabric::websocket::{
    Authorized, AuthorizerAdapter, AuthorizerRequest, Disconnect, IdentitySource, WebSocketAdapter,
    fabric_authorizer,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Long enough for a loaded 2-core machine, short enough to fail fast.
const WAIT: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct Caller {
    plan: String,
    level: u32,
    admin: bool,
}

/// An authorizer reading `?token=`: `ada` and `bob` are let in, `mallory` is denied,
/// `nobody` gets no principal, `broken` fails, `panic` panics. It counts its calls.
fn authorizer(calls: Arc<AtomicUsize>) -> AuthorizerAdapter {
    fabric_authorizer(
        [IdentitySource::Query("token".into())],
        move |req: AuthorizerRequest| {
            calls.fetch_add(1, Ordering::SeqCst);
            let token = req.query_param("token").unwrap_or_default().to_owned();
            async move {
                let principal = match token.as_str() {
                    "ada" | "bob" => token.clone(),
                    "mallory" => return Err(Error::new(ErrorKind::Forbidden, "banned")),
                    "nobody" => String::new(),
                    "broken" => return Err(Error::internal_message("the key store is down")),
                    "panic" => panic!("the authorizer panicked"),
                    _ => return Err(Error::unauthorized("unknown token")),
                };
                Ok(Authorized {
                    principal_id: principal,
                    context: Caller {
                        plan: "pro".into(),
                        level: 3,
                        admin: false,
                    },
                })
            }
        },
    )
}

#[derive(Deserialize, Input)]
struct WhoAmI {}

/// Tells the caller who it is, from `ctx.identity()` and the raw event.
#[fabric_service(alias = "whoami")]
async fn whoami(_input: WhoAmI, ctx: Context) -> Result<(), Error> {
    let identity = ctx.identity().await?;
    let authorizer = ctx.websocket().map(|ws| ws.authorizer().clone());
    ctx.send_message(json!({
        "user": identity.as_ref().map(|i| i.user_id.clone()),
        "plan": identity.as_ref().and_then(|i| i.attributes.get("plan").cloned()),
        "authorizer": authorizer,
    }))
    .await
}

/// What the hooks saw as `requestContext.authorizer`.
#[derive(Clone, Default)]
struct Seen {
    connect: Arc<Mutex<Vec<Value>>>,
    disconnect: Arc<Mutex<Vec<Value>>>,
}

fn adapter(seen: &Seen) -> WebSocketAdapter {
    let connect = seen.connect.clone();
    let disconnect = seen.disconnect.clone();
    fabric_websocket(whoami)
        .on_connect(move |ctx: Context| {
            let connect = connect.clone();
            async move {
                let ws = ctx.websocket().expect("a WebSocket event");
                connect.lock().unwrap().push(ws.authorizer().clone());
                Ok(Accept::new())
            }
        })
        .on_disconnect(move |ctx: Context, _info: Disconnect| {
            let disconnect = disconnect.clone();
            async move {
                let ws = ctx.websocket().expect("a WebSocket event");
                disconnect.lock().unwrap().push(ws.authorizer().clone());
            }
        })
}

async fn start(adapter: WebSocketAdapter) -> RunningGateway {
    Gateway::new(adapter).bind("127.0.0.1:0").await.unwrap()
}

/// Connects to `path_and_query`; a refused handshake is its HTTP status and body.
async fn connect(gateway: &RunningGateway, path_and_query: &str) -> Result<Client, (u16, Value)> {
    let request = format!("{}{path_and_query}", gateway.ws_url())
        .into_client_request()
        .unwrap();
    match tokio_tungstenite::connect_async(request).await {
        Ok((client, _)) => Ok(client),
        Err(WsError::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .and_then(|body| serde_json::from_slice(body).ok())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(err) => panic!("the handshake failed: {err}"),
    }
}

/// The status and body of a handshake that must be refused.
async fn refused(gateway: &RunningGateway, path_and_query: &str) -> (u16, Value) {
    match connect(gateway, path_and_query).await {
        Ok(_) => panic!("{path_and_query}: the handshake was accepted"),
        Err(refusal) => refusal,
    }
}

async fn next_json(client: &mut Client) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a frame in time")
            .expect("the connection is open")
            .expect("no WebSocket error");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

async fn ask_whoami(client: &mut Client) -> Value {
    client
        .send(Message::text(json!({"action": "whoami"}).to_string()))
        .await
        .unwrap();
    next_json(client).await
}

/// Waits until `seen` has `count` entries.
async fn wait_for(seen: &Mutex<Vec<Value>>, count: usize) -> Vec<Value> {
    tokio::time::timeout(WAIT, async {
        loop {
            let now = seen.lock().unwrap().clone();
            if now.len() >= count {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the hook ran in time")
}

#[tokio::test]
async fn a_handshake_without_the_identity_source_is_401_and_the_authorizer_is_not_invoked() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let gateway = start(adapter(&seen).authorizer(authorizer(calls.clone()))).await;

    let (status, body) = refused(&gateway, "/").await;
    assert_eq!((status, body), (401, json!({"message": "Unauthorized"})));
    let (status, _) = refused(&gateway, "/?token=").await;
    assert_eq!(status, 401, "an empty identity source is a missing one");
    let (status, _) = refused(&gateway, "/?other=ada").await;
    assert_eq!(status, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the authorizer never ran");
    assert!(
        seen.connect.lock().unwrap().is_empty(),
        "$connect never ran"
    );

    // With the source present the authorizer decides, and an unknown token is its 401.
    let (status, _) = refused(&gateway, "/?token=guess").await;
    assert_eq!(status, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(seen.connect.lock().unwrap().is_empty());
    assert_eq!(gateway.connection_count(), 0);
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_deny_or_a_missing_principal_is_403_and_a_failing_authorizer_500() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let gateway = start(adapter(&seen).authorizer(authorizer(calls.clone()))).await;

    let denied = refused(&gateway, "/?token=mallory").await;
    assert_eq!(denied, (403, json!({"message": "Forbidden"})));
    let (status, _) = refused(&gateway, "/?token=nobody").await;
    assert_eq!(status, 403, "no principal is a deny");
    let failed = refused(&gateway, "/?token=broken").await;
    assert_eq!(failed, (500, json!({"message": "Internal server error"})));
    let panicked = refused(&gateway, "/?token=panic").await;
    assert_eq!(panicked.0, 500);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert!(
        seen.connect.lock().unwrap().is_empty(),
        "$connect never ran"
    );

    // The gateway keeps serving after a panic.
    let mut client = connect(&gateway, "/?token=ada").await.unwrap();
    assert_eq!(ask_whoami(&mut client).await["user"], "ada");
    gateway.shutdown().await;
}

#[tokio::test]
async fn the_authorizer_context_is_on_connect_every_message_and_disconnect_stringified() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let gateway = start(adapter(&seen).authorizer(authorizer(calls))).await;

    let mut client = connect(&gateway, "/?token=ada").await.unwrap();
    let connect_seen = wait_for(&seen.connect, 1).await;
    let fields = &connect_seen[0];
    assert_eq!(fields["principalId"], "ada");
    // API Gateway hands every context value over as a string.
    assert_eq!(fields["plan"], "pro");
    assert_eq!(fields["level"], "3");
    assert_eq!(fields["admin"], "false");
    assert!(fields["integrationLatency"].is_u64());

    for _ in 0..2 {
        let answer = ask_whoami(&mut client).await;
        assert_eq!(answer["user"], "ada", "{answer}");
        assert_eq!(answer["plan"], "pro");
        assert_eq!(answer["authorizer"]["principalId"], "ada");
        assert_eq!(answer["authorizer"]["level"], "3");
    }
    // Another connection keeps its own identity.
    let mut other = connect(&gateway, "/?token=bob").await.unwrap();
    assert_eq!(ask_whoami(&mut other).await["user"], "bob");
    assert_eq!(ask_whoami(&mut client).await["user"], "ada");

    client.close(None).await.unwrap();
    let disconnects = wait_for(&seen.disconnect, 1).await;
    assert_eq!(disconnects[0]["principalId"], "ada");
    assert_eq!(disconnects[0]["admin"], "false");
    drop(other);
    gateway.shutdown().await;
}

#[tokio::test]
async fn an_app_runs_the_authorizer_function_its_api_names() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let app = App::new("Guarded")
        .websocket_api("Guarded", |api| {
            api.handler("guarded").authorizer("guarded-authorizer")
        })
        .function("guarded", adapter(&seen))
        .function("guarded-authorizer", authorizer(calls.clone()));
    let gateway = Gateway::from_app(&app, "Guarded")
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();

    assert_eq!(refused(&gateway, "/").await.0, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(refused(&gateway, "/?token=mallory").await.0, 403);
    let mut client = connect(&gateway, "/?token=bob").await.unwrap();
    assert_eq!(ask_whoami(&mut client).await["user"], "bob");
    client.close(None).await.unwrap();
    assert_eq!(wait_for(&seen.disconnect, 1).await[0]["principalId"], "bob");
    gateway.shutdown().await;
}

#[test]
fn an_app_whose_authorizer_is_not_one_or_guards_no_connect_route_is_refused() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let not_an_authorizer = App::new("Guarded")
        .websocket_api("Guarded", |api| {
            api.handler("guarded").authorizer("guarded")
        })
        .function("guarded", adapter(&seen));
    let err = not_an_authorizer.describe().unwrap_err().to_string();
    assert!(err.contains("serves no authorizer"), "{err}");

    let unused = App::new("Guarded")
        .websocket_api("Guarded", |api| api.handler("guarded"))
        .function("guarded", adapter(&seen))
        .function("lonely", authorizer(calls.clone()));
    let err = unused.describe().unwrap_err().to_string();
    assert!(err.contains("no API uses"), "{err}");

    let no_connect = App::new("Guarded")
        .websocket_api("Guarded", |api| {
            api.route("$default", "guarded").authorizer("check")
        })
        .function("guarded", fabric_websocket(whoami))
        .function("check", authorizer(calls));
    let err = no_connect.describe().unwrap_err().to_string();
    assert!(err.contains("no `$connect` route"), "{err}");
}

#[tokio::test]
async fn the_test_gateway_runs_the_authorizer_and_keeps_its_context_on_every_event() {
    use fabric::testing::TestGateway;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let gateway = TestGateway::new(adapter(&seen).authorizer(authorizer(calls.clone())));

    let missing = gateway.connect().await.unwrap_err();
    assert_eq!(
        (missing.status, missing.body),
        (401, Some(json!({"message": "Unauthorized"})))
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "not invoked without its source"
    );
    let denied = gateway
        .connect_with(|event| event.query("token", "mallory"))
        .await
        .unwrap_err();
    assert_eq!(denied.status, 403);
    let failed = gateway
        .connect_with(|event| event.query("token", "panic"))
        .await
        .unwrap_err();
    assert_eq!(failed.status, 500);
    assert!(seen.connect.lock().unwrap().is_empty());

    let ada = gateway
        .connect_with(|event| event.query("token", "ada"))
        .await
        .unwrap();
    assert_eq!(seen.connect.lock().unwrap()[0]["level"], "3");
    ada.send(json!({"action": "whoami"})).await;
    ada.send(json!({"action": "whoami"})).await;
    for answer in ada.received() {
        assert_eq!(answer["user"], "ada");
        assert_eq!(answer["authorizer"]["principalId"], "ada");
    }
    ada.disconnect().await;
    assert_eq!(seen.disconnect.lock().unwrap()[0]["principalId"], "ada");
}
