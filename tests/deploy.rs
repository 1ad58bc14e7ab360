//! SAM templates written from the adapters: what cfn-lint checks, and what it cannot
//! (that the template matches the code).

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use fabric::app::{App, FunctionAdapter};
use fabric::deploy::{BuildOptions, Template};
use fabric::prelude::*;
use fabric_examples::{chat, echo};

fn websocket_template(adapter: &fabric::websocket::WebSocketAdapter) -> Value {
    single_template("chat", adapter.clone())
}

/// The template `fabric::run(adapter)` prints from the binary `function`.
fn single_template(function: &str, adapter: impl Into<FunctionAdapter>) -> Value {
    let app = App::single(function, adapter).describe().unwrap();
    Template::from_app(&app, &BuildOptions::default()).to_value()
}

/// The resources of `kind`, by logical id.
fn resources<'t>(template: &'t Value, kind: &str) -> Vec<(&'t str, &'t Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(id, resource)| (id.as_str(), resource))
        .collect()
}

fn route_keys(template: &Value) -> BTreeSet<String> {
    resources(template, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .map(|(_, route)| {
            assert_eq!(
                route["Properties"]["ApiId"],
                json!({"Ref": "ChatWebSocketApi"})
            );
            route["Properties"]["RouteKey"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn the_websocket_api_is_the_adapters() {
    let adapter = chat::adapter();
    let template = websocket_template(&adapter);
    let api = &template["Resources"]["ChatWebSocketApi"]["Properties"];
    assert_eq!(api["ProtocolType"], "WEBSOCKET");
    assert_eq!(
        api["RouteSelectionExpression"],
        adapter.selection().expression()
    );
    let expected: BTreeSet<String> = adapter.route_keys().into_iter().collect();
    assert_eq!(route_keys(&template), expected);
    assert!(
        expected.contains("$connect"),
        "the chat checks tokens on $connect"
    );

    let custom = chat::adapter().route_selection("$request.body.type");
    let template = websocket_template(&custom);
    assert_eq!(
        template["Resources"]["ChatWebSocketApi"]["Properties"]["RouteSelectionExpression"],
        "$request.body.type"
    );
}

#[derive(Debug, Deserialize, Input)]
struct Room {
    room: String,
}

#[fabric_service]
async fn join(input: Room, _ctx: Context) -> Result<String, Error> {
    Ok(input.room)
}

#[fabric_service]
async fn typing(input: Room, _ctx: Context) -> Result<String, Error> {
    Ok(input.room)
}

#[test]
fn a_route_added_in_code_is_added_to_the_template() {
    let before = websocket_template(&fabric_websocket(WebSocketRouter::new().service(join)));
    assert_eq!(
        route_keys(&before),
        BTreeSet::from(["$disconnect".into(), "$default".into(), "join".into()])
    );
    let after = websocket_template(&fabric_websocket(
        WebSocketRouter::new().service(join).service(typing),
    ));
    assert_eq!(
        route_keys(&after),
        BTreeSet::from([
            "$disconnect".into(),
            "$default".into(),
            "join".into(),
            "typing".into()
        ])
    );
    assert_eq!(
        after["Resources"]["ChatTypingRoute"]["Properties"]["RouteKey"],
        "typing"
    );
}

#[test]
fn two_way_routes_have_route_responses_and_one_way_routes_do_not() {
    let two_way = single_template("echo", echo::adapter());
    let responses: BTreeSet<String> = resources(&two_way, "AWS::ApiGatewayV2::RouteResponse")
        .into_iter()
        .map(|(_, response)| {
            assert_eq!(response["Properties"]["RouteResponseKey"], "$default");
            response["Properties"]["RouteId"]["Ref"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        responses,
        BTreeSet::from([
            "EchoDefaultRoute".into(),
            "EchoEchoRoute".into(),
            "EchoBoomRoute".into()
        ])
    );
    assert_eq!(
        two_way["Resources"]["EchoEchoRoute"]["Properties"]["RouteResponseSelectionExpression"],
        "$default"
    );
    assert!(
        two_way["Resources"]["EchoDisconnectRoute"]["Properties"]
            .get("RouteResponseSelectionExpression")
            .is_none()
    );
    let one_way = websocket_template(&chat::adapter());
    assert!(resources(&one_way, "AWS::ApiGatewayV2::RouteResponse").is_empty());
}

#[test]
fn manage_connections_names_this_apis_connections_for_all_three_methods() {
    let template = websocket_template(&chat::adapter());
    let policies = template["Resources"]["ChatFunction"]["Properties"]["Policies"]
        .as_array()
        .unwrap();
    let statement = &policies[0]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "execute-api:ManageConnections");
    let arns: Vec<&str> = statement["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arn| arn["Fn::Sub"].as_str().unwrap())
        .collect();
    let prefix = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ChatWebSocketApi}/${StageName}";
    assert_eq!(
        arns,
        ["POST", "GET", "DELETE"].map(|method| format!("{prefix}/{method}/@connections/*"))
    );
    let permission = &template["Resources"]["ChatWebSocketPermission"]["Properties"];
    assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
    assert!(
        permission["SourceArn"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .contains("${ChatWebSocketApi}/*")
    );
}

#[test]
fn the_function_knows_its_management_endpoint_and_the_outputs_name_the_urls() {
    let template = websocket_template(&chat::adapter());
    let function = &template["Resources"]["ChatFunction"];
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], "chat");
    assert_eq!(function["Properties"]["Runtime"], "provided.al2023");
    let endpoint =
        "https://${ChatWebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}";
    assert_eq!(
        function["Properties"]["Environment"]["Variables"]["FABRIC_MANAGEMENT_ENDPOINT"]["Fn::Sub"],
        endpoint
    );
    assert_eq!(
        template["Outputs"]["ChatManagementEndpoint"]["Value"]["Fn::Sub"],
        endpoint
    );
    assert_eq!(
        template["Outputs"]["ChatWebSocketUrl"]["Value"]["Fn::Sub"],
        "wss://${ChatWebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"
    );
    let mapping = &template["Resources"]["ChatApiMapping"];
    assert_eq!(mapping["Condition"], "ChatHasCustomDomain");
    assert_eq!(
        mapping["Properties"]["Stage"],
        json!({"Ref": "ChatWebSocketStage"})
    );
}

#[test]
fn http_routes_follow_the_router() {
    use fabric::http::{Method, Route};
    let router = fabric::fabric_http(fabric_examples::division::division)
        .route(Route::new(join).path("/rooms/:room").methods([Method::PUT]));
    let template = single_template("division-http", router.clone());
    let events = template["Resources"]["DivisionHttpFunction"]["Properties"]["Events"]
        .as_object()
        .unwrap();
    let routes: BTreeSet<String> = events
        .values()
        .map(|event| {
            let properties = &event["Properties"];
            assert_eq!(event["Type"], "HttpApi");
            assert_eq!(properties["ApiId"], json!({"Ref": "DivisionHttpHttpApi"}));
            match (properties.get("Method"), properties.get("Path")) {
                (Some(method), Some(path)) => {
                    format!("{} {}", method.as_str().unwrap(), path.as_str().unwrap())
                }
                _ => "$default".to_owned(),
            }
        })
        .collect();
    let expected = [
        "GET /division",
        "POST /division",
        "OPTIONS /division",
        "PUT /rooms/{room}",
        "OPTIONS /rooms/{room}",
        "$default",
    ];
    assert_eq!(routes, expected.into_iter().map(str::to_owned).collect());
    assert!(template["Outputs"]["DivisionHttpHttpUrl"].is_object());
}

#[test]
fn a_streaming_router_gets_a_streaming_function_url_and_no_http_api() {
    let router = fabric::fabric_http(fabric_examples::greet::greet);
    let streaming = single_template("greet-url", router.clone().lambda_streaming(true));
    let function = &streaming["Resources"]["GreetUrlFunction"]["Properties"];
    assert_eq!(
        function["FunctionUrlConfig"],
        json!({"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"})
    );
    assert!(function.get("Events").is_none());
    assert!(resources(&streaming, "AWS::Serverless::HttpApi").is_empty());
    assert_eq!(
        streaming["Outputs"]["GreetUrlFunctionUrl"]["Value"],
        json!({"Fn::GetAtt": ["GreetUrlFunctionUrl", "FunctionUrl"]})
    );

    let buffered = single_template("greet-url", router);
    assert!(
        buffered["Resources"]["GreetUrlFunction"]["Properties"]
            .get("FunctionUrlConfig")
            .is_none()
    );
    assert_eq!(resources(&buffered, "AWS::Serverless::HttpApi").len(), 1);
}

/// `cfn-lint` from PyPI, which `.ci/run` installs.
fn cfn_lint() -> Option<Command> {
    match Command::new("cfn-lint").arg("--version").output() {
        Ok(output) if output.status.success() => Some(Command::new("cfn-lint")),
        _ if std::env::var_os("CI").is_some() => {
            panic!("cfn-lint is not installed; .ci/run installs it")
        }
        _ => {
            eprintln!("skipping: cfn-lint is not installed (pip install cfn-lint)");
            None
        }
    }
}

fn print_template(binary: &str, extra: &[&str]) -> String {
    let output = Command::new(binary)
        .arg("--print-template")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_example_templates_pass_cfn_lint() {
    let Some(mut lint) = cfn_lint() else { return };
    let dir = std::env::temp_dir().join(format!("fabric-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, binary) in [
        ("chat", env!("CARGO_BIN_EXE_chat")),
        ("division-http", env!("CARGO_BIN_EXE_division-http")),
        ("greet-url", env!("CARGO_BIN_EXE_greet-url")),
        ("chat-app", env!("CARGO_BIN_EXE_chat-app")),
        ("division-mcp", env!("CARGO_BIN_EXE_division-mcp")),
    ] {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, print_template(binary, &[])).unwrap();
        files.push(path);
    }
    let output = lint.args(&files).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_mcp_server_gets_its_function_url_or_its_route_in_an_http_api() {
    // Alone, as `division-mcp --print-template` prints it: the function and its URL.
    let template: Value = serde_json::from_str(&print_template(
        env!("CARGO_BIN_EXE_division-mcp"),
        &["--format", "json"],
    ))
    .unwrap();
    let function = &template["Resources"]["DivisionMcpFunction"]["Properties"];
    assert_eq!(
        function["FunctionUrlConfig"],
        json!({"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"})
    );
    assert!(resources(&template, "AWS::Serverless::HttpApi").is_empty());
    assert!(template["Outputs"]["DivisionMcpFunctionUrl"].is_object());

    // In an app's HTTP API: the API's route to /mcp, buffered as API Gateway needs.
    let server = fabric::fabric_mcp(fabric_examples::division::division);
    let app = |server: fabric::McpServer| {
        App::new("Tools")
            .http_api("Api", |api| {
                api.handler("division-http").handler("tools-mcp")
            })
            .function(
                "division-http",
                fabric::fabric_http(fabric_examples::division::division),
            )
            .function("tools-mcp", server)
    };
    let refused = app(server.clone()).describe().unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("function `tools-mcp` answers in Lambda's response streaming mode"),
        "{refused}"
    );
    let described = app(server.lambda_streaming(false)).describe().unwrap();
    let template = Template::from_app(&described, &BuildOptions::default()).to_value();
    let events = &template["Resources"]["ToolsMcpFunction"]["Properties"]["Events"];
    assert_eq!(events["PostMcp"]["Properties"]["Path"], "/mcp");
    assert_eq!(events["PostMcp"]["Properties"]["Method"], "POST");
    assert_eq!(events["OptionsMcp"]["Properties"]["Method"], "OPTIONS");
}

#[test]
fn the_chat_template_matches_its_golden_file() {
    check_golden("chat.template.yaml", env!("CARGO_BIN_EXE_chat"));
}

#[test]
fn the_chat_app_template_matches_its_golden_file() {
    // Any of the app's binaries prints the whole app's template.
    check_golden("chat-app.template.yaml", env!("CARGO_BIN_EXE_chat-app"));
    assert_eq!(
        print_template(env!("CARGO_BIN_EXE_chat-send"), &[]),
        print_template(env!("CARGO_BIN_EXE_chat-app"), &[])
    );
}

/// The template `binary` prints equals `tests/golden/{name}`; `UPDATE_GOLDEN=1`
/// accepts a change.
fn check_golden(name: &str, binary: &str) {
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden")
        .join(name);
    let current = print_template(binary, &[]);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &current).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("tests/golden/{name} (UPDATE_GOLDEN=1 writes it)"));
    assert!(
        current == expected,
        "the template {name} changed; review the difference and run with UPDATE_GOLDEN=1 to accept it:\n{}",
        diff(&expected, &current)
    );
}

fn app_template(app: &App) -> Value {
    Template::from_app(&app.describe().unwrap(), &BuildOptions::default()).to_value()
}

/// The function a route's integration invokes: `Target` names an integration whose
/// URI names the function's ARN.
fn function_of_route(template: &Value, route: &Value) -> String {
    let target = route["Properties"]["Target"]["Fn::Sub"].as_str().unwrap();
    let integration = target
        .strip_prefix("integrations/${")
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap();
    let uri = template["Resources"][integration]["Properties"]["IntegrationUri"]["Fn::Sub"]
        .as_str()
        .unwrap();
    let function_id = uri
        .split("${")
        .nth(3)
        .unwrap()
        .split(".Arn")
        .next()
        .unwrap();
    function_id.to_owned()
}

#[test]
fn each_route_of_the_app_invokes_the_function_that_serves_it() {
    let app = fabric_examples::chat_app::app();
    let description = app.describe().unwrap();
    let template = app_template(&app);
    assert_eq!(resources(&template, "AWS::ApiGatewayV2::Api").len(), 1);
    assert_eq!(resources(&template, "AWS::ApiGatewayV2::Stage").len(), 1);
    let fabric::describe::ApiDescription::WebSocket(api) = &description.apis[0] else {
        panic!("a WebSocket API");
    };
    let routes = resources(&template, "AWS::ApiGatewayV2::Route");
    assert_eq!(routes.len(), api.routes.len());
    for route in &api.routes {
        let (_, resource) = routes
            .iter()
            .find(|(_, r)| r["Properties"]["RouteKey"] == route.key.as_str())
            .unwrap_or_else(|| panic!("a route for {}", route.key));
        let expected = match route.function.as_str() {
            "chat-connect" => "ChatConnectFunction",
            "chat-disconnect" => "ChatDisconnectFunction",
            "chat-default" => "ChatDefaultFunction",
            "chat-send" => "ChatSendFunction",
            other => panic!("unexpected function {other}"),
        };
        assert_eq!(
            function_of_route(&template, resource),
            expected,
            "{}",
            route.key
        );
    }

    // One pair of tables, granted to the four functions that track connections
    // and to the sweep.
    let tables = resources(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 2);
    let functions = resources(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 6);
    for (id, function) in &functions {
        let properties = &function["Properties"];
        if *id == "ChatSweepFunction" {
            // Its schedule and GetConnection: see the sweep's own test.
            continue;
        }
        if *id == "ChatAuthorizerFunction" {
            // The authorizer reads its signing secret, no table, and posts to no
            // connection.
            let actions: Vec<&Value> = properties["Policies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| &p["Statement"][0]["Action"])
                .collect();
            assert_eq!(
                actions,
                [&json!("secretsmanager:GetSecretValue")],
                "{properties}"
            );
            assert!(properties["Environment"]["Variables"]["SECRET_CHAT_JWT_SECRET"].is_object());
            continue;
        }
        let granted: BTreeSet<String> = properties["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["DynamoDBCrudPolicy"]["TableName"]["Ref"].as_str())
            .map(str::to_owned)
            .collect();
        assert_eq!(
            granted,
            BTreeSet::from([
                "ChatAppConnectionsTable".to_owned(),
                "ChatAppRoomsTable".to_owned()
            ]),
            "{id}"
        );
        let variables = &properties["Environment"]["Variables"];
        assert_eq!(
            variables["FABRIC_CONNECTIONS_TABLE"],
            json!({"Ref": "ChatAppConnectionsTable"})
        );
        assert!(variables["FABRIC_MANAGEMENT_ENDPOINT"].is_object(), "{id}");
        // Only the functions that post may manage connections.
        let manages = properties["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Statement"][0]["Action"] == "execute-api:ManageConnections");
        let posts = *id == "ChatDefaultFunction" || *id == "ChatSendFunction";
        assert_eq!(manages, posts, "{id}");
    }
}

#[test]
fn a_route_added_to_a_function_in_code_appears_in_the_apps_template() {
    use fabric_examples::chat_app;
    let app = chat_app::app_with(chat_app::send_routes().route("typing", typing));
    let template = app_template(&app);
    let routes = resources(&template, "AWS::ApiGatewayV2::Route");
    let (_, typing_route) = routes
        .iter()
        .find(|(_, r)| r["Properties"]["RouteKey"] == "typing")
        .expect("the typing route");
    assert_eq!(
        function_of_route(&template, typing_route),
        "ChatSendFunction"
    );
    let before = resources(&app_template(&chat_app::app()), "AWS::ApiGatewayV2::Route").len();
    assert_eq!(routes.len(), before + 1);
}

/// The lines that differ, for a readable failure.
fn diff(expected: &str, current: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let current: Vec<&str> = current.lines().collect();
    let mut out = String::new();
    for i in 0..expected.len().max(current.len()) {
        let (old, new) = (expected.get(i), current.get(i));
        if old != new {
            out.push_str(&format!(
                "line {}:\n- {}\n+ {}\n",
                i + 1,
                old.unwrap_or(&""),
                new.unwrap_or(&"")
            ));
        }
    }
    out
}

#[test]
fn every_lambda_binary_prints_its_template_and_a_cli_refuses() {
    let json: Value = serde_json::from_str(&print_template(
        env!("CARGO_BIN_EXE_echo"),
        &["--format", "json"],
    ))
    .unwrap();
    assert_eq!(
        json["Resources"]["EchoFunction"]["Properties"]["Architectures"],
        json!(["arm64"])
    );
    let x86 = print_template(
        env!("CARGO_BIN_EXE_division-http"),
        &["--architecture", "x86_64", "--code-uri", "examples"],
    );
    assert!(
        x86.contains("- x86_64") && x86.contains("CodeUri: examples"),
        "{x86}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_division"))
        .arg("--print-template")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not run on Lambda"));
    let output = Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(["--print-template", "--format", "toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_store_gives_the_stack_its_tables_and_the_function_their_names_and_access() {
    let template = websocket_template(&chat::adapter());
    let variables =
        &template["Resources"]["ChatFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        variables["FABRIC_CONNECTIONS_TABLE"],
        json!({"Ref": "ChatConnectionsTable"})
    );
    assert_eq!(
        variables["FABRIC_ROOMS_TABLE"],
        json!({"Ref": "ChatRoomsTable"})
    );
    let policies = template["Resources"]["ChatFunction"]["Properties"]["Policies"]
        .as_array()
        .unwrap();
    assert!(
        policies.contains(
            &json!({"DynamoDBCrudPolicy": {"TableName": {"Ref": "ChatConnectionsTable"}}})
        )
    );
    assert!(
        policies.contains(&json!({"DynamoDBCrudPolicy": {"TableName": {"Ref": "ChatRoomsTable"}}}))
    );
    for table in ["ChatConnectionsTable", "ChatRoomsTable"] {
        let properties = &template["Resources"][table]["Properties"];
        assert_eq!(
            properties["TimeToLiveSpecification"],
            json!({"AttributeName": "expiresAt", "Enabled": true})
        );
        assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    }
    let connections = &template["Resources"]["ChatConnectionsTable"]["Properties"];
    assert_eq!(
        connections["KeySchema"],
        json!([{"AttributeName": "connectionId", "KeyType": "HASH"}])
    );
    assert_eq!(
        connections["GlobalSecondaryIndexes"][0]["IndexName"],
        "userId-index"
    );

    let without_store = websocket_template(&fabric_websocket(echo::echo));
    assert!(resources(&without_store, "AWS::DynamoDB::Table").is_empty());
}

#[tokio::test]
async fn the_store_works_on_the_tables_the_template_declares() {
    use fabric::store::{Connection, ConnectionStore, DynamoDbStore};

    let Some(endpoint) = support::dynamodb::server("template_tables").await else {
        return;
    };
    let template = websocket_template(&chat::adapter());
    let client = DynamoDbStore::sdk_client(Some(&endpoint));
    let table = support::dynamodb::unique_table("template");
    let rooms = format!("{table}-rooms");
    support::dynamodb::create_table_from_template(
        &client,
        &table,
        &template,
        "ChatConnectionsTable",
    )
    .await;
    support::dynamodb::create_table_from_template(&client, &rooms, &template, "ChatRoomsTable")
        .await;

    // Every query path of the store: key lookups, the room partition, both indexes.
    let store = DynamoDbStore::new(client, &table, &rooms);
    let now = chrono::Utc::now();
    for (second, (id, user)) in [("c1", "ada"), ("c2", "ada"), ("c3", "bob")]
        .into_iter()
        .enumerate()
    {
        let connected_at = now + chrono::TimeDelta::seconds(second as i64);
        store
            .save(&Connection::new(id, connected_at).user(user))
            .await
            .unwrap();
        store.join("general", id).await.unwrap();
    }
    assert_eq!(
        store.get("c3").await.unwrap().unwrap().user_id(),
        Some("bob")
    );
    let members: Vec<String> = store
        .members("general")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.connection_id)
        .collect();
    assert_eq!(members, ["c1", "c2", "c3"]);
    let ada: Vec<String> = store
        .user_connections("ada")
        .await
        .unwrap()
        .iter()
        .map(|c| c.connection_id().to_owned())
        .collect();
    assert_eq!(ada, ["c1", "c2"]);
    store.delete("c1").await.unwrap();
    let members: Vec<String> = store
        .members("general")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.connection_id)
        .collect();
    assert_eq!(members, ["c2", "c3"]);
}

#[test]
fn a_rate_limit_in_the_table_gives_the_stack_its_bucket_table_and_the_function_access() {
    // The chat keeps its per-connection buckets in the rate limit table on Lambda.
    let template = websocket_template(&chat::adapter());
    let properties = &template["Resources"]["ChatRateLimitTable"]["Properties"];
    assert_eq!(
        properties["KeySchema"],
        json!([{"AttributeName": "bucket", "KeyType": "HASH"}])
    );
    assert_eq!(
        properties["AttributeDefinitions"],
        json!([{"AttributeName": "bucket", "AttributeType": "S"}])
    );
    assert_eq!(
        properties["TimeToLiveSpecification"],
        json!({"AttributeName": "expiresAt", "Enabled": true})
    );
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    let function = &template["Resources"]["ChatFunction"]["Properties"];
    assert_eq!(
        function["Environment"]["Variables"]["FABRIC_RATE_LIMIT_TABLE"],
        json!({"Ref": "ChatRateLimitTable"})
    );
    assert!(
        function["Policies"]
            .as_array()
            .unwrap()
            .contains(&json!({"DynamoDBCrudPolicy": {"TableName": {"Ref": "ChatRateLimitTable"}}}))
    );

    // A limit in memory (or in a table of its own) needs no table from the stack.
    let in_memory =
        echo::adapter().rate_limit(fabric::websocket::RateLimit::per_connection(5.0, 5));
    let template = websocket_template(&in_memory);
    assert!(template["Resources"].get("ChatRateLimitTable").is_none());
    assert!(
        template["Resources"]["ChatFunction"]["Properties"]["Environment"]["Variables"]
            .get("FABRIC_RATE_LIMIT_TABLE")
            .is_none()
    );
}

#[tokio::test]
async fn rate_limit_buckets_work_on_the_table_the_template_declares() {
    use fabric::store::{BucketLimit, DynamoDbBuckets, DynamoDbStore, Take, TokenBuckets};

    let Some(endpoint) = support::dynamodb::server("template_buckets").await else {
        return;
    };
    let template = websocket_template(&chat::adapter());
    let client = DynamoDbStore::sdk_client(Some(&endpoint));
    let table = support::dynamodb::unique_table("buckets");
    support::dynamodb::create_table_from_template(&client, &table, &template, "ChatRateLimitTable")
        .await;
    let buckets = DynamoDbBuckets::new(client, &table);
    let limit = BucketLimit::new(0.001, 2);
    assert!(buckets.take("conn:a", limit).await.unwrap().is_allowed());
    assert!(buckets.take("conn:a", limit).await.unwrap().is_allowed());
    assert!(matches!(
        buckets.take("conn:a", limit).await.unwrap(),
        Take::Limited { .. }
    ));
    assert!(buckets.take("conn:b", limit).await.unwrap().is_allowed());
}

#[test]
fn stage_throttling_reaches_the_stages_default_route_settings_and_passes_cfn_lint() {
    let throttled = echo::adapter().stage_throttling(100, 200);
    let template = single_template("echo", throttled);
    let stages = resources(&template, "AWS::ApiGatewayV2::Stage");
    assert_eq!(stages.len(), 1);
    assert_eq!(
        stages[0].1["Properties"]["DefaultRouteSettings"],
        json!({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200})
    );
    let plain = single_template("echo", echo::adapter());
    let stages = resources(&plain, "AWS::ApiGatewayV2::Stage");
    assert!(
        stages[0].1["Properties"]
            .get("DefaultRouteSettings")
            .is_none()
    );

    // An app's API setting wins over its functions'.
    let app = App::new("Throttled")
        .function("echo", echo::adapter().stage_throttling(100, 200))
        .websocket_api("Echo", |api| api.handler("echo").throttling(5, 10));
    let template = app_template(&app);
    let stages = resources(&template, "AWS::ApiGatewayV2::Stage");
    assert_eq!(
        stages[0].1["Properties"]["DefaultRouteSettings"],
        json!({"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10})
    );

    lint(&template, "throttled");
}

#[test]
fn the_sweep_is_a_scheduled_function_allowed_get_connection_and_the_tables() {
    let app = App::single("chat", chat::adapter()).describe().unwrap();
    let build = BuildOptions::default();
    let mut template = Template::from_app(&app, &build);
    let sweep = fabric::deploy::SweepFunction::new("chat_sweep", "chat")
        .every(std::time::Duration::from_secs(30 * 60));
    template.add_sweep(&app, &sweep, &build).unwrap();
    let missing = Template::from_app(&app, &build).add_sweep(
        &app,
        &fabric::deploy::SweepFunction::new("x", "nope"),
        &build,
    );
    assert_eq!(
        missing.unwrap_err(),
        r#"the app has no WebSocket API named "nope""#
    );

    let value = template.to_value();
    let function = &value["Resources"]["ChatSweepFunction"];
    let properties = &function["Properties"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "chat_sweep"
    );
    assert_eq!(
        properties["Events"]["Schedule"],
        json!({ "Type": "Schedule", "Properties": { "Schedule": "rate(30 minutes)" } })
    );
    assert_eq!(properties["Timeout"], 90, "over the sweep's 60 s budget");
    let variables = &properties["Environment"]["Variables"];
    assert_eq!(
        variables["FABRIC_CONNECTIONS_TABLE"],
        json!({ "Ref": "ChatConnectionsTable" })
    );
    assert_eq!(
        variables["FABRIC_ROOMS_TABLE"],
        json!({ "Ref": "ChatRoomsTable" })
    );
    assert!(
        variables["FABRIC_MANAGEMENT_ENDPOINT"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .starts_with("https://${ChatWebSocketApi}.execute-api."),
        "{variables}"
    );
    let policies = properties["Policies"].as_array().unwrap();
    let statement = &policies[0]["Statement"][0];
    assert_eq!(statement["Action"], "execute-api:ManageConnections");
    assert!(
        statement["Resource"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .ends_with("/GET/@connections/*"),
        "only GetConnection: {statement}"
    );
    assert_eq!(
        policies.len(),
        3,
        "ManageConnections and both tables: {policies:?}"
    );
    // One pair of connection tables, shared with the chat function (and the chat's
    // rate limit table, which the sweep is not granted).
    let tables: BTreeSet<&str> = resources(&value, "AWS::DynamoDB::Table")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        tables,
        BTreeSet::from([
            "ChatConnectionsTable",
            "ChatRoomsTable",
            "ChatRateLimitTable"
        ])
    );

    lint(&value, "sweep");
}

#[test]
fn the_chat_apps_sweep_is_a_scheduled_function_of_its_template() {
    let template = app_template(&fabric_examples::chat_app::app());
    let function = &template["Resources"]["ChatSweepFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "chat-sweep"
    );
    let properties = &function["Properties"];
    assert_eq!(
        properties["Events"],
        json!({ "Schedule": { "Type": "Schedule", "Properties": { "Schedule": "rate(15 minutes)" } } })
    );
    assert_eq!(properties["Timeout"], 90, "the 60 s budget and 30 s");
    let variables = &properties["Environment"]["Variables"];
    assert_eq!(
        variables["FABRIC_MANAGEMENT_ENDPOINT"],
        json!({ "Fn::Sub": "https://${ChatWebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}" })
    );
    assert_eq!(
        variables["FABRIC_CONNECTIONS_TABLE"],
        json!({ "Ref": "ChatAppConnectionsTable" })
    );
    assert_eq!(
        variables["FABRIC_ROOMS_TABLE"],
        json!({ "Ref": "ChatAppRoomsTable" })
    );
    assert_eq!(
        properties["Policies"],
        json!([
            { "Statement": [{
                "Effect": "Allow",
                "Action": "execute-api:ManageConnections",
                "Resource": { "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ChatWebSocketApi}/${StageName}/GET/@connections/*" },
            }] },
            { "DynamoDBCrudPolicy": { "TableName": { "Ref": "ChatAppConnectionsTable" } } },
            { "DynamoDBCrudPolicy": { "TableName": { "Ref": "ChatAppRoomsTable" } } },
        ]),
        "only GetConnection, and the app's tables"
    );
    // It is no route: no integration, no invoke permission for API Gateway, no URL.
    assert!(properties.get("FunctionUrlConfig").is_none());
    for kind in ["AWS::ApiGatewayV2::Integration", "AWS::Lambda::Permission"] {
        for (id, resource) in resources(&template, kind) {
            assert!(
                !resource.to_string().contains("ChatSweepFunction"),
                "{id} names the sweep"
            );
        }
    }
    lint(&template, "chat-app-sweep");
}

#[test]
fn an_apps_sweep_function_and_add_sweep_write_the_same_template() {
    let every = std::time::Duration::from_secs(30 * 60);
    let app = App::single("chat", chat::adapter()).function(
        "chat_sweep",
        fabric::websocket::Sweep::app_store()
            .sweeps("chat")
            .every(every),
    );
    let build = BuildOptions::default();
    let plain = App::single("chat", chat::adapter()).describe().unwrap();
    let mut added = Template::from_app(&plain, &build);
    let sweep = fabric::deploy::SweepFunction::new("chat_sweep", "chat").every(every);
    added.add_sweep(&plain, &sweep, &build).unwrap();
    assert_eq!(app_template(&app), added.to_value());
}

#[test]
fn declared_secrets_get_their_variables_the_extension_layer_and_read_access_to_exactly_them() {
    let adapter = fabric::websocket::fabric_websocket(echo::echo).secrets(["API_KEY", "DB_URL"]);
    let template = single_template("echo", adapter);
    let properties = &template["Resources"]["EchoFunction"]["Properties"];
    let variables = &properties["Environment"]["Variables"];
    assert_eq!(
        variables["SECRET_API_KEY"],
        json!({ "Ref": "ApiKeySecret" })
    );
    assert_eq!(variables["SECRET_DB_URL"], json!({ "Ref": "DbUrlSecret" }));
    assert_eq!(
        template["Parameters"]["ApiKeySecret"]["Default"],
        "echo/API_KEY"
    );

    let statements: Vec<&Value> = properties["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|policy| policy["Statement"].as_array().into_iter().flatten())
        .filter(|statement| statement["Action"] == "secretsmanager:GetSecretValue")
        .collect();
    assert_eq!(statements.len(), 1, "{statements:?}");
    let resources: Vec<&str> = statements[0]["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arn| arn["Fn::Sub"].as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ApiKeySecret}-??????",
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${DbUrlSecret}-??????",
        ],
        "exactly the declared secrets, never *"
    );

    let layer = &properties["Layers"][0]["Fn::Sub"];
    assert!(
        layer[0]
            .as_str()
            .unwrap()
            .ends_with(":layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:${Version}"),
        "{layer}"
    );
    assert_eq!(
        layer[1]["Account"]["Fn::FindInMap"],
        json!(["SecretsExtensionLayers", {"Ref": "AWS::Region"}, "Account"])
    );
    // The version: the stack's own if given, else the one pinned for the region.
    assert_eq!(
        layer[1]["Version"]["Fn::If"],
        json!([
            "SecretsExtensionLayerVersionGiven",
            {"Ref": "SecretsExtensionLayerVersion"},
            {"Fn::FindInMap": ["SecretsExtensionLayers", {"Ref": "AWS::Region"}, "Arm64Version"]}
        ])
    );
    let layers = &template["Mappings"]["SecretsExtensionLayers"];
    assert_eq!(
        layers["eu-west-1"],
        json!({"Account": "015030872274", "Arm64Version": "4", "X86Version": "2"})
    );
    // arm64 came later to some regions: its layer there starts again at 1.
    assert_eq!(layers["af-south-1"]["Arm64Version"], "1");
    assert_eq!(
        template["Parameters"]["SecretsExtensionLayerVersion"]["Default"],
        ""
    );

    // A function without secrets gets none of it.
    let plain = single_template("echo", echo::adapter());
    assert!(plain["Resources"]["EchoFunction"]["Properties"]["Layers"].is_null());
    assert!(plain["Mappings"].is_null());
    assert!(!plain.to_string().contains("secretsmanager"));

    lint(&template, "secrets");
}

#[test]
fn route_throttling_is_the_stages_route_settings() {
    let adapter = chat::adapter().route_throttling("sendMessage", 50, 100);
    let template = websocket_template(&adapter);
    let stage = &template["Resources"]["ChatWebSocketStage"]["Properties"];
    assert_eq!(
        stage["RouteSettings"],
        json!({ "sendMessage": { "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100 } })
    );
    assert!(websocket_template(&chat::adapter())["Resources"]["ChatWebSocketStage"]["Properties"]["RouteSettings"].is_null());
}

fn token_authorizer() -> fabric::websocket::AuthorizerAdapter {
    use fabric::websocket::{Authorized, AuthorizerRequest, IdentitySource, fabric_authorizer};
    fabric_authorizer(
        [
            IdentitySource::Query("token".into()),
            IdentitySource::Header("Sec-WebSocket-Protocol".into()),
        ],
        |_req: AuthorizerRequest| async {
            Ok(Authorized {
                principal_id: "ada".into(),
                context: (),
            })
        },
    )
}

/// The authorizer, its permission and the `$connect` route of a template, checked:
/// REQUEST, the identity sources, the function it invokes; `$connect` CUSTOM with
/// it, every other route NONE. Gives back the function's logical id.
fn check_authorizer(template: &Value) -> String {
    let authorizers = resources(template, "AWS::ApiGatewayV2::Authorizer");
    assert_eq!(authorizers.len(), 1, "{template:#}");
    let (id, authorizer) = authorizers[0];
    let properties = &authorizer["Properties"];
    assert_eq!(properties["AuthorizerType"], "REQUEST");
    assert_eq!(
        properties["IdentitySource"],
        json!([
            "route.request.querystring.token",
            "route.request.header.Sec-WebSocket-Protocol"
        ])
    );
    let uri = properties["AuthorizerUri"]["Fn::Sub"].as_str().unwrap();
    let function = uri
        .split("${")
        .nth(3)
        .unwrap()
        .split(".Arn")
        .next()
        .unwrap();
    assert!(template["Resources"][function]["Type"] == "AWS::Serverless::Function");
    let permission = resources(template, "AWS::Lambda::Permission")
        .into_iter()
        .find(|(_, p)| {
            p["Properties"]["SourceArn"]["Fn::Sub"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(&format!("/authorizers/${{{id}}}")))
        })
        .expect("a permission for API Gateway to invoke the authorizer");
    assert_eq!(
        permission.1["Properties"]["FunctionName"],
        json!({"Ref": function})
    );
    assert_eq!(
        permission.1["Properties"]["Principal"],
        "apigateway.amazonaws.com"
    );
    for (_, route) in resources(template, "AWS::ApiGatewayV2::Route") {
        let properties = &route["Properties"];
        if properties["RouteKey"] == "$connect" {
            assert_eq!(properties["AuthorizationType"], "CUSTOM");
            assert_eq!(properties["AuthorizerId"], json!({"Ref": id}));
        } else {
            assert_eq!(properties["AuthorizationType"], "NONE");
            assert!(properties.get("AuthorizerId").is_none());
        }
    }
    function.to_owned()
}

/// Runs cfn-lint on `template` (skipped off CI when it is not installed).
fn lint(template: &Value, name: &str) {
    let Some(mut lint) = cfn_lint() else { return };
    let path = std::env::temp_dir().join(format!("fabric-{name}-{}.json", std::process::id()));
    std::fs::write(&path, template.to_string()).unwrap();
    let output = lint.arg(&path).output().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_single_adapters_authorizer_is_its_own_function_and_guards_connect() {
    let template = single_template("echo", echo::adapter().authorizer(token_authorizer()));
    assert_eq!(check_authorizer(&template), "EchoFunction");
    assert_eq!(resources(&template, "AWS::Serverless::Function").len(), 1);
    lint(&template, "single-authorizer");

    let plain = single_template("echo", echo::adapter());
    assert!(resources(&plain, "AWS::ApiGatewayV2::Authorizer").is_empty());
}

#[test]
fn an_apps_authorizer_function_gets_its_own_lambda_and_guards_connect() {
    let app = App::new("Guarded")
        .websocket_api("Guarded", |api| {
            api.handler("echo").authorizer("echo-authorizer")
        })
        .function("echo", echo::adapter().track_connections())
        .function("echo-authorizer", token_authorizer());
    let template = app_template(&app);
    assert_eq!(check_authorizer(&template), "EchoAuthorizerFunction");
    let authorizer = &template["Resources"]["EchoAuthorizerFunction"]["Properties"];
    // It decides on handshakes only: no tables, no posting.
    assert!(authorizer.get("Policies").is_none(), "{authorizer:#}");
    assert_eq!(resources(&template, "AWS::Serverless::Function").len(), 2);
    lint(&template, "app-authorizer");
}
