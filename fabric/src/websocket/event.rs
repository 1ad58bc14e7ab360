//! A WebSocket event as the adapter uses it. Lambda's event text is read straight
//! into this: `aws_lambda_events`' type reads every field into owned strings and
//! maps, while the adapter needs a dozen of them, and reading the event that way
//! cost half of a whole message event. Events built in code (`handle`, the tower
//! service, the local gateway) arrive as `ApiGatewayWebsocketProxyRequest` and
//! convert, so both reach the same code path. Its text is borrowed from the event
//! where it has no escapes, so reading it copies nothing.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::query_map::QueryMap;
use http::HeaderMap;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::request::EventType;
pub(super) use crate::lambda_json::Text;

/// The parts of an API Gateway WebSocket event the adapter reads; the rest of the
/// text is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IncomingEvent<'a> {
    #[serde(default, deserialize_with = "crate::lambda_json::header_map")]
    pub headers: HeaderMap,
    #[serde(
        default,
        deserialize_with = "aws_lambda_events::query_map::serde::standard::deserialize_empty"
    )]
    pub query_string_parameters: QueryMap,
    #[serde(borrow)]
    pub request_context: IncomingContext<'a>,
    #[serde(default, borrow)]
    pub body: Option<Text<'a>>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub is_base64_encoded: bool,
}

/// Every field may be missing; the optional ones may also be null.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct IncomingContext<'a> {
    #[serde(borrow)]
    pub route_key: Option<Text<'a>>,
    pub event_type: Option<WireEventType>,
    #[serde(borrow)]
    pub connection_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub request_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub stage: Option<Text<'a>>,
    #[serde(borrow)]
    pub domain_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub api_id: Option<Text<'a>>,
    pub connected_at: i64,
    #[serde(borrow)]
    pub identity: Option<Identity<'a>>,
    /// A WebSocket authorizer's context arrives as flat fields.
    pub authorizer: Option<Map<String, Value>>,
    pub disconnect_status_code: Option<i64>,
    #[serde(borrow)]
    pub disconnect_reason: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Identity<'a> {
    #[serde(borrow)]
    pub source_ip: Option<Text<'a>>,
    #[serde(borrow)]
    pub user_agent: Option<Text<'a>>,
}

/// The text of an optional field, for the event's [`EventText`](super::request::EventText).
pub(super) fn text<'t>(field: &'t Option<Text<'_>>) -> Option<&'t str> {
    field.as_deref()
}

/// `eventType` as sent; read without allocating.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum WireEventType {
    Connect,
    Message,
    Disconnect,
    #[serde(other)]
    Other,
}

impl IncomingContext<'_> {
    /// The kind of event: by route key first, then by `eventType`.
    pub(super) fn kind(&self) -> EventType {
        match (text(&self.route_key), self.event_type) {
            (Some("$connect"), _) | (_, Some(WireEventType::Connect)) => EventType::Connect,
            (Some("$disconnect"), _) | (_, Some(WireEventType::Disconnect)) => {
                EventType::Disconnect
            }
            _ => EventType::Message,
        }
    }
}

fn null_as_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or_default())
}

impl From<ApiGatewayWebsocketProxyRequest> for IncomingEvent<'static> {
    fn from(event: ApiGatewayWebsocketProxyRequest) -> IncomingEvent<'static> {
        let context = event.request_context;
        let event_type = context.event_type.as_deref().map(|kind| match kind {
            "CONNECT" => WireEventType::Connect,
            "MESSAGE" => WireEventType::Message,
            "DISCONNECT" => WireEventType::Disconnect,
            _ => WireEventType::Other,
        });
        let authorizer = context.authorizer.fields;
        IncomingEvent {
            headers: event.headers,
            query_string_parameters: event.query_string_parameters,
            request_context: IncomingContext {
                route_key: context.route_key.map(Text::from),
                event_type,
                connection_id: context.connection_id.map(Text::from),
                request_id: context.request_id.map(Text::from),
                stage: context.stage.map(Text::from),
                domain_name: context.domain_name.map(Text::from),
                api_id: context.apiid.map(Text::from),
                connected_at: context.connected_at,
                identity: Some(Identity {
                    source_ip: context.identity.source_ip.map(Text::from),
                    user_agent: context.identity.user_agent.map(Text::from),
                }),
                authorizer: (!authorizer.is_empty()).then(|| authorizer.into_iter().collect()),
                disconnect_status_code: context.disconnect_status_code,
                disconnect_reason: context.disconnect_reason.map(Text::from),
            },
            body: event.body.map(Text::from),
            is_base64_encoded: event.is_base64_encoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways in read the same fixture the same way.
    #[test]
    fn text_and_typed_events_agree() {
        let text = include_str!("../../../tests/fixtures/apigw/websocket-connect.json");
        let typed: ApiGatewayWebsocketProxyRequest = serde_json::from_str(text).unwrap();
        let direct: IncomingEvent = serde_json::from_str(text).unwrap();
        let converted = IncomingEvent::from(typed);
        for event in [&direct, &converted] {
            let context = &event.request_context;
            assert_eq!(context.kind(), EventType::Connect);
            assert!(context.connection_id.is_some());
            assert!(context.connected_at > 0);
            assert!(!event.headers.is_empty());
        }
        assert_eq!(direct.headers, converted.headers);
        assert_eq!(
            direct.query_string_parameters,
            converted.query_string_parameters
        );
        let (a, b) = (&direct.request_context, &converted.request_context);
        assert_eq!(a.route_key, b.route_key);
        assert_eq!(a.connection_id, b.connection_id);
        assert_eq!(a.request_id, b.request_id);
        assert_eq!(a.stage, b.stage);
        assert_eq!(a.domain_name, b.domain_name);
        assert_eq!(a.api_id, b.api_id);
        assert_eq!(a.connected_at, b.connected_at);
        assert_eq!(a.authorizer, b.authorizer);
        let (ia, ib) = (a.identity.as_ref().unwrap(), b.identity.as_ref().unwrap());
        assert_eq!(ia.source_ip, ib.source_ip);
        assert_eq!(ia.user_agent, ib.user_agent);
    }

    #[test]
    fn an_unknown_event_type_is_a_message_and_nulls_are_absent() {
        let event: IncomingEvent = serde_json::from_str(
            r#"{"requestContext": {"eventType": "PING", "identity": null,
                "authorizer": null, "messageId": null}, "headers": null,
                "queryStringParameters": null, "isBase64Encoded": null}"#,
        )
        .unwrap();
        assert_eq!(event.request_context.kind(), EventType::Message);
        assert!(!event.is_base64_encoded);
        assert!(event.headers.is_empty());
    }
}
