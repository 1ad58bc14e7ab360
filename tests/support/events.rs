//! API Gateway WebSocket events built from the real fixtures, and readers for the
//! adapter's answers.

use fabric::ErrorEnvelope;
use fabric::websocket::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, Body};
use serde_json::{Value, json};

/// A response's body as JSON (`null` when there is none).
pub(crate) fn body_of(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
        None => Value::Null,
        other => panic!("unexpected body {other:?}"),
    }
}

/// `text` read as an error envelope.
pub(crate) fn envelope(text: &str) -> ErrorEnvelope {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not an error envelope: {text}: {err}"))
}

fn fixture_event(name: &str, connection: &str) -> Value {
    let mut event: Value = serde_json::from_str(&super::fixture(name)).unwrap();
    event["requestContext"]["connectionId"] = json!(connection);
    event
}

/// A MESSAGE event on `connection` with `body`, from the real message fixture.
pub(crate) fn message(
    connection: &str,
    route_key: &str,
    body: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture_event("apigw/websocket-message.json", connection);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["body"] = json!(body);
    serde_json::from_value(event).unwrap()
}

/// A CONNECT event on `connection` with `query`, from the real connect fixture,
/// connected now (the fixture's own time is long past any connection's expiry).
pub(crate) fn connect(connection: &str, query: Value) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture_event("apigw/websocket-connect.json", connection);
    event["queryStringParameters"] = query;
    event["requestContext"]["connectedAt"] = json!(chrono::Utc::now().timestamp_millis());
    serde_json::from_value(event).unwrap()
}

/// A DISCONNECT event on `connection`, from the real disconnect fixture.
pub(crate) fn disconnect(connection: &str) -> ApiGatewayWebsocketProxyRequest {
    let event = fixture_event(
        "apigw/example-apigw-websocket-request-disconnect-route.json",
        connection,
    );
    serde_json::from_value(event).unwrap()
}
