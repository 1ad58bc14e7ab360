//! The events the gateway invokes the adapter with, shaped as API Gateway sends them
//! (`docs/ARCHITECTURE.md` §5 and the fixtures in `tests/fixtures/apigw/`).

use aws_lambda_events::apigw::{ApiGatewayRequestIdentity, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::query_map::QueryMap;
use chrono::{DateTime, Utc};
use http::header::{CONNECTION, HOST, UPGRADE, USER_AGENT};
use http::{HeaderMap, HeaderValue};

use super::connections::{Connection, new_id, now_millis};

/// What every event of one gateway shares.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    /// `127.0.0.1:{port}`: the adapter derives the Management API endpoint from it.
    pub domain_name: String,
    pub stage: String,
    pub api_id: String,
}

impl Api {
    /// An event of `event_type` on `connection`, with the fields every event has.
    fn event(
        &self,
        connection: &Connection,
        route_key: &str,
        event_type: &str,
    ) -> Box<ApiGatewayWebsocketProxyRequest> {
        let now = now_millis();
        let request_id = new_id();
        let mut identity = ApiGatewayRequestIdentity::default();
        identity.source_ip = Some(connection.source_ip.clone());
        identity.user_agent = connection.user_agent.clone();

        // Boxed from the start: the event is over a kilobyte, and it travels through
        // a task spawn and the adapter's futures.
        let mut event = Box::<ApiGatewayWebsocketProxyRequest>::default();
        let context = &mut event.request_context;
        context.route_key = Some(route_key.to_owned());
        context.event_type = Some(event_type.to_owned());
        context.message_direction = Some("IN".to_owned());
        context.extended_request_id = Some(request_id.clone());
        context.request_id = Some(request_id);
        context.request_time = Some(request_time(now));
        context.request_time_epoch = now;
        context.connected_at = connection.connected_at;
        context.connection_id = Some(connection.id.to_string());
        context.domain_name = Some(self.domain_name.clone());
        context.stage = Some(self.stage.clone());
        context.apiid = Some(self.api_id.clone());
        context.identity = identity;
        if let Some(fields) = connection.authorizer() {
            context.authorizer.fields = fields.clone();
        }
        event
    }

    /// The `methodArn` an authorizer sees for this API's `$connect`.
    pub(super) fn connect_arn(&self) -> String {
        format!(
            "arn:aws:execute-api:local:000000000000:{}/{}/$connect",
            self.api_id, self.stage
        )
    }

    /// `$connect`: the handshake's headers (as API Gateway forwards them, with
    /// `X-Forwarded-*` added and the hop-by-hop ones dropped), and the query string
    /// when there was one. `messageId` is null.
    pub(super) fn connect(
        &self,
        connection: &Connection,
        mut headers: HeaderMap,
        query: Option<&str>,
        port: u16,
    ) -> Box<ApiGatewayWebsocketProxyRequest> {
        let mut event = self.event(connection, "$connect", "CONNECT");
        headers.remove(CONNECTION);
        headers.remove(UPGRADE);
        let forwarded = [
            ("x-forwarded-for", connection.source_ip.clone()),
            ("x-forwarded-port", port.to_string()),
            ("x-forwarded-proto", "http".to_owned()),
        ];
        for (name, value) in forwarded {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            let mut params = std::collections::HashMap::<String, Vec<String>>::new();
            for (name, value) in form_urlencoded::parse(query.as_bytes()) {
                params
                    .entry(name.into_owned())
                    .or_default()
                    .push(value.into_owned());
            }
            let params = QueryMap::from(params);
            event.multi_value_query_string_parameters = params.clone();
            event.query_string_parameters = params;
        }
        event.multi_value_headers = headers.clone();
        event.headers = headers;
        event
    }

    /// A text frame, routed to `route_key`.
    pub(super) fn message(
        &self,
        connection: &Connection,
        route_key: &str,
        body: String,
    ) -> Box<ApiGatewayWebsocketProxyRequest> {
        let mut event = self.event(connection, route_key, "MESSAGE");
        event.request_context.message_id = Some(new_id());
        event.body = Some(body);
        event
    }

