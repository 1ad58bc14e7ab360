//! The service core through the public API: derive, coercion, validation, errors,
//! schema, services and panics.

use chrono::{DateTime, TimeZone, Utc};
use fabric::input::{Kind, parse};
use fabric::prelude::*;
use fabric::{ErrorEnvelope, Output};
use fabric_examples::division::{DivisionInput, division};

#[derive(Debug, Deserialize, Input, PartialEq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Color {
    /// Like a fire truck
    Red,
    Green,
    #[serde(rename = "dark-blue")]
    DarkBlue,
}

/// One field of every kind in the coercion table.
#[derive(Debug, Deserialize, Validate, Input)]
struct Everything {
    flag: bool,
    count: i32,
    small: u8,
    ratio: f64,
    name: String,
    tags: Vec<String>,
    numbers: Vec<i64>,
    nickname: Option<String>,
    limit: Option<u32>,
    #[input(default = 10)]
    page_size: u32,
    #[serde(default)]
    verbose: bool,
    color: Color,
    at: Option<DateTime<Utc>>,
}

fn everything(overrides: Value) -> Result<Everything, Error> {
    let mut raw = json!({
        "flag": true, "count": 1, "small": 1, "ratio": 1.5, "name": "n",
        "tags": ["a"], "numbers": [1], "color": "red"
    });
    for (key, value) in overrides.as_object().unwrap() {
        raw[key] = value.clone();
    }
    parse(raw)
}

fn rejected(overrides: Value) -> Vec<String> {
    let err = everything(overrides.clone()).expect_err(&format!("{overrides} should be rejected"));
    assert_eq!(err.status(), 400);
    err.issues().iter().map(|i| i.detail().to_owned()).collect()
}

