//! Which Management API endpoint an event's posts go to, and one SDK client per
//! endpoint for the life of the process.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, RwLock, Weak};

use super::management::ManagementApi;
use super::sdk::SdkManagementApi;
use crate::Error;

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
pub struct ManagementClients(
    // Shared whole, so each event's handle on the clients is one reference count.
    Arc<Clients>,
);

struct Clients {
    rules: EndpointRules,
    fixed: Option<Arc<dyn ManagementApi>>,
    clients: Mutex<HashMap<String, Arc<dyn ManagementApi>>>,
}

impl std::fmt::Debug for ManagementClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints = self.0.clients.lock().map(|c| c.len()).unwrap_or_default();
        f.debug_struct("ManagementClients")
            .field("rules", &self.0.rules)
            .field("fixed", &self.0.fixed.is_some())
            .field("endpoints", &endpoints)
            .finish()
    }
}

impl ManagementClients {
    /// Clients following `rules`, built with the AWS SDK.
    pub fn new(rules: EndpointRules) -> ManagementClients {
        ManagementClients(Arc::new(Clients {
            rules,
            fixed: None,
            clients: Mutex::default(),
        }))
    }

    /// Always `api`, whatever the event.
    pub fn fixed(api: Arc<dyn ManagementApi>) -> ManagementClients {
        ManagementClients(Arc::new(Clients {
            rules: EndpointRules::default(),
            fixed: Some(api),
            clients: Mutex::default(),
        }))
    }

    /// The rules in use.
    pub fn rules(&self) -> &EndpointRules {
        &self.0.rules
    }

    /// The client for an event's API.
    pub fn for_event(
        &self,
        domain_name: &str,
        stage: &str,
        api_id: &str,
    ) -> Result<Arc<dyn ManagementApi>, Error> {
        if let Some(api) = &self.0.fixed {
            return Ok(api.clone());
        }
        let endpoint = self.0.rules.resolve(domain_name, stage, api_id)?;
        if let Some(api) = in_process(&endpoint) {
            return Ok(api);
        }
        let mut clients = (self.0.clients.lock()).unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&endpoint) {
            return Ok(client.clone());
        }
        let client: Arc<dyn ManagementApi> = Arc::new(SdkManagementApi::new(&endpoint));
        clients.insert(endpoint, client.clone());
        Ok(client)
    }
}

/// Management APIs served by this very process (the local gateway's, for its own
/// functions), by endpoint URL. A post to one of them is a function call, not a
/// signed HTTP request back into the process; the endpoint is still the one the
/// event names, so an explicit endpoint elsewhere still goes through the SDK.
type InProcessApis = RwLock<HashMap<String, Weak<dyn ManagementApi>>>;

static IN_PROCESS: LazyLock<InProcessApis> = LazyLock::new(InProcessApis::default);

fn in_process(endpoint: &str) -> Option<Arc<dyn ManagementApi>> {
    let apis = IN_PROCESS.read().unwrap_or_else(|p| p.into_inner());
    if apis.is_empty() {
        return None;
    }
    apis.get(endpoint).and_then(Weak::upgrade)
}

/// Serves `endpoint` with `api` in this process for as long as the guard lives.
#[cfg(feature = "local")]
pub(crate) fn serve_in_process(endpoint: String, api: Arc<dyn ManagementApi>) -> InProcessGuard {
    let mut apis = IN_PROCESS.write().unwrap_or_else(|p| p.into_inner());
    apis.insert(endpoint.clone(), Arc::downgrade(&api));
    InProcessGuard { endpoint, api }
}

/// Keeps an endpoint served in process; dropped, posts go through the SDK again.
#[cfg(feature = "local")]
pub(crate) struct InProcessGuard {
    endpoint: String,
    api: Arc<dyn ManagementApi>,
}

#[cfg(feature = "local")]
impl std::fmt::Debug for InProcessGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessGuard")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "local")]
impl Drop for InProcessGuard {
    fn drop(&mut self) {
        let mut apis = IN_PROCESS.write().unwrap_or_else(|p| p.into_inner());
        // A gateway bound to the same address since keeps its own entry.
        let ours = Arc::downgrade(&self.api);
        if apis
            .get(&self.endpoint)
            .is_some_and(|api| Weak::ptr_eq(api, &ours))
        {
            apis.remove(&self.endpoint);
        }
    }
}
