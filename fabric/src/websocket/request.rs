//! The WebSocket side of a [`Context`]: what API Gateway said about the event, and
//! what a service can do to connections.

use std::sync::{Arc, OnceLock};

use aws_lambda_events::query_map::QueryMap;
use futures_util::{StreamExt, stream};
use http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use super::endpoint::ManagementClients;
use super::management::{ConnectionInfo, MAX_MESSAGE_BYTES, ManagementApi, ManagementError};
use crate::store::{ConnectionStore, SharedStore};
use crate::{Error, MessageSink};

/// The kind of a WebSocket event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `$connect`: a client is opening a connection.
    Connect,
    /// A text frame from a client.
    Message,
    /// `$disconnect`: a connection closed.
    Disconnect,
}

impl EventType {
    /// The event type as API Gateway names it: `CONNECT`, `MESSAGE`, `DISCONNECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Connect => "CONNECT",
            EventType::Message => "MESSAGE",
            EventType::Disconnect => "DISCONNECT",
        }
    }
}

/// What a service sees of its WebSocket event, and the Management API calls it can
/// make: `ctx.websocket()`.
///
/// ```
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// struct Shout { text: String }
///
/// #[fabric_service]
/// async fn shout(input: Shout, ctx: Context) -> Result<(), Error> {
///     let ws = ctx.websocket().ok_or_else(|| Error::bad_request("WebSocket only"))?;
///     let everyone = vec!["a".to_string(), "b".to_string()];
///     let report = ws.broadcast(&everyone, &json!({"from": ws.connection_id(), "text": input.text})).await?;
///     tracing::info!(gone = report.gone().len(), "shouted");
///     Ok(())
/// }
/// ```
pub struct WebSocket {
    pub(crate) event_type: EventType,
    pub(crate) text: EventText,
    pub(crate) connected_at: i64,
    pub(crate) headers: HeaderMap,
    pub(crate) query: QueryMap,
    pub(crate) authorizer: Value,
    pub(crate) management: LazyManagement,
    pub(crate) broadcast_concurrency: usize,
    pub(crate) store: Option<SharedStore>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("event_type", &self.event_type)
            .field("route_key", &self.route_key())
            .field("connection_id", &self.connection_id())
            .field("request_id", &self.request_id())
            .field("stage", &self.stage())
            .field("domain_name", &self.domain_name())
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// `CONNECT`, `MESSAGE` or `DISCONNECT`.
    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The route key API Gateway matched: `$connect`, `$default`, `join`, ...
    pub fn route_key(&self) -> &str {
        self.text.get(TextField::RouteKey).unwrap_or_default()
    }

    /// The caller's connection id.
    pub fn connection_id(&self) -> &str {
        self.text.get(TextField::ConnectionId).unwrap_or_default()
    }

    /// API Gateway's id for this event.
    pub fn request_id(&self) -> &str {
        self.text.get(TextField::RequestId).unwrap_or_default()
    }

    /// The API's stage (`production`, `local`).
    pub fn stage(&self) -> &str {
        self.text.get(TextField::Stage).unwrap_or_default()
    }

    /// The domain the client connected to.
    pub fn domain_name(&self) -> &str {
        self.text.get(TextField::DomainName).unwrap_or_default()
    }

    /// The API's id.
    pub fn api_id(&self) -> &str {
        self.text.get(TextField::ApiId).unwrap_or_default()
    }

    /// The client's IP address.
    pub fn source_ip(&self) -> Option<&str> {
        self.text.get(TextField::SourceIp)
    }

    /// The client's `User-Agent`.
    pub fn user_agent(&self) -> Option<&str> {
        self.text.get(TextField::UserAgent)
    }

    /// When the connection opened, in epoch milliseconds.
    pub fn connected_at(&self) -> i64 {
        self.connected_at
    }

    /// The handshake's headers (on `$connect`; API Gateway sends placeholders later).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One handshake header, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The connect URL's query parameters, in no particular order (on `$connect`).
    pub fn query_params(&self) -> Vec<(&str, &str)> {
        self.query.iter().collect()
    }

