//! An in-process API Gateway for tests: clients connect, send and disconnect with
//! no sockets and no AWS, every event goes to the function serving its route as
//! the JSON Lambda would get, and posts land in each client's inbox.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use super::hub::{CLOSED_BY_DELETE, Hub, HubApi, Inbox};
use super::websocket_events::WebSocketEvent;
use crate::app::{App, AppError, FunctionAdapter, Routes};
use crate::panic::catch_panic;
use crate::websocket::{ApiGatewayProxyResponse, Body, ConnectVerdict, WebSocketAdapter};

/// The reason of a `$disconnect` whose client left without a close frame.
const ABNORMAL: &str = "Connection closed abnormally";

/// An API Gateway WebSocket API in the test's own process: one adapter serving
/// every route ([`TestGateway::new`]), or an app's API with each route at its own
/// function ([`TestGateway::from_app`]).
///
/// It does what API Gateway does, minus the network: `$connect` decides whether a
/// client gets in, each frame goes to the function its route selection picks (as
/// the event JSON Lambda would get), two-way routes' bodies reach the sender, posts
/// through the Management API reach the connection they name (410 once it is
/// gone), and every close runs `$disconnect`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fabric::prelude::*;
/// use fabric::store::MemoryStore;
/// use fabric::testing::TestGateway;
///
/// #[derive(Deserialize, Input)]
/// struct Say { room: String, text: String }
///
/// #[fabric_service]
/// async fn say(input: Say, ctx: Context) -> Result<(), Error> {
///     ctx.join(&input.room).await?;
///     ctx.broadcast_room(&input.room, json!({"text": input.text})).await?;
///     Ok(())
/// }
///
/// let gateway = TestGateway::new(fabric_websocket(say).store(MemoryStore::new()));
/// let ada = gateway.connect().await.unwrap();
/// let bob = gateway.connect().await.unwrap();
/// bob.send(json!({"room": "general", "text": "hi"})).await;
/// ada.send(json!({"room": "general", "text": "hello"})).await;
/// assert_eq!(bob.received(), [json!({"text": "hi"}), json!({"text": "hello"})]);
/// assert_eq!(ada.received(), [json!({"text": "hello"})]);
///
/// ada.disconnect().await;
/// assert_eq!(gateway.connection_count(), 1);
/// # })
/// ```
#[derive(Debug, Clone)]
pub struct TestGateway {
    routes: Arc<Routes>,
    hub: Arc<Hub>,
}

impl TestGateway {
    /// A gateway for `adapter`, serving every route it declares. Its posts go to
    /// this gateway's connections, whatever Management API it was given.
    pub fn new(adapter: WebSocketAdapter) -> TestGateway {
        let hub = Arc::new(Hub::default());
        let adapter = adapter.management_api(Arc::new(HubApi(hub.clone())));
        TestGateway {
            routes: Arc::new(Routes::single(adapter)),
            hub,
        }
    }

    /// A gateway for the WebSocket API `api` of `app`: each route goes to the
    /// function serving it, each function with its own adapter, setup and state, and
    /// the app's connection store made once and shared by all of them, as the local
    /// gateway serves the app.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use fabric::app::App;
    /// use fabric::prelude::*;
    /// use fabric::testing::TestGateway;
    /// use fabric::websocket::WebSocketAdapter;
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Ping {}
    ///
    /// #[fabric_service(alias = "ping")]
    /// async fn ping(_input: Ping, ctx: Context) -> Result<(), Error> {
    ///     ctx.send_message("pong").await
    /// }
    ///
    /// let app = App::new("Pings")
    ///     .websocket_api("Api", |api| api.route("$disconnect", "bye").route("ping", "pinger"))
    ///     .function("bye", WebSocketAdapter::new())
    ///     .function("pinger", fabric_websocket(WebSocketRouter::new().service(ping)));
    /// let gateway = TestGateway::from_app(&app, "Api").unwrap();
    /// let client = gateway.connect().await.unwrap();
    /// client.send(json!({"action": "ping"})).await;
    /// client.send(json!({"action": "dance"})).await; // no route, no `$default`
    /// assert_eq!(client.received()[0], json!("pong"));
    /// assert_eq!(client.received()[1]["message"], "Forbidden");
    /// # })
    /// ```
    pub fn from_app(app: &App, api: &str) -> Result<TestGateway, AppError> {
        let hub = Arc::new(Hub::default());
        let mut plan = app.clone().plan()?;
        plan.share_app_store()?;
        for function in &mut plan.functions {
            // Built without HTTP, WebSocket is the only kind of adapter.
            #[cfg_attr(not(feature = "http"), allow(irrefutable_let_patterns))]
            let FunctionAdapter::WebSocket(adapter) = &mut function.adapter else {
                continue;
            };
            *adapter = adapter
                .clone()
                .management_api(Arc::new(HubApi(hub.clone())));
        }
        let found = plan
            .websocket_apis()?
            .into_iter()
            .find(|planned| planned.name == api)
            .ok_or_else(|| AppError::new(format!("the app has no WebSocket API `{api}`")))?;
        Ok(TestGateway {
            routes: Arc::new(found.routes),
            hub,
        })
    }

