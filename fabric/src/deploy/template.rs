//! [`Template`]: the SAM template, resource by resource.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value, json};

use super::function::{Function, pascal_case};

/// How a template is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// YAML, as SAM templates usually are.
    #[default]
    Yaml,
    /// JSON, for tools that prefer it.
    Json,
}

/// An AWS SAM template built from adapters.
///
/// ```
/// use fabric::deploy::{Format, Function, Template};
/// use fabric::prelude::*;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn chat(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// let template = Template::new("Chat").websocket(&Function::new("chat"), &fabric_websocket(chat));
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
    conditions: IndexMap<String, Value>,
    resources: IndexMap<String, Resource>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    outputs: IndexMap<String, Value>,
}

/// One resource, its type first as templates are usually read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Resource {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    properties: Value,
}

impl Resource {
    pub(super) fn new(kind: &'static str, properties: Value) -> Resource {
        Resource {
            kind,
            condition: None,
            metadata: None,
            properties,
        }
    }

    fn only_if(mut self, condition: &str) -> Resource {
        self.condition = Some(condition.to_owned());
        self
    }

    pub(super) fn metadata(mut self, metadata: Value) -> Resource {
        self.metadata = Some(metadata);
        self
    }
}

/// The template parameter naming the API Gateway stage of every WebSocket API.
const STAGE: &str = "StageName";

fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