    /// One query parameter of the connect URL (the first, if repeated).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.first(name)
    }

    /// The subprotocols the client offered in `Sec-WebSocket-Protocol`.
    pub fn requested_protocols(&self) -> Vec<&str> {
        self.headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// What a Lambda authorizer returned as context (`null` without one).
    pub fn authorizer(&self) -> &Value {
        &self.authorizer
    }

    /// Sends `message` as JSON to the connection `connection_id`. A gone
    /// connection (410) is also deleted from the connection store.
    pub async fn send_to(&self, connection_id: &str, message: impl Serialize) -> Result<(), Error> {
        let text = encode(&message)?;
        self.post(connection_id, text.as_bytes())
            .await
            .map_err(Error::from)
    }

    /// Sends `message` to every connection in `connection_ids` (each once), at most
    /// [`broadcast_concurrency`](super::WebSocketAdapter::broadcast_concurrency) at a
    /// time, and reports what happened to each. Connections found gone are deleted
    /// from the connection store. Fails only when the message cannot be sent at all
    /// (not JSON, over 128 KB).
    pub async fn broadcast<I>(
        &self,
        connection_ids: I,
        message: impl Serialize,
    ) -> Result<BroadcastReport, Error>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let text = encode(&message)?;
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<String> = connection_ids
            .into_iter()
            .map(|id| id.as_ref().to_owned())
            .filter(|id| seen.insert(id.clone()))
            .collect();
        let data: Arc<[u8]> = text.into_bytes().into();
        let metrics = crate::metrics::current();
        metrics.add("BroadcastSize", ids.len() as f64);
        // Each post is its own task, so a broadcast's SDK work (signing, request
        // building) spreads over every worker thread instead of the caller's one.
        let mut deliveries: Vec<(usize, Delivery)> =
            stream::iter(ids.clone().into_iter().enumerate())
                .map(|(index, id)| {
                    let (management, store) = (self.management().clone(), self.store.clone());
                    let data = data.clone();
                    let post = tokio::spawn(async move {
                        post_pruning(management.as_ref(), store.as_deref(), &id, &data).await
                    });
                    let metrics = metrics.clone();
                    async move {
                        let posted = post.await;
                        if let Ok(posted) = &posted {
                            count_post(&metrics, posted);
                        }
                        let delivery = match posted {
                            Ok(Ok(())) => Delivery::Delivered,
                            Ok(Err(ManagementError::Gone)) => Delivery::Gone,
                            Ok(Err(err)) => Delivery::Failed(err.to_string()),
                            Err(err) => Delivery::Failed(format!("the post failed: {err}")),
                        };
                        (index, delivery)
                    }
                })
                .buffer_unordered(self.broadcast_concurrency.max(1))
                .collect()
                .await;
        deliveries.sort_unstable_by_key(|(index, _)| *index);
        Ok(BroadcastReport {
            outcomes: ids
                .into_iter()
                .zip(deliveries)
                .map(|(id, (_, delivery))| (id, delivery))
                .collect(),
        })
    }

    /// One post, pruning a gone connection (see [`post_pruning`]).
    pub(crate) async fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> Result<(), ManagementError> {
        let posted = post_pruning(
            self.management().as_ref(),
            self.store.as_deref(),
            connection_id,
            data,
        )
        .await;
        crate::metrics::with_current(|metrics| count_post(metrics, &posted));
        posted
    }

    /// Closes the connection `connection_id`.
    pub async fn disconnect(&self, connection_id: &str) -> Result<(), Error> {
        self.management()
            .delete(connection_id)
            .await
            .map_err(Error::from)
    }

    /// What API Gateway knows about the connection `connection_id`.
    pub async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, Error> {
        self.management()
            .get(connection_id)
            .await
            .map_err(Error::from)
    }

    /// The Management API client this event uses, found (and on the first call in
    /// a process, built) at its first use.
    pub fn management(&self) -> &Arc<dyn ManagementApi> {
        self.management
            .api
            .get_or_init(|| match &self.management.clients {
                Some(clients) => clients
                    .for_event(self.domain_name(), self.stage(), self.api_id())
                    .unwrap_or_else(|err| Arc::new(Unconfigured(err.detail().to_owned()))),
                None => Arc::new(Unconfigured("no Management API is configured".to_owned())),
            })
    }
}

/// An event's text fields, one per [`TextField`].
pub(crate) type EventFields<'a> = [Option<&'a str>; TEXT_FIELDS];

/// The text fields of a [`WebSocket`], in the order [`EventFields`] lists them.
#[derive(Clone, Copy)]
pub(crate) enum TextField {
    RouteKey,
    ConnectionId,
    RequestId,
    Stage,
    DomainName,
    ApiId,
    SourceIp,
    UserAgent,
}

