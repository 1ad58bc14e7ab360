//! Services as LLM tools: the definitions and the tool-call round trip in each
//! vendor's format, checked against documents of the shape each vendor publishes
//! (`tests/fixtures/llm/`), and Bedrock's against the Converse API's own model in
//! botocore (installed with moto by `.ci/run`).

mod support;

use fabric::prelude::*;
use fabric::tools::{Format, Tools};
use fabric_examples::division::division;
use fabric_examples::echo::boom;
use fabric_examples::greet::greet;
use serde_json::{Value, json};

const FORMATS: [(Format, &str); 4] = [
    (Format::OpenAi, "openai-chat.json"),
    (Format::OpenAiResponses, "openai-responses.json"),
    (Format::Anthropic, "anthropic.json"),
    (Format::Bedrock, "bedrock-converse.json"),
];

/// Keys whose values are JSON Schemas or a tool's own input: free-form.
const FREE_FORM: [&str; 5] = ["parameters", "input_schema", "json", "input", "arguments"];

/// `ours` has `published`'s shape: every key one the vendor has, each value of the
/// same JSON type; an array's items each shaped like some published item.
fn assert_shape(ours: &Value, published: &Value, path: &str) {
    match (ours, published) {
        (Value::Object(ours), Value::Object(published)) => {
            for (key, value) in ours {
                let Some(expected) = published.get(key) else {
                    panic!("{path}: `{key}` is not in the vendor's format ({published:?})");
                };
                if FREE_FORM.contains(&key.as_str()) {
                    let kind = |v: &Value| std::mem::discriminant(v);
                    // The arguments are JSON text at OpenAI's and objects elsewhere.
                    assert_eq!(kind(value), kind(expected), "{path}.{key}");
                    continue;
                }
                assert_shape(value, expected, &format!("{path}.{key}"));
            }
        }
        (Value::Array(ours), Value::Array(published)) => {
            for (index, item) in ours.iter().enumerate() {
                let fits = published.iter().any(|candidate| {
                    std::panic::catch_unwind(|| assert_shape(item, candidate, path)).is_ok()
                });
                assert!(fits, "{path}[{index}]: {item} fits no published item");
            }
        }
        (ours, published) => assert_eq!(
            std::mem::discriminant(ours),
            std::mem::discriminant(published),
            "{path}: {ours} where the vendor has {published}"
        ),
    }
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&support::fixture(&format!("llm/{name}"))).unwrap()
}

fn tools() -> Tools {
    Tools::new().service(division).service(greet).service(boom)
}

fn ctx() -> Context {
    Context::builder("tools-test").build()
}

