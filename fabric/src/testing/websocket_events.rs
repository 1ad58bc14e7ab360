//! API Gateway WebSocket events (CONNECT, MESSAGE, DISCONNECT) as the JSON API
//! Gateway sends a Lambda function; `tests/fixtures/apigw/` holds real ones.

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{insert_pairs, request_time};
use crate::websocket::{ApiGatewayWebsocketProxyRequest, EventType};

/// The test events' API: `{api_id}.execute-api.us-east-1.amazonaws.com`, stage `test`.
const API_ID: &str = "abcdef1234";
const STAGE: &str = "test";
/// 2026-11-22T01:20:00Z: a fixed time, so events are the same from run to run.
const CONNECTED_AT: i64 = 1_795_310_400_000;

/// One API Gateway WebSocket event, built as API Gateway writes it: `$connect` with
/// the handshake's headers and query, a message with its body, `$disconnect` with
/// the close code and reason and the placeholder headers.
///
/// Feed it to [`WebSocketAdapter::handle_json`](crate::websocket::WebSocketAdapter::handle_json)
/// as Lambda would, or read it with [`to_json`](Self::to_json).
///
/// ```
/// use fabric::testing::WebSocketEvent;
///
/// let connect = WebSocketEvent::connect("Bq7ZkfvLIAMCLbQ=")
///     .query("token", "s3cret")
///     .header("Origin", "https://chat.example.com")
///     .authorizer(serde_json::json!({"principalId": "ada", "plan": "pro"}))
///     .to_json();
/// assert_eq!(connect["requestContext"]["eventType"], "CONNECT");
/// assert_eq!(connect["queryStringParameters"]["token"], "s3cret");
/// assert_eq!(connect["multiValueHeaders"]["Origin"][0], "https://chat.example.com");
/// assert_eq!(connect["requestContext"]["authorizer"]["plan"], "pro");
///
/// let message = WebSocketEvent::message("Bq7ZkfvLIAMCLbQ=", r#"{"action":"join"}"#).route_key("join");
/// assert_eq!(message.to_json()["body"], r#"{"action":"join"}"#);
///
/// let gone = WebSocketEvent::disconnect("Bq7ZkfvLIAMCLbQ=", 1001, "Going away").to_json();
/// assert_eq!(gone["requestContext"]["disconnectStatusCode"], 1001);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WebSocketEvent {
    kind: EventType,
    connection_id: String,
    route_key: String,
    body: Option<String>,
    base64: bool,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    authorizer: Option<Map<String, Value>>,
    disconnect: (u16, String),
    api_id: String,
    domain_name: Option<String>,
    stage: String,
    source_ip: String,
    user_agent: Option<String>,
    connected_at: i64,
    request_time_epoch: Option<i64>,
    request_id: Option<String>,
    message_id: Option<String>,
}

impl WebSocketEvent {
    fn new(kind: EventType, connection_id: &str, route_key: &str) -> WebSocketEvent {
        WebSocketEvent {
            kind,
            connection_id: connection_id.to_owned(),
            route_key: route_key.to_owned(),
            body: None,
            base64: false,
            headers: Vec::new(),
            query: Vec::new(),
            authorizer: None,
            disconnect: (1000, String::new()),
            api_id: API_ID.to_owned(),
            domain_name: None,
            stage: STAGE.to_owned(),
            source_ip: "203.0.113.7".to_owned(),
            user_agent: None,
            connected_at: CONNECTED_AT,
            request_time_epoch: None,
            request_id: None,
            message_id: None,
        }
    }

    /// `$connect` for the connection `connection_id`, with the headers every
    /// handshake through API Gateway has (`Host`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version`, `X-Forwarded-*`); add more with
    /// [`header`](Self::header).
    pub fn connect(connection_id: &str) -> WebSocketEvent {
        WebSocketEvent::new(EventType::Connect, connection_id, "$connect")
    }

    /// A text frame from `connection_id`, on `$default` unless
    /// [`route_key`](Self::route_key) says otherwise.
    pub fn message(connection_id: &str, body: impl Into<String>) -> WebSocketEvent {
        let mut event = WebSocketEvent::new(EventType::Message, connection_id, "$default");
        event.body = Some(body.into());
        event
    }