    /// Connects a client with no query and no extra headers.
    pub async fn connect(&self) -> Result<TestClient, Refused> {
        self.connect_with(|event| event).await
    }

    /// Connects a client whose `$connect` event is `event` made into what the test
    /// needs: a query (`.query("token", ..)`), headers, an authorizer's context.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use fabric::prelude::*;
    /// use fabric::testing::TestGateway;
    ///
    /// let guarded = fabric::websocket::WebSocketAdapter::new().on_connect(|ctx: Context| async move {
    ///     match ctx.websocket().and_then(|ws| ws.query_param("token")) {
    ///         Some("s3cret") => Ok(Accept::new()),
    ///         _ => Err(Error::unauthorized("a token is required")),
    ///     }
    /// });
    /// let gateway = TestGateway::new(guarded);
    /// let refused = gateway.connect().await.unwrap_err();
    /// assert_eq!(refused.status, 401);
    /// assert_eq!(refused.body.unwrap()["errors"][0]["detail"], "a token is required");
    /// assert!(gateway.connect_with(|event| event.query("token", "s3cret")).await.is_ok());
    /// # })
    /// ```
    pub async fn connect_with(
        &self,
        build: impl FnOnce(WebSocketEvent) -> WebSocketEvent,
    ) -> Result<TestClient, Refused> {
        let (id, inbox) = self.hub.register();
        let mut event = build(self.event(WebSocketEvent::connect(&id)));
        if let Some(authorizer) = self.routes.authorizer() {
            let connect = serde_json::from_value(event.to_json()).unwrap_or_default();
            let arn = "arn:aws:execute-api:us-east-1:123456789012:testgateway/test/$connect";
            match authorizer.check_connect(&connect, arn.to_owned()).await {
                ConnectVerdict::Allow(fields) => {
                    event = event.authorizer(Value::Object(fields.into_iter().collect()));
                }
                ConnectVerdict::Refuse(status) => {
                    self.hub.lock().connections.remove(&id);
                    let message = ConnectVerdict::refusal_message(status);
                    return Err(Refused {
                        status,
                        body: Some(json!({ "message": message })),
                    });
                }
            }
        }
        let authorizer = event.authorizer_fields().cloned().map(Value::Object);
        self.hub.with_connection(&id, |connection| {
            connection.source_ip = event_field(&event, "sourceIp");
            connection.user_agent = event_field(&event, "userAgent");
            connection.authorizer = authorizer;
        });
        let decided = match self.routes.function("$connect") {
            None => Ok(()),
            Some(function) => match invoke(&function.adapter, &event).await {
                Some(response) if (200..300).contains(&response.status_code) => Ok(()),
                Some(response) => Err(Refused {
                    status: u16::try_from(response.status_code).unwrap_or(500),
                    body: body_json(&response),
                }),
                None => Err(Refused {
                    status: 500,
                    body: Some(json!({"message": "Internal server error"})),
                }),
            },
        };
        let result = match decided {
            Ok(()) => {
                self.hub
                    .with_connection(&id, |connection| connection.open = true);
                Ok(TestClient {
                    gateway: self.clone(),
                    id,
                    inbox,
                })
            }
            Err(refused) => {
                self.hub.lock().connections.remove(&id);
                Err(refused)
            }
        };
        self.close_deleted().await;
        result
    }