    /// `$disconnect`, with the close code and reason, and the placeholder headers
    /// API Gateway sends (the handshake's are gone by then).
    pub(super) fn disconnect(
        &self,
        connection: &Connection,
        status_code: u16,
        reason: &str,
    ) -> Box<ApiGatewayWebsocketProxyRequest> {
        let mut event = self.event(connection, "$disconnect", "DISCONNECT");
        event.request_context.disconnect_status_code = Some(i64::from(status_code));
        event.request_context.disconnect_reason = Some(reason.to_owned());
        let mut headers = HeaderMap::new();
        if let Ok(host) = HeaderValue::from_str(&self.domain_name) {
            headers.insert(HOST, host);
        }
        for name in ["x-api-key", "x-forwarded-for", "x-restapi"] {
            headers.insert(name, HeaderValue::from_static(""));
        }
        if let Some(agent) = connection
            .user_agent
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(USER_AGENT, agent);
        }
        event.multi_value_headers = headers.clone();
        event.headers = headers;
        event
    }
}

/// An event as API Gateway's JSON, for `--verbose`. `aws_lambda_events` writes
/// `queryStringParameters` as lists and always writes the query maps; API Gateway
/// writes single values, and no query maps without a query.
pub(crate) fn to_json(event: &ApiGatewayWebsocketProxyRequest) -> String {
    let mut json = serde_json::to_value(event).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        if event.query_string_parameters.is_empty() {
            object.remove("queryStringParameters");
            object.remove("multiValueQueryStringParameters");
        } else {
            let single: serde_json::Map<String, serde_json::Value> = event
                .query_string_parameters
                .iter()
                .map(|(name, value)| (name.to_owned(), value.into()))
                .collect();
            object.insert("queryStringParameters".into(), single.into());
        }
    }
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

/// `22/Nov/2026:01:20:00 +0000`, API Gateway's `requestTime`. Formatted once a
/// second per thread: every event needs it.
fn request_time(millis: i64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let second = millis.div_euclid(1000);
    LAST.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            *cached = second;
            *text = DateTime::<Utc>::from_timestamp_millis(millis)
                .unwrap_or_default()
                .format("%d/%b/%Y:%H:%M:%S +0000")
                .to_string();
        }
        text.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::super::connections::Registry;
    use super::*;
    use serde_json::{Value, json};

    fn api() -> Api {
        Api {
            domain_name: "127.0.0.1:3001".into(),
            stage: "local".into(),
            api_id: "local".into(),
        }
    }

    #[test]
    fn connect_events_carry_what_api_gateway_sends() {
        let registry = Registry::default();
        let (connection, _rx) = registry.register("127.0.0.1".into(), Some("wscat".into()));
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:3001"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("user-agent", HeaderValue::from_static("wscat"));
        let event = api().connect(&connection, headers, Some("token=a%20b&x=1&x=2"), 3001);
        let json: Value = serde_json::from_str(&to_json(&event)).unwrap();
        let context = &json["requestContext"];
        assert_eq!(context["routeKey"], "$connect");
        assert_eq!(context["eventType"], "CONNECT");
        assert_eq!(context["messageId"], Value::Null);
        assert!(context["connectedAt"].is_i64());
        assert!(context["requestTimeEpoch"].is_i64());
        assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["identity"]["userAgent"], "wscat");
        assert_eq!(context["connectionId"], json!(&*connection.id));
        assert_eq!(json["queryStringParameters"]["token"], "a b");
        assert_eq!(
            json["multiValueQueryStringParameters"]["x"],
            json!(["1", "2"])
        );
        assert_eq!(json["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(json["multiValueHeaders"]["user-agent"], json!(["wscat"]));
        assert!(json["headers"].get("upgrade").is_none());

        let no_query = api().connect(&connection, HeaderMap::new(), None, 3001);
        let json: Value = serde_json::from_str(&to_json(&no_query)).unwrap();
        assert!(json.get("queryStringParameters").is_none());
    }

    #[test]
    fn message_and_disconnect_events_carry_their_own_fields() {
        let registry = Registry::default();
        let (connection, _rx) = registry.register("127.0.0.1".into(), None);
        let message =
            serde_json::to_value(api().message(&connection, "join", "{}".into())).unwrap();
        assert_eq!(message["requestContext"]["routeKey"], "join");
        assert_eq!(message["requestContext"]["eventType"], "MESSAGE");
        assert!(message["requestContext"]["messageId"].is_string());
        assert_eq!(message["body"], "{}");

        let gone = serde_json::to_value(api().disconnect(&connection, 1001, "Going away")).unwrap();
        assert_eq!(gone["requestContext"]["disconnectStatusCode"], 1001);
        assert_eq!(gone["requestContext"]["disconnectReason"], "Going away");
        assert_eq!(gone["headers"]["host"], "127.0.0.1:3001");
        assert_eq!(
            request_time(1_795_310_400_000),
            "22/Nov/2026:01:20:00 +0000"
        );
    }
}
