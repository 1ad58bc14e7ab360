//! The stale-connection sweep: a scheduled function that asks the Management API
//! about stored connections and forgets the ones API Gateway no longer has.
//!
//! A connection normally leaves the store at `$disconnect`, or when a post finds it
//! gone (410). Both can be missed (a `$disconnect` that failed, a Lambda that timed
//! out), and a missed connection stays in its rooms until its TTL, slowing every
//! broadcast by one 410. The sweep closes that gap.
//!
//! The store does not record activity (that would be a write per message), so the
//! candidates are the connections opened more than the quiet period ago; for each,
//! `GetConnection` decides: 200 keeps it, 410 deletes it and its room memberships,
//! anything else keeps it and counts an error.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use super::{ManagementApi, ManagementError, SdkManagementApi, StoreSource};
use crate::describe::SweepDescription;
use crate::store::{Connection, ConnectionStore, SharedStore};
use crate::{BoxError, Error};

/// How many `GetConnection` calls are in flight at once.
const CONCURRENCY: usize = 16;

/// A stale-connection sweep over a store: served on a schedule by
/// [`fabric::run`](crate::run), or run directly with [`run_once`](Sweep::run_once).
///
/// Each run lists the store page by page and checks the connections opened more
/// than [`quiet_for`](Sweep::quiet_for) ago, until every connection was listed,
/// [`max_checked`](Sweep::max_checked) were checked, or the
/// [`time_budget`](Sweep::time_budget) is spent. A run stopped by a bound leaves a
/// cursor, and the next run in the same process goes on from there.
///
/// In an `App` a sweep is one more function: it names the
/// WebSocket API it sweeps ([`sweeps`](Sweep::sweeps)) and how often it runs
/// ([`every`](Sweep::every)), and the app's template schedules it. On its own:
///
/// ```no_run
/// use std::time::Duration;
/// use fabric::websocket::Sweep;
///
/// #[tokio::main]
/// async fn main() -> Result<(), fabric::BoxError> {
///     // FABRIC_CONNECTIONS_TABLE and FABRIC_MANAGEMENT_ENDPOINT from the template
///     // (DynamoDbStore, with the `dynamodb` feature).
///     let sweep = Sweep::new(fabric::store::from_env()?)
///         .quiet_for(Duration::from_secs(15 * 60))
///         .max_checked(2_000);
///     fabric::run(sweep).await
/// }
/// ```
#[derive(Clone)]
pub struct Sweep {
    store: StoreSource,
    api: Option<Arc<dyn ManagementApi>>,
    /// The app's WebSocket API it sweeps, and its schedule.
    swept: Option<String>,
    every: Duration,
    quiet: Duration,
    max_checked: usize,
    budget: Duration,
    page_size: usize,
    resume: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Sweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep")
            .field("sweeps", &self.swept)
            .field("every", &self.every)
            .field("quiet", &self.quiet)
            .field("max_checked", &self.max_checked)
            .field("budget", &self.budget)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// A sweep of `store`: quiet for 10 minutes (API Gateway's idle timeout), at most
/// 1000 connections checked and 60 seconds per run, pages of 100. The Management
/// API is `FABRIC_MANAGEMENT_ENDPOINT` (or `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`)
/// unless [`management`](Sweep::management) gives one.
///
/// ```
/// let sweep = fabric::websocket::fabric_sweep(fabric::store::MemoryStore::new());
/// # let _ = sweep;
/// ```
pub fn fabric_sweep(store: impl ConnectionStore) -> Sweep {
    Sweep::new(Arc::new(store))
}

impl Sweep {
    /// A sweep of a shared store (see [`fabric_sweep`]).
    pub fn new(store: SharedStore) -> Sweep {
        Sweep::of(StoreSource::Shared(store))
    }

