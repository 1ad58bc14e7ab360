//! What the gateway's handlers and connection tasks share: the API's route table
//! (which function serves which route key), its settings and its connections.

use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connections::Registry;
use super::events::Api;
use super::invocation::{EventLog, EventMeta, Invocation};
use crate::app::Routes;
use crate::panic::catch_panic;
use crate::store::{BucketLimit, MemoryBuckets, TokenBuckets};

/// The settings of a gateway, fixed once it is bound.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub integration_timeout: Duration,
    pub verbose: bool,
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
    /// The stage throttling a function asks for, one bucket for the whole stage.
    pub throttle: Option<StageThrottle>,
    /// The routes' own throttling, one bucket per route, in place of the stage's.
    pub route_throttle: RouteThrottle,
}

/// The throttled routes' token buckets, as API Gateway keeps them.
#[derive(Debug, Default)]
pub(crate) struct RouteThrottle {
    limits: std::collections::HashMap<String, BucketLimit>,
    buckets: MemoryBuckets,
}

impl RouteThrottle {
    /// Whether any route has its own throttling.
    pub(crate) fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Whether a message to `route_key` may pass: `None` when the route has no
    /// throttling of its own (the stage's applies).
    pub(crate) fn admits(&self, route_key: &str) -> Option<bool> {
        let limit = self.limits.get(route_key)?;
        Some(admitted(&self.buckets, route_key, *limit))
    }
}

/// Takes a token without waiting (the memory buckets never do).
fn admitted(buckets: &MemoryBuckets, key: &str, limit: BucketLimit) -> bool {
    buckets
        .take(key, limit)
        .now_or_never()
        .is_none_or(|taken| taken.is_ok_and(|take| take.is_allowed()))
}

/// The stage's token bucket, as API Gateway keeps it.
#[derive(Debug)]
pub(crate) struct StageThrottle {
    limit: BucketLimit,
    buckets: MemoryBuckets,
}

impl StageThrottle {
    /// Whether a message may pass; the bucket never waits, so neither does this.
    pub(crate) fn admits(&self) -> bool {
        admitted(&self.buckets, "stage", self.limit)
    }
}

impl Shared {
    pub(super) fn new(
        routes: Routes,
        api: Api,
        port: u16,
        settings: Settings,
        page: &'static str,
    ) -> Shared {
        let throttle = routes
            .functions()
            .iter()
            .find_map(|function| function.adapter.stage_throttling_setting())
            .map(|throttling| StageThrottle {
                limit: BucketLimit::new(f64::from(throttling.rate_limit), throttling.burst_limit),
                buckets: MemoryBuckets::new(),
            });
        let mut route_throttle = RouteThrottle::default();
        for function in routes.functions() {
            for (key, limits) in function.adapter.route_throttling_settings() {
                route_throttle.limits.entry(key.clone()).or_insert_with(|| {
                    BucketLimit::new(f64::from(limits.rate_limit), limits.burst_limit)
                });
            }
        }
        Shared {
            throttle,
            route_throttle,
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

    /// Whether API Gateway's throttling lets a message through: the route's own
    /// limits when it has them, else the stage's.
    pub(super) fn admits(&self, body: &str) -> bool {
        let route = (!self.route_throttle.is_empty())
            .then(|| self.route_throttle.admits(&self.route_key(body)))
            .flatten();
        route.unwrap_or_else(|| self.throttle.as_ref().is_none_or(StageThrottle::admits))
    }

    /// The route key API Gateway would pick for a text frame.
    pub(super) fn route_key(&self, body: &str) -> String {
        self.routes.route_key(body)
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
