//! The stale-connection sweep in the template: its function, an EventBridge
//! schedule, `execute-api:ManageConnections` (GET) on the API's `@connections`, and
//! the connection tables. An app's sweep function ([`Sweep`](crate::websocket::Sweep)
//! in `App::function`) and [`Template::add_sweep`] both come here.

use std::time::Duration;

use indexmap::IndexMap;
use serde_json::json;

use super::function::{BuildOptions, Function};
use super::resource::{logical_id, reference, sub};
use super::template::{STAGE, Template};
use crate::describe::{ApiDescription, AppDescription, FunctionSettings, SweepDescription};

/// The sweep function of a WebSocket API (a binary serving
/// [`fabric_sweep`](crate::websocket::fabric_sweep)), for [`Template::add_sweep`]:
/// for a sweep outside the app. A sweep that is a function of the app
/// (`App::function(name, Sweep::app_store().sweeps(api))`) is in the app's
/// template already.
///
/// ```
/// use std::time::Duration;
/// use fabric::deploy::SweepFunction;
/// let sweep = SweepFunction::new("chat_sweep", "chat").every(Duration::from_secs(30 * 60));
/// assert_eq!(sweep.schedule(), "rate(30 minutes)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepFunction {
    binary: String,
    sweep: SweepDescription,
    settings: FunctionSettings,
}

impl SweepFunction {
    /// The binary `binary` sweeping the connections of the WebSocket API `api`,
    /// every 15 minutes, with 90 seconds per run (the sweep's default time budget
    /// is 60).
    pub fn new(binary: impl Into<String>, api: impl Into<String>) -> SweepFunction {
        SweepFunction {
            binary: binary.into(),
            sweep: SweepDescription::new(api),
            settings: FunctionSettings::default(),
        }
    }

    /// How often it runs (whole minutes, at least one).
    pub fn every(mut self, every: Duration) -> SweepFunction {
        self.sweep = self.sweep.every(every);
        self
    }

    /// Its Lambda settings (memory, timeout, environment).
    pub fn settings(mut self, settings: FunctionSettings) -> SweepFunction {
        self.settings = settings;
        self
    }

    /// The EventBridge schedule expression: `rate(N minutes)`.
    pub fn schedule(&self) -> String {
        self.sweep.schedule()
    }
}

impl Template {
    /// Adds the sweep of one of `app`'s WebSocket APIs (already in this template,
    /// from [`Template::from_app`]): the function, scheduled with
    /// `Events: Type: Schedule`; `FABRIC_MANAGEMENT_ENDPOINT`; `GetConnection`'s
    /// `execute-api:ManageConnections` on the API's `@connections`; and read/write
    /// on the connection tables, created here when no function of the app uses the
    /// store.
    ///
    /// ```
    /// use fabric::app::App;
    /// use fabric::deploy::{BuildOptions, SweepFunction, Template};
    /// use fabric::prelude::*;
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn chat(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let app = App::single("chat", fabric_websocket(chat).track_connections()).describe().unwrap();
    /// let build = BuildOptions::default();
    /// let mut template = Template::from_app(&app, &build);
    /// template.add_sweep(&app, &SweepFunction::new("chat_sweep", "chat"), &build).unwrap();
    /// let value = template.to_value();
    /// let events = &value["Resources"]["ChatSweepFunction"]["Properties"]["Events"];
    /// assert_eq!(events["Schedule"]["Properties"]["Schedule"], "rate(15 minutes)");
    /// ```
    pub fn add_sweep(
        &mut self,
        app: &AppDescription,
        sweep: &SweepFunction,
        build: &BuildOptions,
    ) -> Result<(), String> {
        self.sweep(app, &sweep.binary, &sweep.sweep, &sweep.settings, build)
    }

    /// The sweep function `binary` of `sweep.api`, one of `app`'s WebSocket APIs:
    /// its timeout, unless `settings` set one, is the sweep's time budget and 30 s.
    pub(super) fn sweep(
        &mut self,
        app: &AppDescription,
        binary: &str,
        sweep: &SweepDescription,
        settings: &FunctionSettings,
        build: &BuildOptions,
    ) -> Result<(), String> {
        let api = app
            .apis
            .iter()
            .find_map(|api| match api {
                ApiDescription::WebSocket(api) if api.name == sweep.api => Some(api),
                _ => None,
            })
            .ok_or_else(|| format!("the app has no WebSocket API named {:?}", sweep.api))?;
        let name = logical_id(&api.name);
        let api_id = format!("{name}WebSocketApi");
        let stage = api.stage.clone().unwrap_or_else(|| format!("${{{STAGE}}}"));
        let app_name = logical_id(&app.name);
        let tables = [
            (
                "FABRIC_CONNECTIONS_TABLE",
                format!("{app_name}ConnectionsTable"),
            ),
            ("FABRIC_ROOMS_TABLE", format!("{app_name}RoomsTable")),
        ];
        if !self.resources.contains_key(&tables[0].1) {
            self.connection_tables(&app.name);
        }
        let mut environment = IndexMap::new();
        environment.insert(
            "FABRIC_MANAGEMENT_ENDPOINT".to_owned(),
            sub(&format!(
                "https://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
            )),
        );
        let mut policies = vec![json!({
            "Statement": [{
                "Effect": "Allow",
                "Action": "execute-api:ManageConnections",
                "Resource": sub(&format!(
                    "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/{stage}/GET/@connections/*"
                )),
            }],
        })];
        for (variable, table) in &tables {
            environment.insert((*variable).to_owned(), reference(table));
            policies.push(json!({ "DynamoDBCrudPolicy": { "TableName": reference(table) } }));
        }
        let mut events = IndexMap::new();
        events.insert(
            "Schedule".to_owned(),
            json!({ "Type": "Schedule", "Properties": { "Schedule": sweep.schedule() } }),
        );
        let settings = match settings.timeout {
            Some(_) => settings.clone(),
            None => settings.clone().timeout(sweep.default_timeout()),
        };
        let lambda = Function::new(binary, build, &settings);
        let resource = lambda.resource(environment, policies, events);
        self.resource(lambda.id(), resource);
        Ok(())
    }
}
