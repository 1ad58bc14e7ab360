//! What the gateway's handlers and connection tasks share: the API's route table
//! (which function serves which route key), its settings and its connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connections::Registry;
use super::events::Api;
use super::invocation::{EventLog, EventMeta, Invocation};
use crate::panic::catch_panic;
use crate::websocket::{RouteSelection, WebSocketAdapter};

/// The settings of a gateway, fixed once it is bound.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub integration_timeout: Duration,
    pub verbose: bool,
}

/// One function behind the API: a name and the adapter it serves, as on Lambda.
#[derive(Debug)]
pub(crate) struct Function {
    pub name: String,
    pub adapter: Arc<WebSocketAdapter>,
}

/// Which function serves which route key, and how API Gateway picks the key.
#[derive(Debug)]
pub(crate) struct Routes {
    functions: Vec<Function>,
    /// Route key → index into `functions`.
    keys: Vec<(String, usize)>,
    /// The custom (not `$`-prefixed) keys, for route selection.
    custom_keys: Vec<String>,
    selection: RouteSelection,
}

impl Routes {
    /// One adapter serving every route key it declares: a single-function program.
    pub(crate) fn single(adapter: WebSocketAdapter) -> Routes {
        let keys = adapter.route_keys();
        let selection = adapter.selection().clone();
        let function = Function {
            name: String::new(),
            adapter: Arc::new(adapter),
        };
        Routes::new(
            selection,
            vec![function],
            keys.into_iter().map(|key| (key, 0)).collect(),
        )
    }

    /// `functions`, each serving the keys `keys` map to it.
    pub(crate) fn new(
        selection: RouteSelection,
        functions: Vec<Function>,
        keys: Vec<(String, usize)>,
    ) -> Routes {
        let custom_keys = keys
            .iter()
            .map(|(key, _)| key)
            .filter(|key| !key.starts_with('$'))
            .cloned()
            .collect();
        Routes {
            functions,
            keys,
            custom_keys,
            selection,
        }
    }

    /// The function serving `key`.
    pub(crate) fn function(&self, key: &str) -> Option<&Function> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, index)| &self.functions[index])
    }

    /// The functions, in the order given.
    pub(crate) fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// Each route key and the function that serves it, for the ready line.
    pub(crate) fn table(&self) -> Vec<(&str, &str)> {
        self.keys
            .iter()
            .map(|(key, index)| (key.as_str(), self.functions[*index].name.as_str()))
            .collect()
    }

    /// Whether log lines name the function (there are several).
    fn names_functions(&self) -> bool {
        self.functions.len() > 1
    }
}

/// Everything the gateway's handlers and connection tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub routes: Routes,
    pub api: Api,
    pub port: u16,
    pub settings: Settings,
    pub registry: Registry,
    /// Without a `$connect` route API Gateway accepts every connection.
    pub has_connect_route: bool,
    pub page: &'static str,
    log: EventLog,
    /// Cancelled on shutdown: every connection closes with 1001.
    pub closing: CancellationToken,
    /// The connection tasks, awaited on shutdown.
    pub sessions: TaskTracker,
}

impl Shared {
    pub(super) fn new(
        routes: Routes,
        api: Api,
        port: u16,
        settings: Settings,
        page: &'static str,
    ) -> Shared {
        Shared {
            has_connect_route: routes.function("$connect").is_some(),
            routes,
            api,
            port,
            settings,
            registry: Registry::default(),
            page,
            log: EventLog::new(),
            closing: CancellationToken::new(),
            sessions: TaskTracker::new(),
        }
    }

    /// The route key API Gateway would pick for a text frame.
    pub(super) fn route_key(&self, body: &str) -> String {
        if self.routes.custom_keys.is_empty() {
            return "$default".to_owned();
        }
        let keys: Vec<&str> = self.routes.custom_keys.iter().map(String::as_str).collect();
        self.routes.selection.route_key(body, &keys).to_owned()
    }

    /// Starts the function serving the event's route, polled by the caller's task;
    /// with no function for the route, the invocation answers at once as API
    /// Gateway does.
    pub(super) fn invoke(&self, event: Box<ApiGatewayWebsocketProxyRequest>) -> Invocation {
        let context = &event.request_context;
        let route_key = context.route_key.clone().unwrap_or_default();
        let function = self.routes.function(&route_key);
        let meta = EventMeta {
            connection_id: context.connection_id.clone().unwrap_or_default(),
            request_id: context.request_id.clone().unwrap_or_default(),
            function: function
                .filter(|_| self.routes.names_functions())
                .map(|function| function.name.clone()),
            two_way: function.is_some_and(|function| function.adapter.is_two_way()),
            route_key,
            started: Instant::now(),
        };
        if self.settings.verbose {
            let json = super::events::to_json(&event);
            let route = match &meta.function {
                Some(function) => format!("{function} {}", meta.route_key),
                None => meta.route_key.clone(),
            };
            tracing::info!(target: "fabric::local", "{route} {} event\n{json}", meta.connection_id);
        }
        let handler = function.map(|function| {
            let adapter = function.adapter.clone();
            catch_panic(|| {
                Box::pin(async move { adapter.handle(*event).await }) as BoxFuture<'static, _>
            })
        });
        Invocation {
            handler,
            deadline: Box::pin(tokio::time::sleep(self.settings.integration_timeout)),
            meta: Some(meta),
            log: self.log,
        }
    }
}