impl Template {
    /// An empty template.
    pub fn new(description: impl Into<String>) -> Template {
        Template {
            format_version: "2010-09-09",
            transform: "AWS::Serverless-2016-10-31",
            description: description.into(),
            parameters: IndexMap::new(),
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

    fn parameter(&mut self, name: &str, parameter: Value) {
        self.parameters.entry(name.to_owned()).or_insert(parameter);
    }

    fn resource(&mut self, id: String, resource: Resource) {
        assert!(
            self.resources.insert(id.clone(), resource).is_none(),
            "two resources are named {id}: give the functions different names"
        );
    }

    fn output(&mut self, id: String, description: &str, value: Value, condition: Option<&str>) {
        let mut output = json!({ "Description": description, "Value": value });
        if let Some(condition) = condition {
            output["Condition"] = json!(condition);
        }
        self.outputs.insert(id, output);
    }

    /// Adds a function serving a WebSocket adapter: its API (`ProtocolType:
    /// WEBSOCKET`, the adapter's route selection expression), one route per route key
    /// the adapter serves, route responses when the routes are two-way, a stage with
    /// auto-deploy, the invoke permission, `execute-api:ManageConnections` on this
    /// API's `@connections` (POST, GET, DELETE), the Management API endpoint in
    /// `FABRIC_MANAGEMENT_ENDPOINT`, an optional custom domain, and the outputs.
    /// When the adapter has a connection store, the stack also gets the two
    /// DynamoDB tables of [`DynamoDbStore`](crate::store) (named to the function in
    /// `FABRIC_CONNECTIONS_TABLE` and `FABRIC_ROOMS_TABLE`, with read/write access),
    /// which `store::from_env()` picks on Lambda.
    #[cfg(feature = "websocket")]
    pub fn websocket(
        mut self,
        function: &Function,
        adapter: &crate::websocket::WebSocketAdapter,
    ) -> Template {
        let name = function.logical_name();
        let function_id = function.id();
        let api = format!("{name}WebSocketApi");
        let integration = format!("{name}WebSocketIntegration");
        let stage = format!("{name}WebSocketStage");
        self.parameter(
            STAGE,
            json!({ "Type": "String", "Default": "prod", "Description": "The stage of every WebSocket API", "AllowedPattern": "^[A-Za-z0-9_-]+$" }),
        );

        self.resource(
            api.clone(),
            Resource::new(
                "AWS::ApiGatewayV2::Api",
                json!({
                    "Name": sub(&format!("${{AWS::StackName}}-{}", function.binary())),
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": adapter.selection().expression(),
                }),
            ),
        );
        self.resource(
            integration.clone(),
            Resource::new(
                "AWS::ApiGatewayV2::Integration",
                json!({
                    "ApiId": reference(&api),
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": sub(&format!(
                        "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{function_id}.Arn}}/invocations"
                    )),
                }),
            ),
        );
        for key in adapter.route_keys() {
            let route = format!("{name}{}Route", pascal_case(&key));
            // $connect and $disconnect never return a body to the client.
            let two_way = adapter.is_two_way() && key != "$connect" && key != "$disconnect";
            let mut properties = json!({
                "ApiId": reference(&api),
                "RouteKey": key,
                "AuthorizationType": "NONE",
                "Target": sub(&format!("integrations/${{{integration}}}")),
            });
            if two_way {
                properties["RouteResponseSelectionExpression"] = json!("$default");
            }
            self.resource(
                route.clone(),
                Resource::new("AWS::ApiGatewayV2::Route", properties),
            );
            if two_way {
                self.resource(
                    format!("{name}{}RouteResponse", pascal_case(&key)),
                    Resource::new(
                        "AWS::ApiGatewayV2::RouteResponse",
                        json!({ "ApiId": reference(&api), "RouteId": reference(&route), "RouteResponseKey": "$default" }),
                    ),
                );
            }
        }
        self.resource(
            stage.clone(),
            Resource::new(
                "AWS::ApiGatewayV2::Stage",
                json!({ "ApiId": reference(&api), "StageName": reference(STAGE), "AutoDeploy": true }),
            ),
        );
        self.resource(
            format!("{name}WebSocketPermission"),
            Resource::new(
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": reference(&function_id),
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": sub(&format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api}}}/*")),
                }),
            ),
        );

        let connections: Vec<Value> = ["POST", "GET", "DELETE"]
            .iter()
            .map(|method| {
                sub(&format!(
                    "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api}}}/${{{STAGE}}}/{method}/@connections/*"
                ))
            })
            .collect();
        let manage_connections = json!({
            "Statement": [{ "Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": connections }],
        });
        let endpoint = format!(
            "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{STAGE}}}"
        );
        let mut environment = IndexMap::new();
        environment.insert("FABRIC_MANAGEMENT_ENDPOINT".to_owned(), sub(&endpoint));
        let mut policies = vec![manage_connections];
        if adapter.tracks_connections() {
            for (variable, table) in self.connection_tables(name) {
                environment.insert(variable.to_owned(), reference(&table));
                policies.push(json!({ "DynamoDBCrudPolicy": { "TableName": reference(&table) } }));
            }
        }
        let function_resource = function.resource(environment, policies, IndexMap::new());
        self.resource(function_id, function_resource);

        self.custom_domain(name, &api, &stage);
        self.output(
            format!("{name}WebSocketUrl"),
            "The WebSocket URL clients connect to",
            sub(&format!(
                "wss://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{STAGE}}}"
            )),
            None,
        );
        self.output(
            format!("{name}ManagementEndpoint"),
            "The Management API endpoint (@connections)",
            sub(&endpoint),
            None,
        );
        self
    }

    /// The DynamoDB tables of `DynamoDbStore`, from the same layout its
    /// `create_tables` uses; returns each table's environment variable and id.
    #[cfg(feature = "websocket")]
    fn connection_tables(&mut self, name: &str) -> [(&'static str, String); 2] {
        use crate::store::layout::{CONNECTIONS, ROOMS, TableLayout};

        let key_schema = |keys: &[(&str, crate::store::layout::KeyRole)]| -> Vec<Value> {
            keys.iter()
                .map(|(attribute, role)| json!({ "AttributeName": attribute, "KeyType": role.as_str() }))
                .collect()
        };
        let table = |layout: &TableLayout| {
            let projection = match layout.index.includes {
                None => json!({ "ProjectionType": "ALL" }),
                Some(attributes) => {
                    json!({ "ProjectionType": "INCLUDE", "NonKeyAttributes": attributes })
                }
            };
            let attributes: Vec<Value> = layout
                .attributes
                .iter()
                .map(|(attribute, kind)| json!({ "AttributeName": attribute, "AttributeType": kind.as_str() }))
                .collect();
            Resource::new(
                "AWS::DynamoDB::Table",
                json!({
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": attributes,
                    "KeySchema": key_schema(layout.keys),
                    "GlobalSecondaryIndexes": [{
                        "IndexName": layout.index.name,
                        "KeySchema": key_schema(layout.index.keys),
                        "Projection": projection,
                    }],
                    "TimeToLiveSpecification": { "AttributeName": layout.ttl_attribute, "Enabled": true },
                }),
            )
        };
        let connections = format!("{name}ConnectionsTable");
        let rooms = format!("{name}RoomsTable");
        self.resource(connections.clone(), table(&CONNECTIONS));
        self.resource(rooms.clone(), table(&ROOMS));
        [
            ("FABRIC_CONNECTIONS_TABLE", connections),
            ("FABRIC_ROOMS_TABLE", rooms),
        ]
    }

    /// A custom domain for a WebSocket API, created only when its domain parameter is
    /// set at deploy time.
    #[cfg(feature = "websocket")]
    fn custom_domain(&mut self, name: &str, api: &str, stage: &str) {
        let domain_parameter = format!("{name}DomainName");
        let certificate_parameter = format!("{name}CertificateArn");
        let condition = format!("{name}HasCustomDomain");
        let domain = format!("{name}CustomDomain");
        self.parameter(
            &domain_parameter,
            json!({ "Type": "String", "Default": "", "Description": format!("A custom domain for the {name} WebSocket API; set it and {certificate_parameter} to use one") }),
        );
        self.parameter(
            &certificate_parameter,
            json!({
                "Type": "String",
                "Default": "",
                "AllowedPattern": "^(arn:aws[a-zA-Z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+)?$",
                "Description": format!("The ACM certificate ARN for {domain_parameter}, in this region"),
            }),
        );
        self.conditions.insert(
            condition.clone(),
            json!({ "Fn::And": [
                { "Fn::Not": [{ "Fn::Equals": [reference(&domain_parameter), ""] }] },
                { "Fn::Not": [{ "Fn::Equals": [reference(&certificate_parameter), ""] }] },
            ] }),
        );
        self.resource(
            domain.clone(),
            Resource::new(
                "AWS::ApiGatewayV2::DomainName",
                json!({
                    "DomainName": reference(&domain_parameter),
                    "DomainNameConfigurations": [{
                        "CertificateArn": reference(&certificate_parameter),
                        "EndpointType": "REGIONAL",
                        "SecurityPolicy": "TLS_1_2",
                    }],
                }),
            )
            .only_if(&condition),
        );
        self.resource(
            format!("{name}ApiMapping"),
            Resource::new(
                "AWS::ApiGatewayV2::ApiMapping",
                json!({ "ApiId": reference(api), "DomainName": reference(&domain), "Stage": reference(stage) }),
            )
            .only_if(&condition),
        );
        self.output(
            format!("{name}CustomDomainUrl"),
            "The WebSocket URL on the custom domain",
            sub(&format!("wss://${{{domain_parameter}}}")),
            Some(&condition),
        );
        self.output(
            format!("{name}CustomDomainTarget"),
            "Where the custom domain's DNS record (CNAME or alias) must point",
            json!({ "Fn::GetAtt": [domain, "RegionalDomainName"] }),
            Some(&condition),
        );
    }

    /// Adds a function serving an HTTP router behind an HTTP API: one route per path
    /// and method the router serves (and `OPTIONS` when it answers CORS), plus a
    /// catch-all route so unknown paths get Fabric's own 404 and 405 envelopes. A
    /// router that [streams on Lambda](crate::http::HttpRouter::lambda_streaming)
    /// gets a function URL in `RESPONSE_STREAM` mode instead, open to the internet
    /// (`AuthType: NONE`): the router's own `authorize` hook guards it.
    #[cfg(feature = "http")]
    pub fn http(mut self, function: &Function, router: &crate::http::HttpRouter) -> Template {
        let name = function.logical_name();
        if router.streams_on_lambda() {
            let mut resource = function.resource(IndexMap::new(), Vec::new(), IndexMap::new());
            resource.properties["FunctionUrlConfig"] =
                json!({ "AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM" });
            self.resource(function.id(), resource);
            self.output(
                format!("{name}FunctionUrl"),
                "The function URL, which streams responses",
                json!({ "Fn::GetAtt": [format!("{}Url", function.id()), "FunctionUrl"] }),
                None,
            );
            return self;
        }
        let api = format!("{name}HttpApi");
        self.resource(
            api.clone(),
            Resource::new(
                "AWS::Serverless::HttpApi",
                json!({ "StageName": "$default" }),
            ),
        );
        let mut events = IndexMap::new();
        for (path, methods) in router.endpoints() {
            let mut methods: Vec<String> = methods.iter().map(|m| m.as_str().to_owned()).collect();
            if router.has_cors() {
                methods.push("OPTIONS".to_owned());
            }
            for method in methods {
                let base = format!(
                    "{}{}",
                    pascal_case(&method.to_ascii_lowercase()),
                    pascal_case(&path)
                );
                // `/a-b` and `/ab` both read `Ab`: number the later one.
                let id = (1..)
                    .map(|n| {
                        if n == 1 {
                            base.clone()
                        } else {
                            format!("{base}{n}")
                        }
                    })
                    .find(|id| !events.contains_key(id))
                    .expect("an unused id");
                events.insert(
                    id,
                    json!({ "Type": "HttpApi", "Properties": { "ApiId": reference(&api), "Path": path, "Method": method } }),
                );
            }
        }
        events.insert(
            "CatchAll".to_owned(),
            json!({ "Type": "HttpApi", "Properties": { "ApiId": reference(&api) } }),
        );
        let function_resource = function.resource(IndexMap::new(), Vec::new(), events);
        self.resource(function.id(), function_resource);
        self.output(
            format!("{name}HttpUrl"),
            "The HTTP API's URL",
            sub(&format!(
                "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/"
            )),
            None,
        );
        self
    }
}
