//! [`Template`]: the SAM template, resource by resource.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value, json};

use super::function::BuildOptions;
use super::resource::Resource;
use crate::describe::{ApiDescription, AppDescription, Serves};

/// How a template is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// YAML, as SAM templates usually are.
    #[default]
    Yaml,
    /// JSON, for tools that prefer it.
    Json,
}

/// An AWS SAM template, written from an application's description.
///
/// ```
/// use fabric::app::App;
/// use fabric::deploy::{BuildOptions, Format, Template};
/// use fabric::prelude::*;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn chat(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// let app = App::single("chat", fabric_websocket(chat)).describe().unwrap();
/// let template = Template::from_app(&app, &BuildOptions::default());
/// let value = template.to_value();
/// assert_eq!(value["Resources"]["ChatWebSocketApi"]["Properties"]["ProtocolType"], "WEBSOCKET");
/// assert!(template.render(Format::Json).starts_with('{'));
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    format_version: &'static str,
    transform: &'static str,
    description: String,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    parameters: IndexMap<String, Value>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub(super) mappings: IndexMap<String, Value>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub(super) conditions: IndexMap<String, Value>,
    pub(super) resources: IndexMap<String, Resource>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    outputs: IndexMap<String, Value>,
}

/// The template parameter naming the API Gateway stage of every WebSocket API whose
/// stage is not set in code.
pub(super) const STAGE: &str = "StageName";

impl Template {
    /// An empty template.
    pub fn new(description: impl Into<String>) -> Template {
        Template {
            format_version: "2010-09-09",
            transform: "AWS::Serverless-2016-10-31",
            description: description.into(),
            parameters: IndexMap::new(),
            mappings: IndexMap::new(),
            conditions: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
        }
    }

    /// The template as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a template is JSON")
    }

    /// The template as YAML.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(self).expect("a template is YAML")
    }

    /// The template as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a template is JSON")
    }

    /// The template in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Yaml => self.to_yaml(),
            Format::Json => self.to_json(),
        }
    }

    /// The template of `app`: every API, route, function, table and permission.
    pub fn from_app(app: &AppDescription, build: &BuildOptions) -> Template {
        let mut template = Template::new(app.description.clone());
        let mut placed = vec![false; app.functions.len()];
        #[cfg(feature = "websocket")]
        let mut tables = None;
        let mut function = |name: &str| {
            let index = app
                .functions
                .iter()
                .position(|f| f.name == name)
                .expect("routes name the app's functions");
            let first = !placed[index];
            placed[index] = true;
            (&app.functions[index], first)
        };
        for api in &app.apis {
            match api {
                #[cfg(feature = "websocket")]
                ApiDescription::WebSocket(api) => {
                    template.websocket_api(app, api, build, &mut tables, &mut function)
                }
                // Only WebSocket adapters describe WebSocket APIs.
                #[cfg(not(feature = "websocket"))]
                ApiDescription::WebSocket(_) => {}
                ApiDescription::Http(api) => template.http_api(api, build, &mut function),
            }
        }
        for (index, described) in app.functions.iter().enumerate() {
            match &described.serves {
                _ if placed[index] => {}
                // A sweep runs on its schedule, outside the API it sweeps.
                #[cfg(feature = "websocket")]
                Serves::Sweep(sweep) => template
                    .sweep(app, &described.name, sweep, &described.settings, build)
                    .expect("a described app's sweep names one of its WebSocket APIs"),
                _ => template.function_url(described, build),
            }
        }
        template.secrets(app, build);
        template
    }

    pub(super) fn parameter(&mut self, name: &str, parameter: Value) {
        self.parameters.entry(name.to_owned()).or_insert(parameter);
    }

    pub(super) fn resource(&mut self, id: String, resource: Resource) {
        assert!(
            self.resources.insert(id.clone(), resource).is_none(),
            "two resources are named {id}: the app's names must differ in more than case and punctuation"
        );
    }

    pub(super) fn output(
        &mut self,
        id: String,
        description: &str,
        value: Value,
        condition: Option<&str>,
    ) {
        let mut output = json!({ "Description": description, "Value": value });
        if let Some(condition) = condition {
            output["Condition"] = json!(condition);
        }
        self.outputs.insert(id, output);
    }
}
