//! The API Gateway Management API: post to, look up and close connections.
//!
//! [`ManagementApi`] is the seam; [`SdkManagementApi`] is the real client
//! (`aws-sdk-apigatewaymanagement`), and [`ManagementClients`] creates one per
//! endpoint, once per process, choosing the endpoint the way API Gateway needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The largest message API Gateway delivers: 128 KB.
pub const MAX_MESSAGE_BYTES: usize = 131_072;

/// What the Management API knows about a live connection (`GET @connections/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// When the connection was opened.
    pub connected_at: DateTime<Utc>,
    /// When the connection last sent or received a message.
    pub last_active_at: DateTime<Utc>,
    /// The client's IP address.
    pub source_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// Why a Management API call failed.
///
/// ```
/// use fabric::websocket::ManagementError;
/// let gone = ManagementError::Gone;
/// assert!(gone.is_gone());
/// assert_eq!(fabric::Error::from(gone).status(), 410);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManagementError {
    /// 410: the connection is closed (or still inside `$connect`).
    #[error("the connection is gone")]
    Gone,
    /// 403: the caller may not manage this API's connections.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 413: the message is over 128 KB.
    #[error("the message is {0} bytes, over the 131072-byte limit")]
    PayloadTooLarge(usize),
    /// 429: throttled, after retries.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Anything else: network failures, 5xx answers, configuration.
    #[error("{0}")]
    Other(String),
}

impl ManagementError {
    /// Whether the connection is gone and should be forgotten.
    pub fn is_gone(&self) -> bool {
        matches!(self, ManagementError::Gone)
    }
}

impl From<ManagementError> for Error {
    fn from(err: ManagementError) -> Error {
        let detail = err.to_string();
        match err {
            ManagementError::Gone => Error::gone(detail),
            ManagementError::Forbidden(_) => Error::forbidden(detail),
            ManagementError::PayloadTooLarge(_) => Error::payload_too_large(detail),
            ManagementError::Throttled(_) => Error::too_many_requests(detail),
            ManagementError::Other(_) => Error::bad_gateway(detail),
        }
    }
}

/// Posts to, looks up and closes WebSocket connections.
///
/// Implemented by the real SDK client; implement it yourself to send through
/// something else (a test double for a fault you cannot otherwise produce, a queue).
///
/// ```
/// use async_trait::async_trait;
/// use fabric::websocket::{ConnectionInfo, ManagementApi, ManagementError};
///
/// /// Drops every message; for benchmarks.
/// struct Discard;
///
/// #[async_trait]
/// impl ManagementApi for Discard {
///     async fn post(&self, _id: &str, _data: &[u8]) -> Result<(), ManagementError> { Ok(()) }
///     async fn get(&self, _id: &str) -> Result<ConnectionInfo, ManagementError> {
///         Err(ManagementError::Gone)
///     }
///     async fn delete(&self, _id: &str) -> Result<(), ManagementError> { Ok(()) }
/// }
/// ```
#[async_trait]
pub trait ManagementApi: Send + Sync + 'static {
    /// `POST @connections/{id}`: sends `data` as one text message.
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), ManagementError>;
    /// `GET @connections/{id}`.
    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError>;
    /// `DELETE @connections/{id}`: closes the connection.
    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError>;
}