#[test]
fn bools_follow_the_table() {
    assert!(everything(json!({"flag": " TRUE "})).unwrap().flag);
    assert!(!everything(json!({"flag": "false"})).unwrap().flag);
    assert!(everything(json!({"flag": 2})).unwrap().flag);
    assert!(!everything(json!({"flag": "0"})).unwrap().flag);
    assert_eq!(
        rejected(json!({"flag": "maybe"})),
        [r#"Invalid value for field "flag": expected a boolean, got "maybe""#]
    );
    assert_eq!(rejected(json!({"flag": {"x": 1}})).len(), 1);
    assert_eq!(rejected(json!({"flag": [true, false]})).len(), 1);
}

#[test]
fn integers_follow_the_table() {
    assert_eq!(everything(json!({"count": "42"})).unwrap().count, 42);
    assert_eq!(everything(json!({"count": ["7"]})).unwrap().count, 7);
    assert_eq!(everything(json!({"count": true})).unwrap().count, 1);
    assert_eq!(everything(json!({"small": " 255 "})).unwrap().small, 255);
    assert_eq!(everything(json!({"count": 3.0})).unwrap().count, 3);
    assert_eq!(
        rejected(json!({"count": "42abc"})),
        [r#"Invalid value for field "count": expected an integer, got "42abc""#]
    );
    assert_eq!(
        rejected(json!({"count": 1.5})),
        [r#"Invalid value for field "count": expected an integer, got the fraction 1.5"#]
    );
    assert_eq!(
        rejected(json!({"count": [1, 2]})),
        [r#"Invalid value for field "count": expected a single value, got a list of 2"#]
    );
    assert_eq!(
        rejected(json!({"small": 300})),
        [r#"Invalid value for field "small": 300 is out of range: must be between 0 and 255"#]
    );
    assert_eq!(rejected(json!({"count": "NaN"})).len(), 1);
    assert_eq!(rejected(json!({"count": 3_000_000_000_u64})).len(), 1);
}

#[test]
fn floats_follow_the_table() {
    assert_eq!(everything(json!({"ratio": " 0.25 "})).unwrap().ratio, 0.25);
    assert_eq!(everything(json!({"ratio": false})).unwrap().ratio, 0.0);
    for bad in ["2.5x", "NaN", "Infinity", "-inf"] {
        assert_eq!(
            rejected(json!({"ratio": bad})),
            [format!(
                r#"Invalid value for field "ratio": expected a number, got "{bad}""#
            )]
        );
    }
}

#[test]
fn strings_follow_the_table() {
    assert_eq!(everything(json!({"name": 12})).unwrap().name, "12");
    assert_eq!(everything(json!({"name": true})).unwrap().name, "true");
    assert_eq!(everything(json!({"name": ["only"]})).unwrap().name, "only");
    assert_eq!(rejected(json!({"name": {"a": 1}})).len(), 1);
    assert_eq!(rejected(json!({"name": ["a", "b"]})).len(), 1);
}

#[test]
fn lists_follow_the_table() {
    assert_eq!(
        everything(json!({"numbers": "1,2,3"})).unwrap().numbers,
        [1, 2, 3]
    );
    assert_eq!(
        everything(json!({"numbers": "[1,2]"})).unwrap().numbers,
        [1, 2]
    );
    assert_eq!(
        everything(json!({"numbers": "4\t5"})).unwrap().numbers,
        [4, 5]
    );
    assert_eq!(everything(json!({"numbers": 6})).unwrap().numbers, [6]);
    assert_eq!(everything(json!({"tags": "solo"})).unwrap().tags, ["solo"]);
    assert_eq!(
        everything(json!({"tags": "x, y"})).unwrap().tags,
        ["x", "y"]
    );
    let err = everything(json!({"numbers": "1,two,3"})).unwrap_err();
    assert_eq!(
        err.detail(),
        r#"Invalid value for field "numbers[1]": expected an integer, got "two""#
    );
    assert_eq!(err.issues()[0].pointer(), Some("/numbers/1"));
}

#[test]
fn optionals_are_none_when_missing_null_or_empty() {
    let parsed = everything(json!({"nickname": "", "limit": null})).unwrap();
    assert_eq!(parsed.nickname, None);
    assert_eq!(parsed.limit, None);
    assert_eq!(everything(json!({"limit": ""})).unwrap().limit, None);
    assert_eq!(everything(json!({})).unwrap().at, None);
    assert_eq!(everything(json!({"limit": "9"})).unwrap().limit, Some(9));
    assert_eq!(rejected(json!({"limit": "nine"})).len(), 1);
}

#[test]
fn defaults_apply_to_missing_null_and_empty_values() {
    assert_eq!(everything(json!({})).unwrap().page_size, 10);
    assert_eq!(
        everything(json!({"page_size": null})).unwrap().page_size,
        10
    );
    assert_eq!(everything(json!({"page_size": ""})).unwrap().page_size, 10);
    assert_eq!(
        everything(json!({"page_size": "25"})).unwrap().page_size,
        25
    );
    assert!(!everything(json!({"verbose": null})).unwrap().verbose);
    assert!(everything(json!({"verbose": "true"})).unwrap().verbose);
}

#[test]
fn choices_use_serde_names_and_list_them_on_error() {
    assert_eq!(
        everything(json!({"color": "green"})).unwrap().color,
        Color::Green
    );
    assert_eq!(
        everything(json!({"color": "dark-blue"})).unwrap().color,
        Color::DarkBlue
    );
    assert_eq!(
        rejected(json!({"color": "purple"})),
        [
            r#"Invalid value for field "color": expected one of "red", "green", "dark-blue", got "purple""#
        ]
    );
    assert_eq!(rejected(json!({"color": "Red"})).len(), 1);
}

#[test]
fn dates_accept_rfc3339_and_epoch_millis() {
    let noon = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let parsed = everything(json!({"at": "2026-11-22T13:00:00+01:00"})).unwrap();
    assert_eq!(parsed.at, Some(noon));
    let parsed = everything(json!({"at": noon.timestamp_millis()})).unwrap();
    assert_eq!(parsed.at, Some(noon));
    assert_eq!(rejected(json!({"at": "yesterday"})).len(), 1);
}

#[test]
fn undeclared_keys_are_ignored() {
    assert!(everything(json!({"action": "join", "extra": [1, 2]})).is_ok());
}

/// A chat input with rules on three fields.
#[derive(Debug, Deserialize, Validate, Input)]
struct Signup {
    #[validate(length(min = 3, max = 20))]
    username: String,
    #[validate(email)]
    email: String,
    #[validate(range(min = 13, max = 130))]
    age: u8,
    #[validate(length(min = 1, max = 3))]
    interests: Vec<String>,
}

#[fabric_service]
async fn signup(input: Signup, _ctx: Context) -> Result<String, Error> {
    Ok(input.username)
}

#[tokio::test]
async fn three_bad_fields_give_one_envelope_with_three_pointed_errors() {
    let (ctx, _) = Context::test();
    let raw = json!({"username": "al", "email": "not-an-email", "age": "12", "interests": "go"});
    let err = signup.call(raw, ctx).await.unwrap_err();
    let envelope = err.envelope(true);
    let found: Vec<(u16, &str, &str)> = envelope
        .errors
        .iter()
        .map(|e| {
            (
                e.status,
                e.detail.as_str(),
                e.source.as_ref().unwrap().pointer.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                400,
                r#"Validation failed for field "username": must be between 3 and 20 characters long"#,
                "/username"
            ),
            (
                400,
                r#"Validation failed for field "email": must be a valid email address"#,
                "/email"
            ),
            (
                400,
                r#"Validation failed for field "age": must be at least 13 and at most 130"#,
                "/age"
            ),
        ]
    );
}

#[tokio::test]
async fn coercion_and_missing_field_errors_are_reported_together() {
    let (ctx, _) = Context::test();
    let err = signup
        .call(json!({"age": "old", "interests": []}), ctx)
        .await
        .unwrap_err();
    let details: Vec<&str> = err.issues().iter().map(|i| i.detail()).collect();
    assert_eq!(
        details,
        [
            r#"Missing required field "username""#,
            r#"Missing required field "email""#,
            r#"Invalid value for field "age": expected an integer, got "old""#,
        ]
    );
}

#[tokio::test]
async fn list_length_rules_speak_of_items() {
    let (ctx, _) = Context::test();
    let raw =
        json!({"username": "ada", "email": "ada@example.com", "age": 36, "interests": "a,b,c,d"});
    let err = signup.call(raw, ctx).await.unwrap_err();
    assert_eq!(
        err.detail(),
        r#"Validation failed for field "interests": must have between 1 and 3 items"#
    );
}

#[tokio::test]
async fn input_that_is_not_an_object_is_a_400() {
    for raw in [
        json!([1, 2]),
        json!(42),
        json!("not json at all"),
        Value::Null,
    ] {
        let (ctx, _) = Context::test();
        let err = signup.call(raw.clone(), ctx).await.unwrap_err();
        assert_eq!(err.status(), 400, "{raw}");
        assert_eq!(err.detail(), "Input must be an object", "{raw}");
    }
    let err = fabric::input::from_json_text("{not json").unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.detail().starts_with("Input must be an object"),
        "{}",
        err.detail()
    );
}

#[derive(Debug, Deserialize, Input)]
struct Nothing {}

#[fabric_service(alias = "upstream-down")]
async fn upstream(_input: Nothing, _ctx: Context) -> Result<(), Error> {
    Err(Error::bad_gateway(
        "billing at 10.1.2.3:8443 returned garbage",
    ))
}

#[fabric_service]
async fn missing_room(_input: Nothing, _ctx: Context) -> Result<(), Error> {
    Err(Error::not_found("No room called \"lobby\"").with_pointer("/room"))
}

#[tokio::test]
async fn server_errors_are_scrubbed_by_default_and_client_errors_are_not() {
    let (ctx, _) = Context::test();
    let err = upstream.call(json!({}), ctx.clone()).await.unwrap_err();
    assert_eq!(err.status(), 502);
    let scrubbed = err.envelope(true);
    assert_eq!(scrubbed.errors[0].title, "Bad Gateway");
    assert!(
        !scrubbed.errors[0].detail.contains("10.1.2.3"),
        "{scrubbed:?}"
    );
    let kept = err.envelope(false);
    assert_eq!(
        kept.errors[0].detail,
        "billing at 10.1.2.3:8443 returned garbage"
    );

    let err = missing_room.call(json!({}), ctx).await.unwrap_err();
    let body: ErrorEnvelope = serde_json::from_str(&err.envelope_json(true)).unwrap();
    assert_eq!(body.errors[0].status, 404);
    assert_eq!(body.errors[0].detail, "No room called \"lobby\"");
    assert_eq!(body.errors[0].source.as_ref().unwrap().pointer, "/room");
}

#[derive(Debug, Deserialize, Input)]
struct Divide {
    by: i32,
}

#[fabric_service]
async fn fragile(input: Divide, _ctx: Context) -> Result<i32, Error> {
    if input.by == 0 {
        panic!("attempt to divide by zero");
    }
    Ok(100 / input.by)
}

#[tokio::test]
async fn a_panicking_service_is_a_500_and_the_next_call_succeeds() {
    let (ctx, _) = Context::test();
    let err = fragile
        .call(json!({"by": 0}), ctx.clone())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(
        err.detail().contains("attempt to divide by zero"),
        "{}",
        err.detail()
    );
    assert_eq!(
        err.envelope(true).errors[0].detail,
        "An internal error occurred"
    );
    let ok = fragile.call(json!({"by": 4}), ctx).await.unwrap();
    assert_eq!(ok.to_value(), json!(25));
}

#[tokio::test]
async fn division_uses_its_defaults_coerces_text_and_refuses_zero() {
    let (ctx, _) = Context::test();
    let call = |raw: Value| division.call(raw, ctx.clone());
    assert_eq!(call(json!({})).await.unwrap().to_value(), json!(4.0));
    let out = call(json!({"numerator": "14", "denominator": "7"}))
        .await
        .unwrap();
    assert_eq!(out.to_value(), json!(2.0));
    let err = call(json!({"denominator": 0})).await.unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.detail(),
        r#"Validation failed for field "denominator": must not be zero"#
    );
    assert_eq!(err.issues()[0].pointer(), Some("/denominator"));
}

#[tokio::test]
async fn the_typed_function_stays_callable() {
    let (ctx, _) = Context::test();
    let input = DivisionInput {
        numerator: 9.0,
        denominator: 3.0,
    };
    assert_eq!(division::handle(input, ctx).await.unwrap(), 3.0);
}

#[derive(Debug, Deserialize, Input)]
struct Greeting {
    name: String,
}

/// Greets the caller, first by message.
#[fabric_service(alias = "greet")]
async fn greet(input: Greeting, ctx: Context) -> Result<(), Error> {
    ctx.send_message(json!({"hello": input.name})).await?;
    Ok(())
}

#[tokio::test]
async fn messages_reach_the_test_context_and_unit_results_are_empty() {
    let (ctx, sent) = Context::test();
    let out = greet.call(json!({"name": "Ada"}), ctx).await.unwrap();
    assert_eq!(out, Output::Empty);
    assert_eq!(out.data_envelope(), r#"{"data":null}"#);
    assert_eq!(sent.all(), [json!({"hello": "Ada"})]);
    assert_eq!(greet.description(), "Greets the caller, first by message.");
    assert_eq!(upstream.alias(), "upstream-down");
    assert_eq!(signup.alias(), "signup");
}

#[test]
fn the_schema_describes_types_requirements_defaults_and_rules() {
    let schema = division.input_schema();
    assert_eq!(schema["title"], "DivisionInput");
    assert_eq!(schema["description"], "Two numbers to divide.");
    assert_eq!(schema["properties"]["numerator"]["type"], "number");
    assert_eq!(schema["properties"]["numerator"]["default"], json!(12.0));
    assert_eq!(
        schema["properties"]["denominator"]["description"],
        "The number to divide by; must not be zero"
    );
    assert!(schema.get("required").is_none());

    let schema = Signup::shape().json_schema();
    assert_eq!(
        schema["required"],
        json!(["username", "email", "age", "interests"])
    );
    assert_eq!(schema["properties"]["username"]["minLength"], 3);
    assert_eq!(schema["properties"]["username"]["maxLength"], 20);
    assert_eq!(schema["properties"]["email"]["format"], "email");
    assert_eq!(schema["properties"]["age"]["minimum"], json!(13.0));
    assert_eq!(schema["properties"]["interests"]["maxItems"], 3);

    let schema = Everything::shape().json_schema();
    assert_eq!(
        schema["properties"]["color"]["enum"],
        json!(["red", "green", "dark-blue"])
    );
    assert_eq!(
        schema["properties"]["nickname"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(schema["properties"]["verbose"]["default"], json!(false));
    assert_eq!(schema["properties"]["at"]["format"], "date-time");
    assert_eq!(schema["properties"]["tags"]["items"]["type"], "string");
    assert_eq!(schema["properties"]["small"]["maximum"], 255);
}

#[test]
fn the_shape_carries_descriptions_and_cli_hints() {
    let shape = DivisionInput::shape();
    let numerator = shape.field("numerator").unwrap();
    assert_eq!(numerator.description, Some("The number to divide"));
    assert_eq!(numerator.short, Some('n'));
    assert!(!numerator.required);
    let color = Everything::shape().field("color").unwrap();
    let Kind::Choice(choices) = &color.kind else {
        panic!("color is a choice");
    };
    assert_eq!(choices[0].description, Some("Like a fire truck"));
}

/// serde renames reach coercion, messages and the schema.
#[derive(Debug, Deserialize, Validate, Input)]
#[serde(rename_all = "camelCase")]
struct Renamed {
    #[validate(length(min = 2))]
    room_name: String,
    #[serde(rename = "n")]
    max_count: u32,
    #[serde(skip)]
    _internal: u8,
    #[validate(nested)]
    nested: Option<Address>,
}

#[derive(Debug, Deserialize, Validate, Input)]
struct Address {
    #[validate(length(min = 2))]
    city: String,
    zip: u32,
}

#[test]
fn serde_names_and_nesting_are_honoured() {
    let parsed: Renamed = parse(json!({"roomName": "ab", "n": "5"})).unwrap();
    assert_eq!(parsed.max_count, 5);
    let err = parse::<Renamed>(json!({"roomName": "a", "nested": {"city": "x", "zip": "z"}}))
        .unwrap_err();
    let found: Vec<(&str, Option<&str>)> = err
        .issues()
        .iter()
        .map(|i| (i.detail(), i.pointer()))
        .collect();
    assert_eq!(
        found,
        [
            (r#"Missing required field "n""#, Some("/n")),
            (
                r#"Invalid value for field "nested.zip": expected an integer, got "z""#,
                Some("/nested/zip")
            ),
        ]
    );
    let err = parse::<Renamed>(json!({"roomName": "a", "n": 1})).unwrap_err();
    assert_eq!(err.issues()[0].pointer(), Some("/roomName"));
    assert_eq!(Renamed::shape().fields.len(), 3);

    let parsed: Renamed =
        parse(json!({"roomName": "ab", "n": 1, "nested": {"city": "Oslo", "zip": "150"}})).unwrap();
    assert_eq!(parsed.nested.unwrap().zip, 150);
    let err =
        parse::<Renamed>(json!({"roomName": "ab", "n": 1, "nested": {"city": "O", "zip": 1}}))
            .unwrap_err();
    assert_eq!(
        err.detail(),
        r#"Validation failed for field "nested.city": must be at least 2 characters long"#
    );
    assert_eq!(err.issues()[0].pointer(), Some("/nested/city"));
}

/// A type with its own `Deserialize` that refuses some strings coercion lets through.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct CountryCode(String);

impl TryFrom<String> for CountryCode {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(CountryCode(code))
        } else {
            Err(format!("\"{code}\" is not a two-letter country code"))
        }
    }
}

impl fabric::InputType for CountryCode {
    fn kind() -> Kind {
        Kind::String
    }
}

#[derive(Debug, Deserialize, Input)]
struct Shipping {
    countries: Vec<CountryCode>,
}

#[test]
fn a_custom_deserialize_failure_is_a_400_at_the_right_pointer() {
    let parsed: Shipping = parse(json!({"countries": "NO,SE"})).unwrap();
    assert_eq!(parsed.countries[1].0, "SE");
    let err = parse::<Shipping>(json!({"countries": "NO,sweden"})).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.detail(),
        r#"Invalid value for field "countries[1]": "sweden" is not a two-letter country code"#
    );
    assert_eq!(err.issues()[0].pointer(), Some("/countries/1"));
}