    /// A sweep of the store chosen when serving starts, as
    /// [`WebSocketAdapter::track_connections`](super::WebSocketAdapter::track_connections)
    /// chooses it: in an `App` the app's
    /// (`App::store`), the one its WebSocket functions
    /// share; else the one [`store::from_env`](crate::store::from_env) names.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fabric::app::App;
    /// use fabric::describe::Serves;
    /// use fabric::websocket::{Sweep, WebSocketAdapter};
    ///
    /// let app = App::new("Chat")
    ///     .websocket_api("Chat", |api| api.handler("chat"))
    ///     .function("chat", WebSocketAdapter::new().track_connections())
    ///     .function("chat-sweep", Sweep::app_store().sweeps("Chat").every(Duration::from_secs(30 * 60)));
    /// let description = app.describe().unwrap();
    /// let Serves::Sweep(sweep) = &description.function("chat-sweep").unwrap().serves else { panic!() };
    /// assert_eq!((sweep.api.as_str(), sweep.schedule().as_str()), ("Chat", "rate(30 minutes)"));
    /// ```
    pub fn app_store() -> Sweep {
        Sweep::of(StoreSource::Serving)
    }

    fn of(store: StoreSource) -> Sweep {
        let described = SweepDescription::new("");
        Sweep {
            store,
            api: None,
            swept: None,
            every: described.every,
            quiet: Duration::from_secs(10 * 60),
            max_checked: 1000,
            budget: described.time_budget,
            page_size: 100,
            resume: Arc::default(),
        }
    }

    /// In an `App`, the WebSocket API whose connections this
    /// sweep checks: the app's template grants its function `GetConnection` on that
    /// API's `@connections` and sets `FABRIC_MANAGEMENT_ENDPOINT` to it. The app
    /// refuses an API it does not have, or an HTTP API.
    ///
    /// ```
    /// use fabric::app::App;
    /// use fabric::websocket::{Sweep, WebSocketAdapter};
    ///
    /// let app = App::new("Chat")
    ///     .websocket_api("Chat", |api| api.handler("chat"))
    ///     .function("chat", WebSocketAdapter::new().track_connections())
    ///     .function("chat-sweep", Sweep::app_store().sweeps("Chta"));
    /// assert_eq!(
    ///     app.describe().unwrap_err().to_string(),
    ///     "function `chat-sweep` sweeps the API `Chta`, which the app does not have (its APIs: Chat)"
    /// );
    /// ```
    pub fn sweeps(mut self, api: &str) -> Sweep {
        self.swept = Some(api.to_owned());
        self
    }

    /// How often the template's schedule runs it (whole minutes, at least one;
    /// default 15 minutes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fabric::websocket::Sweep;
    /// let sweep = Sweep::app_store().sweeps("Chat").every(Duration::from_secs(5 * 60));
    /// assert_eq!(sweep.describe().schedule(), "rate(5 minutes)");
    /// ```
    pub fn every(mut self, every: Duration) -> Sweep {
        self.every = every;
        self
    }

    /// What the template needs of it: the API it sweeps (empty when it names none),
    /// its schedule and its time budget.
    ///
    /// ```
    /// let sweep = fabric::websocket::Sweep::app_store().sweeps("Chat").describe();
    /// assert_eq!((sweep.api.as_str(), sweep.schedule().as_str()), ("Chat", "rate(15 minutes)"));
    /// ```
    pub fn describe(&self) -> SweepDescription {
        SweepDescription::new(self.swept.clone().unwrap_or_default())
            .every(self.every)
            .time_budget(self.budget)
    }

    /// The API it sweeps, if it names one.
    pub(crate) fn swept_api(&self) -> Option<&str> {
        self.swept.as_deref()
    }

    /// Where its store comes from.
    pub(crate) fn store_source(&self) -> &StoreSource {
        &self.store
    }

    /// The sweep with its store from `source`.
    pub(crate) fn with_store_source(mut self, source: StoreSource) -> Sweep {
        self.store = source;
        self
    }

    /// The sweep with its store made now, once for every run.
    fn with_store_made(self) -> Result<Sweep, Error> {
        let store = self.store()?;
        Ok(self.with_store_source(StoreSource::Shared(store)))
    }