/// Where the Management API of an event's API lives, by the rules API Gateway
/// imposes:
///
/// 1. an explicit endpoint (`WebSocketAdapter::management_endpoint` or the
///    `FABRIC_MANAGEMENT_ENDPOINT` variable);
/// 2. the standard `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`, then `AWS_ENDPOINT_URL`;
/// 3. `https://{domainName}/{stage}` for `*.execute-api.*` domains;
/// 4. `http://{domainName}/{stage}` for loopback domains (the local gateway);
/// 5. for a custom domain, `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`:
///    a custom domain's path is its API mapping, not the stage, so posting through it
///    fails; the API's own domain always works.
///
/// ```
/// use fabric::websocket::EndpointRules;
///
/// let rules = EndpointRules::default();
/// assert_eq!(
///     rules.resolve("abc123.execute-api.eu-west-1.amazonaws.com", "prod", "abc123").unwrap(),
///     "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
/// );
/// assert_eq!(rules.resolve("127.0.0.1:3001", "local", "local").unwrap(), "http://127.0.0.1:3001/local");
///
/// let custom = EndpointRules { region: Some("eu-west-1".into()), ..EndpointRules::default() };
/// assert_eq!(
///     custom.resolve("chat.example.com", "prod", "abc123").unwrap(),
///     "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
/// );
///
/// let explicit = EndpointRules { explicit: Some("https://gw.example.com/v1".into()), ..EndpointRules::default() };
/// assert_eq!(explicit.resolve("chat.example.com", "prod", "abc123").unwrap(), "https://gw.example.com/v1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRules {
    /// An explicit endpoint, used for every event.
    pub explicit: Option<String>,
    /// `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI` or `AWS_ENDPOINT_URL`.
    pub standard_env: Option<String>,
    /// The region, for custom domains (`AWS_REGION` on Lambda).
    pub region: Option<String>,
}

impl EndpointRules {
    /// The rules from the process environment.
    pub fn from_env() -> EndpointRules {
        EndpointRules {
            explicit: crate::env::var("FABRIC_MANAGEMENT_ENDPOINT"),
            standard_env: crate::aws::endpoint_from_env("APIGATEWAYMANAGEMENTAPI"),
            region: crate::env::first(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
        }
    }

    /// The endpoint for an event from `domain_name`, `stage` and `api_id`.
    pub fn resolve(&self, domain_name: &str, stage: &str, api_id: &str) -> Result<String, Error> {
        if let Some(endpoint) = self.explicit.as_ref().or(self.standard_env.as_ref()) {
            return Ok(endpoint.trim_end_matches('/').to_owned());
        }
        if domain_name.contains(".execute-api.") {
            return Ok(format!("https://{domain_name}/{stage}"));
        }
        if is_loopback(domain_name) {
            return Ok(format!("http://{domain_name}/{stage}"));
        }
        match &self.region {
            Some(region) if !api_id.is_empty() => Ok(format!(
                "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
            )),
            _ => Err(Error::internal_message(format!(
                "cannot tell the Management API endpoint for the custom domain `{domain_name}`: set FABRIC_MANAGEMENT_ENDPOINT (or AWS_REGION)"
            ))),
        }
    }
}

fn is_loopback(domain: &str) -> bool {
    let host = domain
        .strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| domain.rsplit_once(':').map_or(domain, |(host, _)| host));
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One Management API client per endpoint, created on first use and reused for the
/// life of the process.
#[derive(Clone)]
pub struct ManagementClients {
    rules: EndpointRules,
    fixed: Option<Arc<dyn ManagementApi>>,
    clients: Arc<Mutex<HashMap<String, Arc<dyn ManagementApi>>>>,
}

impl ManagementClients {
    /// Clients following `rules`, built with the AWS SDK.
    pub fn new(rules: EndpointRules) -> ManagementClients {
        ManagementClients {
            rules,
            fixed: None,
            clients: Arc::default(),
        }
    }

    /// Always `api`, whatever the event.
    pub fn fixed(api: Arc<dyn ManagementApi>) -> ManagementClients {
        ManagementClients {
            rules: EndpointRules::default(),
            fixed: Some(api),
            clients: Arc::default(),
        }
    }

    /// The rules in use.
    pub fn rules(&self) -> &EndpointRules {
        &self.rules
    }

    /// The client for an event's API.
    pub fn for_event(
        &self,
        domain_name: &str,
        stage: &str,
        api_id: &str,
    ) -> Result<Arc<dyn ManagementApi>, Error> {
        if let Some(api) = &self.fixed {
            return Ok(api.clone());
        }
        let endpoint = self.rules.resolve(domain_name, stage, api_id)?;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&endpoint) {
            return Ok(client.clone());
        }
        let client: Arc<dyn ManagementApi> = Arc::new(super::sdk::SdkManagementApi::new(&endpoint));
        clients.insert(endpoint, client.clone());
        Ok(client)
    }
}