    /// A frame whose bytes API Gateway passed on base64-encoded
    /// (`isBase64Encoded: true`).
    pub fn binary_message(connection_id: &str, bytes: &[u8]) -> WebSocketEvent {
        let mut event = WebSocketEvent::message(
            connection_id,
            base64::engine::general_purpose::STANDARD.encode(bytes),
        );
        event.base64 = true;
        event
    }

    /// `$disconnect` of `connection_id`, closed with `code` and `reason` (1005 and
    /// "Client-side close frame status not set" when the client sent no code, 1006
    /// when it vanished).
    pub fn disconnect(connection_id: &str, code: u16, reason: &str) -> WebSocketEvent {
        let mut event = WebSocketEvent::new(EventType::Disconnect, connection_id, "$disconnect");
        event.disconnect = (code, reason.to_owned());
        event
    }

    /// The route key API Gateway matched.
    pub fn route_key(mut self, route_key: &str) -> WebSocketEvent {
        self.route_key = route_key.to_owned();
        self
    }

    /// A query parameter of the connect URL (repeat it for a list).
    pub fn query(mut self, name: &str, value: &str) -> WebSocketEvent {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A handshake header, as the client sent it (repeat it for several values).
    pub fn header(mut self, name: &str, value: &str) -> WebSocketEvent {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// What a Lambda authorizer returned (its `principalId` and `context` fields,
    /// flat, as API Gateway passes them on).
    ///
    /// # Panics
    /// When `context` is not a JSON object.
    pub fn authorizer(mut self, context: Value) -> WebSocketEvent {
        let Value::Object(fields) = context else {
            panic!("an authorizer's context is a JSON object, got {context}");
        };
        self.authorizer = Some(fields);
        self
    }

    /// The authorizer's fields this event carries, if any.
    pub(super) fn authorizer_fields(&self) -> Option<&Map<String, Value>> {
        self.authorizer.as_ref()
    }

    /// The client's address (`identity.sourceIp`).
    pub fn source_ip(mut self, ip: &str) -> WebSocketEvent {
        self.source_ip = ip.to_owned();
        self
    }

    /// The client's `User-Agent`.
    pub fn user_agent(mut self, agent: &str) -> WebSocketEvent {
        self.user_agent = Some(agent.to_owned());
        self
    }

    /// The API's id (default `abcdef1234`).
    pub fn api_id(mut self, api_id: &str) -> WebSocketEvent {
        self.api_id = api_id.to_owned();
        self
    }

    /// The domain the client connected to (default the API's
    /// `{api_id}.execute-api.us-east-1.amazonaws.com`).
    pub fn domain_name(mut self, domain: &str) -> WebSocketEvent {
        self.domain_name = Some(domain.to_owned());
        self
    }

    /// The stage (default `test`).
    pub fn stage(mut self, stage: &str) -> WebSocketEvent {
        self.stage = stage.to_owned();
        self
    }

    /// When the connection opened, in epoch milliseconds (default a fixed time).
    pub fn connected_at(mut self, millis: i64) -> WebSocketEvent {
        self.connected_at = millis;
        self
    }

    /// When API Gateway received the event, in epoch milliseconds (default the
    /// connection's time, plus a little for messages).
    pub fn request_time_epoch(mut self, millis: i64) -> WebSocketEvent {
        self.request_time_epoch = Some(millis);
        self
    }

    /// The event's `requestId` (and `extendedRequestId`).
    pub fn request_id(mut self, id: &str) -> WebSocketEvent {
        self.request_id = Some(id.to_owned());
        self
    }

    /// A message's `messageId`.
    pub fn message_id(mut self, id: &str) -> WebSocketEvent {
        self.message_id = Some(id.to_owned());
        self
    }

    /// The connection this event is about.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The event as API Gateway's JSON.
    pub fn to_json(&self) -> Value {
        let domain = self
            .domain_name
            .clone()
            .unwrap_or_else(|| format!("{}.execute-api.us-east-1.amazonaws.com", self.api_id));
        let epoch = self.request_time_epoch.unwrap_or(match self.kind {
            EventType::Connect => self.connected_at + 12,
            EventType::Message => self.connected_at + 3_207,
            EventType::Disconnect => self.connected_at + 60_000,
        });
        let request_id = self
            .request_id
            .clone()
            .unwrap_or_else(|| derived_id(&self.connection_id, epoch));
        let mut identity = Map::new();
        if let Some(agent) = &self.user_agent {
            identity.insert("userAgent".into(), json!(agent));
        }
        identity.insert("sourceIp".into(), json!(self.source_ip));
        let mut context = Map::new();
        context.insert("routeKey".into(), json!(self.route_key));
        match self.kind {
            EventType::Connect => {
                context.insert("disconnectStatusCode".into(), Value::Null);
                context.insert("messageId".into(), Value::Null);
            }
            EventType::Message => {
                let id = self
                    .message_id
                    .clone()
                    .unwrap_or_else(|| derived_id(&request_id, epoch + 1));
                context.insert("messageId".into(), json!(id));
            }
            EventType::Disconnect => {
                context.insert("disconnectStatusCode".into(), json!(self.disconnect.0));
            }
        }
        context.insert("eventType".into(), json!(self.kind.as_str()));
        context.insert("extendedRequestId".into(), json!(request_id));
        context.insert("requestTime".into(), json!(request_time(epoch)));
        context.insert("messageDirection".into(), json!("IN"));
        if self.kind == EventType::Disconnect {
            context.insert("disconnectReason".into(), json!(self.disconnect.1));
        }
        context.insert("stage".into(), json!(self.stage));
        context.insert("connectedAt".into(), json!(self.connected_at));
        context.insert("requestTimeEpoch".into(), json!(epoch));
        context.insert("identity".into(), Value::Object(identity));
        context.insert("requestId".into(), json!(request_id));
        context.insert("domainName".into(), json!(domain));
        context.insert("connectionId".into(), json!(self.connection_id));
        context.insert("apiId".into(), json!(self.api_id));
        if let Some(authorizer) = &self.authorizer {
            context.insert("authorizer".into(), Value::Object(authorizer.clone()));
        }

        let mut event = Map::new();
        match self.kind {
            EventType::Connect => {
                let mut headers = vec![
                    ("Host".to_owned(), domain.clone()),
                    (
                        "Sec-WebSocket-Key".to_owned(),
                        "dGhlIHNhbXBsZSBub25jZQ==".to_owned(),
                    ),
                    ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
                ];
                if let Some(agent) = &self.user_agent {
                    headers.push(("User-Agent".to_owned(), agent.clone()));
                }
                headers.extend([
                    ("X-Forwarded-For".to_owned(), self.source_ip.clone()),
                    ("X-Forwarded-Port".to_owned(), "443".to_owned()),
                    ("X-Forwarded-Proto".to_owned(), "https".to_owned()),
                ]);
                headers.extend(self.headers.iter().cloned());
                insert_pairs(&mut event, "headers", "multiValueHeaders", &headers);
                if !self.query.is_empty() {
                    insert_pairs(
                        &mut event,
                        "queryStringParameters",
                        "multiValueQueryStringParameters",
                        &self.query,
                    );
                }
            }
            EventType::Disconnect => {
                let placeholders: Vec<(String, String)> = [
                    ("Host", domain.as_str()),
                    ("x-api-key", ""),
                    ("X-Forwarded-For", ""),
                    ("x-restapi", ""),
                ]
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
                insert_pairs(&mut event, "headers", "multiValueHeaders", &placeholders);
            }
            EventType::Message => {}
        }
        event.insert("requestContext".into(), Value::Object(context));
        if let Some(body) = &self.body {
            event.insert("body".into(), json!(body));
        }
        event.insert("isBase64Encoded".into(), json!(self.base64));
        Value::Object(event)
    }

    /// The event as `aws_lambda_events`' type, for
    /// [`WebSocketAdapter::handle`](crate::websocket::WebSocketAdapter::handle).
    pub fn to_request(&self) -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(self.to_json()).expect("a built event reads as an event")
    }
}

/// The JSON text, as Lambda hands it to the function.
impl fmt::Display for WebSocketEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// An id shaped like API Gateway's (`Bq7ZkGZtIAMFr3g=`), the same for the same
/// inputs, so built events are reproducible.
fn derived_id(seed: &str, salt: i64) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (seed, salt).hash(&mut hasher);
    let bytes = hasher.finish().to_le_bytes();
    let mut id = [0u8; 11];
    id[..8].copy_from_slice(&bytes);
    id[8..].copy_from_slice(&bytes[..3]);
    base64::engine::general_purpose::STANDARD.encode(id)
}
