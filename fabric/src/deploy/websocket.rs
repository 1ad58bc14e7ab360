//! A WebSocket API in the template: the API, one integration and invoke permission
//! per function, one route per route key aimed at the function that serves it, the
//! stage, the custom domain, and each function with its permissions.

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::function::{BuildOptions, Function};
use super::resource::{Resource, logical_id, reference, sub};
use super::template::{STAGE, Template};
use crate::describe::{
    AppDescription, AuthorizerDescription, FunctionDescription, WebSocketApiDescription,
};
use crate::store::layout::RATE_LIMIT_TABLE_VARIABLE;

/// The connection tables once made: each table's environment variable and id.
pub(super) type Tables = Option<[(&'static str, String); 2]>;

impl Template {
    /// Adds a WebSocket API and its functions: `ProtocolType: WEBSOCKET` with the
    /// API's route selection expression; `AWS_PROXY` integrations; route responses
    /// for two-way routes; a stage with auto-deploy; `execute-api:ManageConnections`
    /// on this API's `@connections` (POST, GET, DELETE) for the functions that post;
    /// the Management API endpoint in `FABRIC_MANAGEMENT_ENDPOINT`; the app's
    /// connection tables (read/write, and their names in `FABRIC_CONNECTIONS_TABLE`
    /// and `FABRIC_ROOMS_TABLE`) for the functions that use the store; the rate
    /// limit table (`FABRIC_RATE_LIMIT_TABLE`) for those whose limits keep their
    /// buckets there; an optional
    /// custom domain; and the outputs.
    pub(super) fn websocket_api<'a>(
        &mut self,
        app: &AppDescription,
        api: &WebSocketApiDescription,
        build: &BuildOptions,
        tables: &mut Tables,
        function: &mut impl FnMut(&str) -> (&'a FunctionDescription, bool),
    ) {
        let name = logical_id(&api.name);
        let api_id = format!("{name}WebSocketApi");
        let stage_id = format!("{name}WebSocketStage");
        let stage = match &api.stage {
            Some(stage) => stage.clone(),
            None => {
                self.parameter(
                    STAGE,
                    json!({ "Type": "String", "Default": "prod", "Description": "The stage of every WebSocket API", "AllowedPattern": "^[A-Za-z0-9_-]+$" }),
                );
                format!("${{{STAGE}}}")
            }
        };
        self.resource(
            api_id.clone(),
            Resource::new(
                "AWS::ApiGatewayV2::Api",
                json!({
                    "Name": sub(&format!("${{AWS::StackName}}-{}", api.name)),
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": api.selection,
                }),
            ),
        );
        let mut members: Vec<&str> = Vec::new();
        for route in &api.routes {
            if !members.contains(&route.function.as_str()) {
                members.push(&route.function);
            }
        }
        for member in &members {
            let function_id = format!("{}Function", logical_id(member));
            self.resource(
                integration_id(member),
                Resource::new(
                    "AWS::ApiGatewayV2::Integration",
                    json!({
                        "ApiId": reference(&api_id),
                        "IntegrationType": "AWS_PROXY",
                        "IntegrationUri": sub(&format!(
                            "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{function_id}.Arn}}/invocations"
                        )),
                    }),
                ),
            );
        }
        let authorizer_id = api
            .authorizer
            .as_ref()
            .map(|authorizer| self.authorizer(&name, &api_id, authorizer));
        for route in &api.routes {
            let route_id = format!("{name}{}Route", logical_id(&route.key));
            let mut properties = json!({
                "ApiId": reference(&api_id),
                "RouteKey": route.key,
                "AuthorizationType": "NONE",
                "Target": sub(&format!("integrations/${{{}}}", integration_id(&route.function))),
            });
            if let (Some(authorizer), "$connect") = (&authorizer_id, route.key.as_str()) {
                properties["AuthorizationType"] = json!("CUSTOM");
                properties["AuthorizerId"] = reference(authorizer);
            }
            if route.two_way {
                properties["RouteResponseSelectionExpression"] = json!("$default");
            }
            self.resource(
                route_id.clone(),
                Resource::new("AWS::ApiGatewayV2::Route", properties),
            );
            if route.two_way {
                self.resource(
                    format!("{name}{}RouteResponse", logical_id(&route.key)),
                    Resource::new(
                        "AWS::ApiGatewayV2::RouteResponse",
                        json!({ "ApiId": reference(&api_id), "RouteId": reference(&route_id), "RouteResponseKey": "$default" }),
                    ),
                );
            }
        }
        let stage_name = match &api.stage {
            Some(stage) => Value::String(stage.clone()),
            None => reference(STAGE),
        };
        let mut stage_properties =
            json!({ "ApiId": reference(&api_id), "StageName": stage_name, "AutoDeploy": true });
        if let Some(throttling) = api.throttling {
            stage_properties["DefaultRouteSettings"] = json!({
                "ThrottlingRateLimit": throttling.rate_limit,
                "ThrottlingBurstLimit": throttling.burst_limit,
            });
        }
        if let Some(settings) = route_settings(api) {
            stage_properties["RouteSettings"] = settings;
        }
        self.resource(
            stage_id.clone(),
            Resource::new("AWS::ApiGatewayV2::Stage", stage_properties),
        );
        for member in &members {
            self.resource(
                format!("{}WebSocketPermission", logical_id(member)),
                Resource::new(
                    "AWS::Lambda::Permission",
                    json!({
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": reference(&format!("{}Function", logical_id(member))),
                        "Principal": "apigateway.amazonaws.com",
                        "SourceArn": sub(&format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/*")),
                    }),
                ),
            );
        }

        let connections: Vec<Value> = ["POST", "GET", "DELETE"]
            .iter()
            .map(|method| {
                sub(&format!(
                    "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/{stage}/{method}/@connections/*"
                ))
            })
            .collect();
        let manage_connections = json!({
            "Statement": [{ "Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": connections }],
        });
        let endpoint = format!(
            "https://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
        );
        // An authorizer of its own is a function of the API that serves no route.
        if let Some(authorizer) = &api.authorizer {
            if !members.contains(&authorizer.function.as_str()) {
                let (described, first) = function(&authorizer.function);
                if first {
                    let lambda = Function::new(&described.name, build, &described.settings);
                    let resource = lambda.resource(IndexMap::new(), Vec::new(), IndexMap::new());
                    self.resource(lambda.id(), resource);
                }
            }
        }
        for member in &members {
            let (described, first) = function(member);
            if !first {
                continue;
            }
            let mut environment = IndexMap::new();
            environment.insert("FABRIC_MANAGEMENT_ENDPOINT".to_owned(), sub(&endpoint));
            let mut policies = Vec::new();
            if described.posts {
                policies.push(manage_connections.clone());
            }
            if described.uses_store {
                let tables = tables.get_or_insert_with(|| self.connection_tables(&app.name));
                for (variable, table) in tables.iter() {
                    environment.insert((*variable).to_owned(), reference(table));
                    policies
                        .push(json!({ "DynamoDBCrudPolicy": { "TableName": reference(table) } }));
                }
            }
            if described.uses_rate_limit_table {
                let table = self.rate_limit_table(&app.name);
                environment.insert(RATE_LIMIT_TABLE_VARIABLE.to_owned(), reference(&table));
                policies.push(json!({ "DynamoDBCrudPolicy": { "TableName": reference(&table) } }));
            }
            let lambda = Function::new(&described.name, build, &described.settings);
            let resource = lambda.resource(environment, policies, IndexMap::new());
            self.resource(lambda.id(), resource);
        }

        self.custom_domain(api, &name, &api_id, &stage_id);
        self.output(
            format!("{name}WebSocketUrl"),
            "The WebSocket URL clients connect to",
            sub(&format!(
                "wss://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
            )),
            None,
        );
        self.output(
            format!("{name}ManagementEndpoint"),
            "The Management API endpoint (@connections)",
            sub(&endpoint),
            None,
        );
    }

    /// The API's REQUEST authorizer for `$connect` and the permission for API
    /// Gateway to invoke its function; gives back the authorizer's logical id.
    fn authorizer(
        &mut self,
        name: &str,
        api_id: &str,
        authorizer: &AuthorizerDescription,
    ) -> String {
        let id = format!("{name}Authorizer");
        let function_id = format!("{}Function", logical_id(&authorizer.function));
        self.resource(
            id.clone(),
            Resource::new(
                "AWS::ApiGatewayV2::Authorizer",
                json!({
                    "ApiId": reference(api_id),
                    "Name": format!("{name}Authorizer"),
                    "AuthorizerType": "REQUEST",
                    "IdentitySource": authorizer.identity_sources,
                    "AuthorizerUri": sub(&format!(
                        "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{function_id}.Arn}}/invocations"
                    )),
                }),
            ),
        );
        self.resource(
            format!("{name}AuthorizerPermission"),
            Resource::new(
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": reference(&function_id),
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": sub(&format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/authorizers/${{{id}}}")),
                }),
            ),
        );
        id
    }

    /// A custom domain for a WebSocket API, created only when its domain parameter is
    /// set at deploy time (its default comes from the code, if set there).
    fn custom_domain(
        &mut self,
        api: &WebSocketApiDescription,
        name: &str,
        api_id: &str,
        stage: &str,
    ) {
        let domain_parameter = format!("{name}DomainName");
        let certificate_parameter = format!("{name}CertificateArn");
        let condition = format!("{name}HasCustomDomain");
        let domain = format!("{name}CustomDomain");
        let (default_domain, default_certificate) =
            api.custom_domain.as_ref().map_or(("", ""), |d| {
                (d.domain.as_str(), d.certificate_arn.as_str())
            });
        self.parameter(
            &domain_parameter,
            json!({ "Type": "String", "Default": default_domain, "Description": format!("A custom domain for the {name} WebSocket API; set it and {certificate_parameter} to use one") }),
        );
        self.parameter(
            &certificate_parameter,
            json!({
                "Type": "String",
                "Default": default_certificate,
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
        let mut mapping = json!({ "ApiId": reference(api_id), "DomainName": reference(&domain), "Stage": reference(stage) });
        if let Some(base_path) = api
            .custom_domain
            .as_ref()
            .map(|d| d.base_path.as_str())
            .filter(|path| !path.is_empty())
        {
            mapping["ApiMappingKey"] = json!(base_path);
        }
        self.resource(
            format!("{name}ApiMapping"),
            Resource::new("AWS::ApiGatewayV2::ApiMapping", mapping).only_if(&condition),
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
}

/// The integration that invokes `function`.
/// The stage's `RouteSettings`: each throttled route's own limits.
fn route_settings(api: &WebSocketApiDescription) -> Option<Value> {
    if api.route_throttling.is_empty() {
        return None;
    }
    let settings: serde_json::Map<String, Value> = api
        .route_throttling
        .iter()
        .map(|(key, limits)| {
            let limits = json!({
                "ThrottlingRateLimit": limits.rate_limit,
                "ThrottlingBurstLimit": limits.burst_limit,
            });
            (key.clone(), limits)
        })
        .collect();
    Some(Value::Object(settings))
}

fn integration_id(function: &str) -> String {
    format!("{}WebSocketIntegration", logical_id(function))
}