    /// How many clients are connected (or inside `$connect`).
    pub fn connection_count(&self) -> usize {
        self.hub.lock().connections.len()
    }

    /// The ids of the connected clients, in no particular order.
    pub fn connection_ids(&self) -> Vec<String> {
        self.hub.lock().connections.keys().cloned().collect()
    }

    /// A later event of connection `id`: with its authorizer's fields, as API
    /// Gateway puts them on every event after `$connect`.
    fn event_of(&self, id: &str, template: WebSocketEvent) -> WebSocketEvent {
        let authorizer = self
            .hub
            .lock()
            .connections
            .get(id)
            .and_then(|connection| connection.authorizer.clone());
        match authorizer {
            Some(fields) => self.event(template).authorizer(fields),
            None => self.event(template),
        }
    }

    /// `template` with the gateway's own stage, API and domain.
    fn event(&self, template: WebSocketEvent) -> WebSocketEvent {
        template
            .stage("test")
            .api_id("testgateway")
            .domain_name("testgateway.execute-api.us-east-1.amazonaws.com")
            .connected_at(Utc::now().timestamp_millis())
    }

    /// Runs `$disconnect` for the connections the Management API deleted, as API
    /// Gateway does once it has closed them.
    async fn close_deleted(&self) {
        loop {
            let deleted = std::mem::take(&mut self.hub.lock().deleted);
            if deleted.is_empty() {
                return;
            }
            for (id, authorizer) in deleted {
                self.run_disconnect(&id, 1000, CLOSED_BY_DELETE, authorizer)
                    .await;
            }
        }
    }

    async fn run_disconnect(&self, id: &str, code: u16, reason: &str, authorizer: Option<Value>) {
        if let Some(function) = self.routes.function("$disconnect") {
            let mut event = self.event(WebSocketEvent::disconnect(id, code, reason));
            if let Some(fields) = authorizer {
                event = event.authorizer(fields);
            }
            let _ = invoke(&function.adapter, &event).await;
        }
    }
}