const TEXT_FIELDS: usize = TextField::UserAgent as usize + 1;

/// An event's text fields in one buffer: one allocation per event, where a
/// `String` per field was eight, each copied out of the event's text.
pub(crate) struct EventText {
    text: String,
    /// Where each field ends in `text` (it starts where the one before ends).
    ends: [u32; TEXT_FIELDS],
    /// A bit per field that was present, so an absent one reads as `None`.
    present: u16,
}

impl EventText {
    pub(crate) fn new(fields: EventFields<'_>) -> EventText {
        let length = fields.iter().flatten().map(|field| field.len()).sum();
        let mut text = String::with_capacity(length);
        let mut ends = [0; TEXT_FIELDS];
        let mut present = 0;
        for (index, field) in fields.iter().enumerate() {
            if let Some(field) = field {
                text.push_str(field);
                present |= 1 << index;
            }
            // An event's fields are far under 4 GiB: Lambda's payload limit is 6 MB.
            ends[index] = u32::try_from(text.len()).expect("event text under 4 GiB");
        }
        EventText {
            text,
            ends,
            present,
        }
    }

    pub(crate) fn get(&self, field: TextField) -> Option<&str> {
        let index = field as usize;
        if self.present & (1 << index) == 0 {
            return None;
        }
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        Some(&self.text[start as usize..self.ends[index] as usize])
    }
}

/// An event's Management API client, looked up at its first use: an event that
/// posts nothing (most `$connect`s, every `$disconnect`) neither works out its
/// endpoint nor builds an SDK client, which on a cold start is the TLS roots'
/// parsing and the SDK's configuration.
pub(crate) struct LazyManagement {
    clients: Option<ManagementClients>,
    api: OnceLock<Arc<dyn ManagementApi>>,
}

impl LazyManagement {
    /// The client `clients` gives for the event's endpoint, when first asked.
    pub(crate) fn lazy(clients: ManagementClients) -> LazyManagement {
        LazyManagement {
            clients: Some(clients),
            api: OnceLock::new(),
        }
    }

    /// Always `api`.
    pub(crate) fn ready(api: Arc<dyn ManagementApi>) -> LazyManagement {
        LazyManagement {
            clients: None,
            api: OnceLock::from(api),
        }
    }
}

/// The Management API of an event whose endpoint cannot be worked out: every call
/// fails with the reason, which reaches the logs and the service's errors.
struct Unconfigured(String);

#[async_trait::async_trait]
impl ManagementApi for Unconfigured {
    async fn post(&self, _id: &str, _data: &[u8]) -> Result<(), ManagementError> {
        Err(ManagementError::Other(self.0.clone()))
    }
    async fn get(&self, _id: &str) -> Result<ConnectionInfo, ManagementError> {
        Err(ManagementError::Other(self.0.clone()))
    }
    async fn delete(&self, _id: &str) -> Result<(), ManagementError> {
        Err(ManagementError::Other(self.0.clone()))
    }
}

/// `send_message` posts to the caller's own connection.
#[async_trait::async_trait]
impl MessageSink for WebSocket {
    async fn send(&self, message: String) -> Result<(), Error> {
        check_size(message.len())?;
        self.post(self.connection_id(), message.as_bytes())
            .await
            .map_err(Error::from)
    }
}

/// A post's outcome in the invocation's metrics.
fn count_post(metrics: &crate::metrics::Metrics, posted: &Result<(), ManagementError>) {
    use crate::metrics::Count;
    match posted {
        Ok(()) => metrics.count(Count::MessagesPosted),
        Err(ManagementError::Gone) => metrics.count(Count::PostsGone),
        Err(ManagementError::Throttled(_)) => metrics.count(Count::PostsThrottled),
        Err(_) => metrics.count(Count::PostsFailed),
    }
}

/// One post; a gone connection is deleted from the store on the way. A store
/// failure is logged, not raised: the post's own outcome is what the caller asked
/// about.
async fn post_pruning(
    management: &dyn ManagementApi,
    store: Option<&dyn ConnectionStore>,
    connection_id: &str,
    data: &[u8],
) -> Result<(), ManagementError> {
    let posted = management.post(connection_id, data).await;
    if let (Err(ManagementError::Gone), Some(store)) = (&posted, store) {
        if let Err(err) = store.delete(connection_id).await {
            tracing::warn!(connection_id, error = %err, "could not forget a gone connection");
        }
    }
    posted
}

