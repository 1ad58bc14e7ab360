//! Layers around services: one layer, added once per adapter, seen on WebSocket
//! (the local gateway, a real client), HTTP (the local server, a real client) and
//! command-line calls of the same service; refusals in each transport's form; values
//! a layer puts into the context read by the service; and a layer that requires a
//! principal on some routes.

mod support;

use std::sync::{Arc, Mutex};

use fabric::app::App;
use fabric::layer::{Layer, Next, ServiceRequest, Transport};
use fabric::local::Gateway;
use fabric::prelude::*;
use fabric::store::MemoryStore;
use fabric::testing::TestGateway;
use fabric::websocket::WebSocketAdapter;
use fabric::{Output, fabric_cli};
use futures_util::future::BoxFuture;
use support::ws_client::WsClient;
use tokio::net::TcpListener;

#[derive(Debug, Deserialize, Input)]
struct Note {
    /// What to note
    text: String,
}

/// What the layer put into the context: the transport it saw.
#[derive(Debug, Clone)]
struct Stamp(&'static str);

#[fabric_service(alias = "note", description = "Notes a text, with the layer's stamp")]
async fn note(input: Note, ctx: Context) -> Result<Value, Error> {
    let stamp = ctx.extension::<Stamp>().map(|stamp| stamp.0);
    Ok(json!({"text": input.text, "stamp": stamp}))
}

/// A layer that writes down every call it sees, refuses the text `forbidden` with a
/// 401 before the service runs, stamps the context, and notes the outcome after.
#[derive(Clone, Default)]
struct Audit {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Audit {
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Layer for Audit {
    fn call(
        &self,
        mut request: ServiceRequest,
        next: Next,
    ) -> BoxFuture<'static, Result<Output, Error>> {
        let seen = self.seen.clone();
        Box::pin(async move {
            let call = format!(
                "{} {} {}",
                request.transport(),
                request.alias(),
                request.route()
            );
            seen.lock().unwrap().push(call.clone());
            if request.input()["text"] == "forbidden" {
                return Err(Error::unauthorized("this text needs a signed-in caller"));
            }
            request.insert(Stamp(request.transport().name()));
            let result = next.run(request).await;
            let status = result.as_ref().map_or_else(Error::status, |_| 200);
            seen.lock().unwrap().push(format!("after {call}: {status}"));
            result
        })
    }
}

async fn serve_http(router: HttpRouter) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(router.serve_on(listener, std::future::pending()));
    format!("http://{address}")
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_layer_is_seen_on_websocket_http_and_cli_calls_of_the_same_service() {
    let audit = Audit::default();

    // WebSocket: the local gateway, a real client.
    let websocket = fabric_websocket(WebSocketRouter::new().service(note))
        .reply(true)
        .layer(audit.clone());
    let gateway = Gateway::new(websocket).bind("127.0.0.1:0").await.unwrap();
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    client
        .send_json(json!({"action": "note", "text": "hi"}))
        .await;
    assert_eq!(
        client.next_json().await,
        json!({"data": {"text": "hi", "stamp": "websocket"}})
    );
    client
        .send_json(json!({"action": "note", "text": "forbidden"}))
        .await;
    let refused = client.next_json().await;
    assert_eq!(refused["errors"][0]["status"], 401, "{refused}");
    assert_eq!(
        refused["errors"][0]["detail"],
        "this text needs a signed-in caller"
    );

    // HTTP: the local server, a real client.
    let base = serve_http(fabric_http(note).layer(audit.clone())).await;
    let (status, body) = get(&format!("{base}/note?text=hi")).await;
    assert_eq!(
        (status, body),
        (200, json!({"data": {"text": "hi", "stamp": "http"}}))
    );
    let (status, body) = get(&format!("{base}/note?text=forbidden")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["title"], "Unauthorized");

    // The command line, run in-process as its binary would run it.
    let cli = fabric_cli(note).layer(audit.clone());
    assert_eq!(cli.run_from(["note", "--text", "hi"]).await, 0);
    assert_eq!(cli.run_from(["note", "--text", "forbidden"]).await, 2);

    assert_eq!(
        audit.seen(),
        [
            "websocket note note",
            "after websocket note note: 200",
            "websocket note note",
            "http note GET /note",
            "after http note GET /note: 200",
            "http note GET /note",
            "cli note note",
            "after cli note note: 200",
            "cli note note",
        ]
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_layer_sees_the_services_errors_and_a_panicking_layer_is_a_500() {
    let audit = Audit::default();
    let websocket = fabric_websocket(WebSocketRouter::new().service(note)).layer(audit.clone());
    let gateway = TestGateway::new(websocket);
    let client = gateway.connect().await.unwrap();
    // No `text`: the service's own validation refuses it, inside the layer.
    client.send(json!({"action": "note"})).await;
    assert_eq!(client.received()[0]["errors"][0]["status"], 400);
    assert_eq!(
        audit.seen(),
        ["websocket note note", "after websocket note note: 400"]
    );

    let broken = fabric_http(note).layer(
        |_request: ServiceRequest, _next: Next| -> BoxFuture<'static, Result<Output, Error>> {
            panic!("a bug in the layer")
        },
    );
    let base = serve_http(broken).await;
    let (status, body) = get(&format!("{base}/note?text=hi")).await;
    assert_eq!(status, 500, "{body}");
    // The server is still serving.
    let (status, _) = get(&format!("{base}/note?text=hi")).await;
    assert_eq!(status, 500);
}

/// Who a guarded route is serving, as the layer found it.
#[derive(Debug, Clone)]
struct Principal(String);

#[derive(Debug, Deserialize, Input)]
struct Nothing {}

#[fabric_service(alias = "profile")]
async fn profile(_input: Nothing, ctx: Context) -> Result<String, Error> {
    let principal = ctx
        .extension::<Principal>()
        .ok_or_else(|| Error::internal_message("the guard layer did not run"))?;
    Ok(format!("profile of {}", principal.0))
}

#[fabric_service(alias = "news")]
async fn news(_input: Nothing, _ctx: Context) -> Result<&'static str, Error> {
    Ok("open to everyone")
}

/// Requires a caller on the routes it names: `ctx.identity()` (here, the user
/// `$connect` saved in the store) becomes a [`Principal`] for the service; without
/// one the route is a 401 frame. Other routes pass.
fn require_principal_on(routes: &'static [&'static str]) -> impl Layer {
    move |mut request: ServiceRequest, next: Next| async move {
        if !routes.contains(&request.route()) {
            return next.run(request).await;
        }
        let Some(identity) = request.context().identity().await? else {
            return Err(Error::unauthorized(format!(
                "the route \"{}\" needs a signed-in caller: connect with ?user=",
                request.route()
            )));
        };
        request.insert(Principal(identity.user_id));
        next.run(request).await
    }
}

fn guarded_adapter() -> WebSocketAdapter {
    fabric_websocket(WebSocketRouter::new().service(profile).service(news))
        .on_connect(|ctx: Context| async move {
            let user = ctx.websocket().and_then(|ws| ws.query_param("user"));
            Ok(match user {
                Some(user) => Accept::new().user(user),
                None => Accept::new(),
            })
        })
        .store(MemoryStore::new())
        .reply(true)
        .layer(require_principal_on(&["profile"]))
}

#[tokio::test]
async fn a_layer_requires_a_principal_on_some_routes_and_answers_401_frames_there() {
    let gateway = Gateway::new(guarded_adapter())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut anonymous = WsClient::connect(&gateway.ws_url()).await;
    anonymous.send_json(json!({"action": "profile"})).await;
    let refused = anonymous.next_json().await;
    assert_eq!(refused["errors"][0]["status"], 401, "{refused}");
    assert_eq!(
        refused["errors"][0]["detail"],
        "the route \"profile\" needs a signed-in caller: connect with ?user="
    );
    anonymous.send_json(json!({"action": "news"})).await;
    assert_eq!(
        anonymous.next_json().await,
        json!({"data": "open to everyone"})
    );

    let mut ada = WsClient::connect(&format!("{}/?user=ada", gateway.ws_url())).await;
    for _ in 0..2 {
        ada.send_json(json!({"action": "profile"})).await;
        assert_eq!(ada.next_json().await, json!({"data": "profile of ada"}));
    }
    // The anonymous connection is still open and still refused.
    anonymous.send_json(json!({"action": "profile"})).await;
    assert_eq!(anonymous.next_json().await["errors"][0]["status"], 401);
    gateway.shutdown().await;
}

#[tokio::test]
async fn an_apps_layer_runs_around_every_function_outside_their_own() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let (outer, inner) = (order.clone(), order.clone());
    let app = App::new("Notes")
        .websocket_api("Notes", |api| {
            api.route("note", "notes-write").route("news", "notes-read")
        })
        .layer(move |request: ServiceRequest, next: Next| {
            let order = outer.clone();
            async move {
                order
                    .lock()
                    .unwrap()
                    .push(format!("app {}", request.alias()));
                next.run(request).await
            }
        })
        .function(
            "notes-write",
            fabric_websocket(WebSocketRouter::new().service(note)).layer(
                move |request: ServiceRequest, next: Next| {
                    let order = inner.clone();
                    async move {
                        order.lock().unwrap().push("function's own".to_owned());
                        next.run(request).await
                    }
                },
            ),
        )
        .function(
            "notes-read",
            fabric_websocket(WebSocketRouter::new().service(news)),
        );
    let gateway = TestGateway::from_app(&app, "Notes").unwrap();
    let client = gateway.connect().await.unwrap();
    client.send(json!({"action": "note", "text": "x"})).await;
    client.send(json!({"action": "news"})).await;
    assert_eq!(
        *order.lock().unwrap(),
        ["app note", "function's own", "app news"]
    );
    assert_eq!(Transport::WebSocket.name(), "websocket");
}