#[test]
fn the_definitions_have_each_vendors_shape_and_the_validated_schema() {
    let tools = tools();
    for (format, file) in FORMATS {
        let published = fixture(file);
        let definitions = tools.definitions(format);
        assert_shape(
            &definitions,
            &published["tools"],
            &format!("{format:?} tools"),
        );
        for (definition, service) in
            definitions
                .as_array()
                .unwrap()
                .iter()
                .zip([&division as &dyn Service, &greet, &boom])
        {
            let text = definition.to_string();
            assert!(
                text.contains(&format!(r#""name":"{}""#, service.alias())),
                "{text}"
            );
            assert!(text.contains(service.description()), "{text}");
        }
    }
}

/// The vendor's published call, pointed at `division` with `arguments`.
fn call(format: Format, file: &str, arguments: Value) -> Value {
    let mut call = fixture(file)["tool_call"].clone();
    let (name, args) = match format {
        Format::OpenAi => ("/function/name", "/function/arguments"),
        Format::OpenAiResponses => ("/name", "/arguments"),
        Format::Anthropic => ("/name", "/input"),
        _ => ("/toolUse/name", "/toolUse/input"),
    };
    *call.pointer_mut(name).unwrap() = json!("division");
    *call.pointer_mut(args).unwrap() = match format {
        Format::OpenAi | Format::OpenAiResponses => json!(arguments.to_string()),
        _ => arguments,
    };
    call
}

#[tokio::test]
async fn a_tool_call_runs_the_service_and_answers_in_the_vendors_shape() {
    for (format, file) in FORMATS {
        let published = fixture(file);
        let cases = [
            (
                json!({"numerator": "14", "denominator": 7}),
                "tool_result",
                vec!["result", "2.0"],
            ),
            (
                json!({"denominator": 0}),
                "tool_error",
                vec!["must not be zero", "/denominator"],
            ),
        ];
        for (arguments, shape, words) in cases {
            let result = round_trip(format, file, arguments).await;
            assert_shape(&result, &published[shape], &format!("{format:?} {shape}"));
            let text = result.to_string();
            assert!(words.iter().all(|word| text.contains(word)), "{text}");
        }
    }
}

/// The vendor's published call pointed at `division`, run, and its result.
async fn round_trip(format: Format, file: &str, arguments: Value) -> Value {
    tools()
        .call(format, &call(format, file, arguments), ctx())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_ids_and_the_error_marks_are_each_vendors() {
    let zero = json!({"denominator": 0});
    let anthropic = round_trip(Format::Anthropic, "anthropic.json", zero.clone()).await;
    assert_eq!(anthropic["tool_use_id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(anthropic["is_error"], true);
    let ok = round_trip(Format::Anthropic, "anthropic.json", json!({})).await;
    assert!(ok.get("is_error").is_none(), "{ok}");
    assert_eq!(ok["content"], r#"{"result":4.0}"#);

    let bedrock = round_trip(Format::Bedrock, "bedrock-converse.json", zero).await;
    assert_eq!(bedrock["toolResult"]["status"], "error");
    assert_eq!(
        bedrock["toolResult"]["toolUseId"],
        "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
    );
    let openai = round_trip(Format::OpenAi, "openai-chat.json", json!({})).await;
    assert_eq!(
        openai,
        json!({"role": "tool", "tool_call_id": "call_12345xyz", "content": r#"{"result":4.0}"#})
    );
    let responses = round_trip(Format::OpenAiResponses, "openai-responses.json", json!({})).await;
    assert_eq!(responses["call_id"], "call_12345xyz");
}

#[tokio::test]
async fn what_a_model_gets_wrong_is_a_result_it_can_read() {
    let tools = tools();
    // Arguments that are not JSON, or not an object.
    let mut garbled = fixture("openai-chat.json")["tool_call"].clone();
    garbled["function"]["name"] = json!("division");
    garbled["function"]["arguments"] = json!("{\"numerator\": 14,");
    let result = tools.call(Format::OpenAi, &garbled, ctx()).await.unwrap();
    let content = result["content"].as_str().unwrap();
    assert!(content.contains("must be a JSON object"), "{content}");
    // A tool that is not there names the ones that are.
    let mut unknown = fixture("anthropic.json")["tool_call"].clone();
    unknown["name"] = json!("get_weather");
    let result = tools
        .call(Format::Anthropic, &unknown, ctx())
        .await
        .unwrap();
    assert_eq!(result["is_error"], true);
    let content = result["content"].as_str().unwrap();
    assert!(
        content.contains("No tool named `get_weather`; the tools are: division, greet, boom"),
        "{content}"
    );
    // A panicking service is a scrubbed 500, and the next call works.
    let mut crash = fixture("bedrock-converse.json")["tool_call"].clone();
    crash["toolUse"]["name"] = json!("boom");
    let result = tools.call(Format::Bedrock, &crash, ctx()).await.unwrap();
    assert_eq!(result["toolResult"]["status"], "error");
    let text = result["toolResult"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains(r#""status":500"#) && !text.contains("boom:"),
        "{text}"
    );
    // Missing `arguments` is an empty input.
    let bare = json!({"id": "call_1", "type": "function", "function": {"name": "division"}});
    let result = tools.call(Format::OpenAi, &bare, ctx()).await.unwrap();
    assert_eq!(result["content"], r#"{"result":4.0}"#);
}

#[tokio::test]
async fn a_call_of_another_shape_is_refused() {
    let tools = tools();
    let anthropic = fixture("anthropic.json")["tool_call"].clone();
    // An Anthropic block read as an OpenAI call has no `function`, nor an id where OpenAI has it.
    let err = tools
        .call(Format::Bedrock, &anthropic, ctx())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.detail(),
        "This is not a Bedrock Converse tool call: it has no `toolUseId`"
    );
    let err = tools
        .call(
            Format::OpenAi,
            &json!({"id": "call_1", "function": {}}),
            ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.detail(),
        "This is not an OpenAI Chat Completions tool call: it has no tool `name`"
    );
}

/// botocore's model of the Converse API, from the venv `.ci/run` installs moto in.
fn botocore() -> Option<std::process::Command> {
    let found = std::process::Command::new("python3")
        .args(["-c", "import botocore.session"])
        .output()
        .is_ok_and(|output| output.status.success());
    match found {
        true => Some(std::process::Command::new("python3")),
        false if std::env::var_os("CI").is_some() => {
            panic!("python3 cannot import botocore; .ci/run installs it with moto")
        }
        false => {
            eprintln!("skipping: python3 cannot import botocore (pip install botocore)");
            None
        }
    }
}

#[tokio::test]
async fn a_converse_request_with_the_tools_and_results_passes_botocores_validation() {
    let Some(mut python) = botocore() else { return };
    let tools = tools();
    let call = call(
        Format::Bedrock,
        "bedrock-converse.json",
        json!({"numerator": 1, "denominator": 4}),
    );
    let ok = tools.call(Format::Bedrock, &call, ctx()).await.unwrap();
    let failed = round_trip(
        Format::Bedrock,
        "bedrock-converse.json",
        json!({"denominator": 0}),
    )
    .await;
    let request = json!({
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
        "messages": [
            {"role": "user", "content": [{"text": "What is 1/4?"}]},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [ok, failed]},
        ],
        "toolConfig": {"tools": tools.definitions(Format::Bedrock)},
    });
    let script = r#"
import json, sys
import botocore.session
from botocore.validate import ParamValidator
shape = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse").input_shape
report = ParamValidator().validate(json.loads(sys.stdin.read()), shape)
if report.has_errors():
    print(report.generate_report())
    sys.exit(1)
"#;
    let mut child = python
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        request.to_string().as_bytes(),
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "botocore refuses the request:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