/// A message as JSON text, refused before calling AWS when over 128 KB.
fn encode(message: &impl Serialize) -> Result<String, Error> {
    let text = serde_json::to_string(message).map_err(Error::internal)?;
    check_size(text.len())?;
    Ok(text)
}

fn check_size(bytes: usize) -> Result<(), Error> {
    if bytes > MAX_MESSAGE_BYTES {
        return Err(ManagementError::PayloadTooLarge(bytes).into());
    }
    Ok(())
}

/// What happened to one connection in a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// API Gateway accepted the message.
    Delivered,
    /// The connection is closed; forget it.
    Gone,
    /// Anything else, with the reason.
    Failed(String),
}

/// The outcome of a broadcast, per connection, in the order the ids were given
/// (duplicates removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Each connection id and what happened to it.
    pub outcomes: Vec<(String, Delivery)>,
}

impl BroadcastReport {
    /// The connections that received the message.
    pub fn delivered(&self) -> Vec<&str> {
        self.matching(|d| matches!(d, Delivery::Delivered))
    }

    /// The connections that are gone, for pruning.
    pub fn gone(&self) -> Vec<&str> {
        self.matching(|d| matches!(d, Delivery::Gone))
    }

    /// The connections that failed for another reason, with the reason.
    pub fn failed(&self) -> Vec<(&str, &str)> {
        self.outcomes
            .iter()
            .filter_map(|(id, d)| match d {
                Delivery::Failed(reason) => Some((id.as_str(), reason.as_str())),
                _ => None,
            })
            .collect()
    }

    fn matching(&self, wanted: impl Fn(&Delivery) -> bool) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|(_, d)| wanted(d))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::EndpointRules;

    fn event_from(domain_name: &str, management: LazyManagement) -> WebSocket {
        WebSocket {
            event_type: EventType::Message,
            text: EventText::new([
                Some("$default"),
                Some("c1"),
                Some("r1"),
                Some("prod"),
                Some(domain_name),
                None,
                None,
                None,
            ]),
            connected_at: 0,
            headers: HeaderMap::new(),
            query: QueryMap::default(),
            authorizer: Value::Null,
            management,
            broadcast_concurrency: 1,
            store: None,
        }
    }

    /// Each field reads back as given, an empty one as empty and an absent one as
    /// absent, wherever it sits among the others.
    #[test]
    fn event_text_keeps_each_field_apart() {
        let text = EventText::new([
            Some("$default"),
            None,
            Some(""),
            Some("prod"),
            Some("é.example.com"),
            Some("api"),
            None,
            Some("agent/1"),
        ]);
        assert_eq!(text.get(TextField::RouteKey), Some("$default"));
        assert_eq!(text.get(TextField::ConnectionId), None);
        assert_eq!(text.get(TextField::RequestId), Some(""));
        assert_eq!(text.get(TextField::Stage), Some("prod"));
        assert_eq!(text.get(TextField::DomainName), Some("é.example.com"));
        assert_eq!(text.get(TextField::ApiId), Some("api"));
        assert_eq!(text.get(TextField::SourceIp), None);
        assert_eq!(text.get(TextField::UserAgent), Some("agent/1"));
        let ws = event_from(
            "d",
            LazyManagement::ready(Arc::new(Unconfigured(String::new()))),
        );
        assert_eq!(
            (ws.connection_id(), ws.api_id(), ws.source_ip()),
            ("c1", "", None)
        );
    }

    /// The endpoint is worked out at the first post: an event from a custom domain
    /// with no region is handled, and only its posts fail, naming the fix.
    #[tokio::test]
    async fn the_endpoint_is_resolved_at_the_first_post() {
        let clients = ManagementClients::new(EndpointRules::default());
        let ws = event_from("chat.example.com", LazyManagement::lazy(clients));
        assert!(
            ws.management.api.get().is_none(),
            "nothing resolved before a post"
        );
        let err = ws.send_to("c2", "hi").await.unwrap_err();
        assert!(
            err.detail().contains("FABRIC_MANAGEMENT_ENDPOINT"),
            "{}",
            err.detail()
        );
        assert!(ws.management.api.get().is_some());
    }
}