    fn store(&self) -> Result<SharedStore, Error> {
        self.store
            .resolve()?
            .ok_or_else(|| Error::internal_message("the sweep has no connection store"))
    }

    /// Checks only connections opened longer than `quiet` ago.
    pub fn quiet_for(mut self, quiet: Duration) -> Sweep {
        self.quiet = quiet;
        self
    }

    /// Checks at most `max` connections per run (at least 1).
    pub fn max_checked(mut self, max: usize) -> Sweep {
        self.max_checked = max.max(1);
        self
    }

    /// Starts no new page or check after `budget`; keep it under the function's
    /// timeout.
    pub fn time_budget(mut self, budget: Duration) -> Sweep {
        self.budget = budget;
        self
    }

    /// Lists the store `size` connections at a time.
    pub fn page_size(mut self, size: usize) -> Sweep {
        self.page_size = size.max(1);
        self
    }

    /// Asks `api` instead of the endpoint the environment names.
    pub fn management(mut self, api: Arc<dyn ManagementApi>) -> Sweep {
        self.api = Some(api);
        self
    }

    fn api(&self) -> Result<Arc<dyn ManagementApi>, Error> {
        if let Some(api) = &self.api {
            return Ok(api.clone());
        }
        let rules = super::EndpointRules::from_env();
        let endpoint = rules.explicit.or(rules.standard_env).ok_or_else(|| {
            Error::internal_message(
                "the sweep needs the Management API endpoint: set FABRIC_MANAGEMENT_ENDPOINT",
            )
        })?;
        Ok(Arc::new(SdkManagementApi::new(
            endpoint.trim_end_matches('/'),
        )))
    }

    /// One run: lists, checks, deletes the gone connections, and reports. A store
    /// that cannot be listed ends the run with what was done so far and the error.
    pub async fn run_once(&self) -> SweepReport {
        let started = Instant::now();
        let mut report = SweepReport::default();
        let (store, api) = match self.store().and_then(|store| Ok((store, self.api()?))) {
            Ok(found) => found,
            Err(err) => {
                report.failure = Some(err.detail().to_owned());
                return report;
            }
        };
        let cutoff = TimeDelta::from_std(self.quiet)
            .ok()
            .and_then(|quiet| Utc::now().checked_sub_signed(quiet))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        let resumed = self.resume.lock().unwrap_or_else(|p| p.into_inner()).take();
        report.resumed = resumed.is_some();
        let mut cursor = resumed;
        loop {
            if let Some(bound) = self.bound(&report, started) {
                report.stopped_by = Some(bound);
                break;
            }
            let page = match store.list_page(cursor.as_deref(), self.page_size).await {
                Ok(page) => page,
                Err(err) => {
                    report.failure = Some(err.detail().to_owned());
                    break;
                }
            };
            report.pages += 1;
            report.listed += page.connections.len();
            let room = self.max_checked - report.checked;
            let (quiet, recent): (Vec<Connection>, Vec<Connection>) = page
                .connections
                .into_iter()
                .partition(|c| c.connected_at() <= cutoff);
            report.recent += recent.len();
            let over = quiet.len() > room;
            let batch: Vec<Connection> = quiet.into_iter().take(room).collect();
            // A page only partly checked is resumed from its last checked connection.
            let page_cursor = if over {
                batch.last().map(|c| c.connection_id().to_owned())
            } else {
                page.next
            };
            let outcomes: Vec<Outcome> = futures_util::stream::iter(batch)
                .map(|connection| check(store.as_ref(), api.as_ref(), connection))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for outcome in outcomes {
                report.checked += 1;
                match outcome {
                    Outcome::Live => report.live += 1,
                    Outcome::Deleted { rooms } => {
                        report.deleted += 1;
                        report.memberships_deleted += rooms;
                    }
                    Outcome::Failed => report.errors += 1,
                }
            }
            cursor = page_cursor;
            if cursor.is_none() {
                break;
            }
        }
        if report.stopped_by.is_some() || report.failure.is_some() {
            *self.resume.lock().unwrap_or_else(|p| p.into_inner()) = cursor;
        }
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report.log();
        report
    }