/// A refused `$connect`: the status the handshake got, and its body (an error
/// envelope, or API Gateway's own message).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The HTTP status of the refused handshake (401, 403, 500, ...).
    pub status: u16,
    /// The body, as JSON.
    pub body: Option<Value>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the handshake was refused with {}", self.status)?;
        if let Some(body) = &self.body {
            write!(f, ": {body}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// What the function serving a message answered (API Gateway logs it; a two-way
/// route's body also reached the client).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The status of the function's response (403 when no function serves the
    /// route, 500 when the invocation failed).
    pub status: u16,
    /// The response's body, as JSON (or a JSON string when it is not JSON).
    pub body: Option<Value>,
}

/// One client of a [`TestGateway`]: what it sends becomes MESSAGE events, and
/// everything sent to it (posts, two-way replies, API Gateway's error messages) is
/// kept in order.
#[derive(Debug)]
pub struct TestClient {
    gateway: TestGateway,
    id: String,
    inbox: Arc<Inbox>,
}

impl TestClient {
    /// The connection id API Gateway gave this client.
    pub fn connection_id(&self) -> &str {
        &self.id
    }

    /// Sends `message` as one JSON text frame and waits until it is handled.
    ///
    /// # Panics
    /// When the connection is closed (by a `DELETE` on the Management API).
    pub async fn send(&self, message: impl Serialize) -> Answer {
        let text = serde_json::to_string(&message).expect("a message serializes to JSON");
        self.send_text(&text).await
    }

    /// Sends `text` as one text frame (JSON or not) and waits until it is handled.
    ///
    /// # Panics
    /// When the connection is closed.
    pub async fn send_text(&self, text: &str) -> Answer {
        assert!(
            self.is_open(),
            "connection {} is closed: it cannot send",
            self.id
        );
        let gateway = &self.gateway;
        gateway.hub.with_connection(&self.id, |connection| {
            connection.last_active_at = Utc::now();
        });
        let route_key = gateway.routes.route_key(text);
        let event = gateway.event_of(
            &self.id,
            WebSocketEvent::message(&self.id, text).route_key(&route_key),
        );
        let failure = |message: &str| json!({"message": message, "connectionId": self.id, "requestId": "test-request"});
        let answer = match gateway.routes.function(&route_key) {
            None => {
                self.inbox.push(failure("Forbidden").to_string());
                Answer {
                    status: 403,
                    body: None,
                }
            }
            Some(function) => match invoke(&function.adapter, &event).await {
                Some(response) => {
                    let body = match &response.body {
                        Some(Body::Text(text)) => Some(text.clone()),
                        Some(Body::Binary(bytes)) => {
                            Some(String::from_utf8_lossy(bytes).into_owned())
                        }
                        _ => None,
                    };
                    if let (true, Some(body)) = (function.adapter.is_two_way(), &body) {
                        self.inbox.push(body.clone());
                    }
                    Answer {
                        status: u16::try_from(response.status_code).unwrap_or(500),
                        body: body.map(|text| parse(&text)),
                    }
                }
                None => {
                    self.inbox
                        .push(failure("Internal server error").to_string());
                    Answer {
                        status: 500,
                        body: None,
                    }
                }
            },
        };
        gateway.close_deleted().await;
        answer
    }

    /// Everything this client has received so far, in order, each frame read as
    /// JSON (a frame that is not JSON reads as a JSON string).
    pub fn received(&self) -> Vec<Value> {
        self.frames().iter().map(|frame| parse(frame)).collect()
    }

    /// Everything received so far, as the text frames that arrived.
    pub fn frames(&self) -> Vec<String> {
        self.inbox.lock().frames.clone()
    }

    /// Empties the inbox, giving back what was in it (as [`received`](Self::received)
    /// reads it).
    pub fn take_received(&self) -> Vec<Value> {
        let frames = std::mem::take(&mut self.inbox.lock().frames);
        frames.iter().map(|frame| parse(frame)).collect()
    }

    /// Whether the connection is open: not closed by this client, and not deleted
    /// through the Management API.
    pub fn is_open(&self) -> bool {
        self.inbox.lock().closed.is_none()
    }

    /// The close code and reason, once the connection is closed.
    pub fn close_status(&self) -> Option<(u16, String)> {
        self.inbox.lock().closed.clone()
    }

    /// Closes the connection with 1000 and runs `$disconnect`.
    pub async fn disconnect(self) {
        self.close(1000, "bye").await;
    }

    /// Closes the connection with `code` and `reason`, as a client's close frame
    /// does, and runs `$disconnect` with them.
    pub async fn close(self, code: u16, reason: &str) {
        self.end(code, reason).await;
    }

    /// Drops the connection without a close frame, as a crashed client does:
    /// `$disconnect` gets 1006.
    pub async fn vanish(self) {
        self.end(1006, ABNORMAL).await;
    }

    async fn end(&self, code: u16, reason: &str) {
        let removed = self.gateway.hub.lock().connections.remove(&self.id);
        let Some(removed) = removed else {
            return; // already closed through the Management API
        };
        self.inbox.close(code, reason);
        self.gateway
            .run_disconnect(&self.id, code, reason, removed.authorizer)
            .await;
        self.gateway.close_deleted().await;
    }
}

/// One adapter call on `event`'s JSON, as Lambda makes it; `None` when the
/// invocation failed (a panic escaped the adapter).
async fn invoke(
    adapter: &WebSocketAdapter,
    event: &WebSocketEvent,
) -> Option<ApiGatewayProxyResponse> {
    let text = event.to_string();
    catch_panic(|| adapter.handle_json(&text)).await.ok()
}

fn body_json(response: &ApiGatewayProxyResponse) -> Option<Value> {
    match &response.body {
        Some(Body::Text(text)) => Some(parse(text)),
        _ => None,
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `identity.sourceIp` or `identity.userAgent` of a built event.
fn event_field(event: &WebSocketEvent, name: &str) -> Option<String> {
    event.to_json()["requestContext"]["identity"][name]
        .as_str()
        .map(str::to_owned)
}