    fn bound(&self, report: &SweepReport, started: Instant) -> Option<Bound> {
        if report.checked >= self.max_checked {
            Some(Bound::MaxChecked)
        } else if started.elapsed() >= self.budget {
            Some(Bound::TimeBudget)
        } else {
            None
        }
    }

    /// Serves scheduled invocations on Lambda: each event (its content is not read)
    /// runs the sweep once and answers its report.
    pub async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::logging::init();
        let sweep = Arc::new(self.with_store_made()?);
        let handler = lambda_runtime::service_fn(
            move |_event: lambda_runtime::LambdaEvent<serde_json::Value>| {
                let sweep = sweep.clone();
                async move { Ok::<_, BoxError>(sweep.run_once().await) }
            },
        );
        lambda_runtime::run(handler).await
    }

    /// Off Lambda: one run, its report as one JSON line on stdout; exit status 1 when
    /// the store or the Management API could not be reached.
    pub async fn serve_local(self) -> Result<(), BoxError> {
        crate::logging::init();
        let report = match self.with_store_made() {
            Ok(sweep) => sweep.run_once().await,
            Err(err) => SweepReport {
                failure: Some(err.detail().to_owned()),
                ..SweepReport::default()
            },
        };
        println!("{}", serde_json::to_string(&report)?);
        match report.failure {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }
}

/// Asks about one connection, and deletes it with its rooms when it is gone.
async fn check(
    store: &dyn ConnectionStore,
    api: &dyn ManagementApi,
    connection: Connection,
) -> Outcome {
    let id = connection.connection_id();
    match api.get(id).await {
        Ok(_) => Outcome::Live,
        Err(ManagementError::Gone) => {
            let rooms = store.rooms(id).await.map_or(0, |rooms| rooms.len());
            match store.delete(id).await {
                Ok(()) => Outcome::Deleted { rooms },
                Err(err) => {
                    tracing::warn!(connection_id = id, error = %err, "sweep: could not delete a gone connection");
                    Outcome::Failed
                }
            }
        }
        Err(err) => {
            tracing::warn!(connection_id = id, error = %err, "sweep: GetConnection failed; the connection is kept");
            Outcome::Failed
        }
    }
}

enum Outcome {
    Live,
    Deleted { rooms: usize },
    Failed,
}

/// Why a run stopped before listing every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Bound {
    /// [`Sweep::max_checked`] connections were checked.
    MaxChecked,
    /// [`Sweep::time_budget`] was spent.
    TimeBudget,
}

/// What one sweep run did: logged, and the Lambda function's answer.
///
/// ```
/// let report = fabric::websocket::SweepReport::default();
/// assert_eq!(serde_json::to_value(&report).unwrap()["deleted"], 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Pages read from the store.
    pub pages: usize,
    /// Connections listed.
    pub listed: usize,
    /// Listed but opened within the quiet period, so not checked.
    pub recent: usize,
    /// Connections asked about with `GetConnection`.
    pub checked: usize,
    /// Checked and live (200): kept.
    pub live: usize,
    /// Checked and gone (410): deleted with their room memberships.
    pub deleted: usize,
    /// Room memberships of the deleted connections.
    pub memberships_deleted: usize,
    /// Checks that failed otherwise (throttled, unreachable): kept.
    pub errors: usize,
    /// Whether this run went on from where a bounded run stopped.
    pub resumed: bool,
    /// The bound that stopped the run early, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<Bound>,
    /// Why the run could not go on (the store could not be listed), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// How long the run took.
    pub elapsed_ms: u64,
}

impl SweepReport {
    fn log(&self) {
        tracing::info!(
            pages = self.pages,
            listed = self.listed,
            checked = self.checked,
            live = self.live,
            deleted = self.deleted,
            memberships_deleted = self.memberships_deleted,
            errors = self.errors,
            stopped_by = ?self.stopped_by,
            failure = self.failure.as_deref(),
            elapsed_ms = self.elapsed_ms,
            "sweep done"
        );
    }
}
