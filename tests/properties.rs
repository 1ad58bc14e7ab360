//! Properties, checked on generated inputs (proptest): every row of the coercion
//! table in `fabric::input`'s docs, the error envelope of every error (valid
//! JSON:API, with its status, on HTTP too), and route selection against API
//! Gateway's rule for any body.

use fabric::input::{Choice, Field, Kind, Shape, coerce};
use fabric::prelude::*;
use fabric::websocket::RouteSelection;
use fabric::{ErrorKind, Issue};
use proptest::prelude::*;

// ---------------------------------------------------------------- coercion --

/// `raw` coerced as the one field `v` of kind `kind`: the value, or the issues'
/// details.
fn coerced(kind: Kind, raw: Value) -> Result<Value, Vec<String>> {
    let mut field = Field::new("v", kind);
    field.required = true;
    let shape = Shape {
        name: "T",
        description: None,
        fields: vec![field],
    };
    let mut input = json!({ "v": raw });
    match coerce(&shape, &mut input) {
        Ok(()) => Ok(input["v"].clone()),
        Err(err) => {
            assert_eq!(err.status(), 400);
            Err(err.issues().iter().map(|i| i.detail().to_owned()).collect())
        }
    }
}

fn int() -> Kind {
    Kind::Integer {
        min: i64::MIN.into(),
        max: i64::MAX.into(),
    }
}

fn byte() -> Kind {
    Kind::Integer { min: 0, max: 255 }
}

const CHOICES: &[Choice] = &[
    Choice {
        name: "join",
        description: None,
    },
    Choice {
        name: "leave",
        description: None,
    },
    Choice {
        name: "send-message",
        description: None,
    },
];

/// Whitespace around a value: the table's "trimmed".
fn padding() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![' ', '\t', '\n']), 0..3)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A text in any case: `tRuE`.
fn any_case(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// Text that is not a number, nor `true`/`false`, in any case.
fn wordy_text() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9 _-]{0,12}".prop_filter("not a boolean or number word", |text| {
        let t = text.trim().to_ascii_lowercase();
        t != "true" && t != "false" && t.parse::<f64>().is_err()
    })
}

fn scalar_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{1,8}".prop_map(Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // bool: true/false, and "true"/"false" in any case, trimmed.
    #[test]
    fn bool_takes_true_and_false_as_text_in_any_case(word in prop::sample::select(vec!["true", "false"]).prop_flat_map(any_case), before in padding(), after in padding()) {
        let want = word.eq_ignore_ascii_case("true");
        prop_assert_eq!(coerced(Kind::Bool, json!(want)), Ok(json!(want)));
        prop_assert_eq!(coerced(Kind::Bool, json!(format!("{before}{word}{after}"))), Ok(json!(want)));
    }

    // bool: numbers and numeric strings, true when > 0.
    #[test]
    fn bool_takes_numbers_true_above_zero(n in any::<i32>(), x in -1e6f64..1e6) {
        prop_assert_eq!(coerced(Kind::Bool, json!(n)), Ok(json!(n > 0)));
        prop_assert_eq!(coerced(Kind::Bool, json!(n.to_string())), Ok(json!(n > 0)));
        prop_assert_eq!(coerced(Kind::Bool, json!(x)), Ok(json!(x > 0.0)));
    }

    // bool rejects other strings, objects and arrays of 2+.
    #[test]
    fn bool_rejects_other_text_objects_and_lists(text in wordy_text(), items in prop::collection::vec(any::<bool>(), 2..5)) {
        let err = coerced(Kind::Bool, json!(text)).unwrap_err();
        prop_assert!(err[0].contains("expected a boolean"), "{:?}", err);
        let object = json!({"a": text});
        prop_assert!(coerced(Kind::Bool, object).is_err());
        let err = coerced(Kind::Bool, json!(items)).unwrap_err();
        prop_assert!(err[0].contains(&format!("got a list of {}", items.len())), "{:?}", err);
    }

    // integers: numbers, numeric strings trimmed, true/false as 1/0.
    #[test]
    fn integers_take_numbers_numeric_text_and_bools(n in any::<i64>(), before in padding(), after in padding(), flag in any::<bool>()) {
        prop_assert_eq!(coerced(int(), json!(n)), Ok(json!(n)));
        prop_assert_eq!(coerced(int(), json!(format!("{before}{n}{after}"))), Ok(json!(n)));
        prop_assert_eq!(coerced(int(), json!(flag)), Ok(json!(u8::from(flag))));
    }

    // integers reject trailing garbage, fractions and values out of range.
    #[test]
    fn integers_reject_garbage_fractions_and_out_of_range(n in any::<u32>(), suffix in "[a-zA-Z_]{1,4}", whole in -1000i64..1000, fraction in 0.01f64..0.99, outside in prop_oneof![i64::MIN..0i64, 256i64..i64::MAX]) {
        let err = coerced(int(), json!(format!("{n}{suffix}"))).unwrap_err();
        prop_assert!(err[0].contains("expected an integer"), "{:?}", err);
        let err = coerced(int(), json!(whole as f64 + fraction)).unwrap_err();
        prop_assert!(err[0].contains("expected an integer, got the fraction"), "{:?}", err);
        let err = coerced(byte(), json!(outside)).unwrap_err();
        prop_assert!(err[0].contains("is out of range: must be between 0 and 255"), "{:?}", err);
    }

    // floats: numbers, numeric strings trimmed, bools; NaN and infinities refused.
    #[test]
    fn floats_take_numbers_and_numeric_text_and_refuse_nan(x in any::<f64>().prop_filter("finite", |x| x.is_finite()), padded in padding(), word in prop::sample::select(vec!["NaN", "nan", "inf", "-inf", "Infinity", "1e999"])) {
        prop_assert_eq!(coerced(Kind::Float, json!(x)), Ok(json!(x)));
        let from_text = coerced(Kind::Float, json!(format!("{padded}{x}{padded}"))).unwrap();
        prop_assert_eq!(from_text.as_f64(), Some(x));
        let err = coerced(Kind::Float, json!(word)).unwrap_err();
        prop_assert!(err[0].contains("expected a number"), "{:?}", err);
    }

    // String: strings as they are; numbers and bools as their text.
    #[test]
    fn strings_keep_text_and_take_numbers_and_bools_as_text(text in any::<String>().prop_filter("not empty", |t| !t.is_empty()), n in any::<i64>(), x in any::<f64>().prop_filter("finite", |x| x.is_finite()), flag in any::<bool>()) {
        prop_assert_eq!(coerced(Kind::String, json!(text)), Ok(json!(text)));
        prop_assert_eq!(coerced(Kind::String, json!(n)), Ok(json!(n.to_string())));
        prop_assert_eq!(coerced(Kind::String, json!(x)), Ok(json!(serde_json::Number::from_f64(x).unwrap().to_string())));
        prop_assert_eq!(coerced(Kind::String, json!(flag)), Ok(json!(flag.to_string())));
    }

    // String rejects objects and arrays of 2+.
    #[test]
    fn strings_reject_objects_and_lists(key in "[a-z]{1,5}", items in prop::collection::vec("[a-z]{1,4}", 2..5)) {
        let object = json!({ key: 1 });
        let err = coerced(Kind::String, object).unwrap_err();
        prop_assert!(err[0].contains("expected a string, got an object"), "{:?}", err);
        let err = coerced(Kind::String, json!(items)).unwrap_err();
        prop_assert!(err[0].contains("expected a single value"), "{:?}", err);
    }

    // A single-element array for a scalar is unwrapped.
    #[test]
    fn a_single_element_array_is_its_element(n in any::<i64>(), text in "[a-z]{1,8}", flag in any::<bool>()) {
        prop_assert_eq!(coerced(int(), json!([n])), Ok(json!(n)));
        prop_assert_eq!(coerced(Kind::String, json!([text.clone()])), Ok(json!(text)));
        prop_assert_eq!(coerced(Kind::Bool, json!([flag])), Ok(json!(flag)));
    }

    // Vec<T>: arrays; a JSON array string; "a,b,c" or tab-separated; a single value.
    #[test]
    fn lists_from_arrays_json_text_separated_text_and_single_values(words in prop::collection::vec("[a-z][a-z ]{0,6}[a-z]", 1..6), numbers in prop::collection::vec(any::<i64>(), 0..6)) {
        let strings = || Kind::List(Box::new(Kind::String));
        let ints = || Kind::List(Box::new(int()));
        prop_assert_eq!(coerced(strings(), json!(words)), Ok(json!(words)));
        prop_assert_eq!(coerced(strings(), json!(words.join(","))), Ok(json!(words)));
        prop_assert_eq!(coerced(strings(), json!(words.join(" , "))), Ok(json!(words)));
        prop_assert_eq!(coerced(strings(), json!(words.join("\t"))), Ok(json!(words)));
        prop_assert_eq!(coerced(ints(), json!(json!(numbers).to_string())), Ok(json!(numbers)));
        let text: Vec<String> = numbers.iter().map(i64::to_string).collect();
        prop_assert_eq!(coerced(ints(), json!(text)), Ok(json!(numbers)));
        prop_assert_eq!(coerced(strings(), json!(words[0])), Ok(json!([words[0]])));
    }

    // Vec<T>: each element coerced as T, errors naming the index.
    #[test]
    fn list_errors_name_the_index(numbers in prop::collection::vec(any::<i32>(), 0..5), bad in wordy_text(), at in 0usize..5) {
        let at = at.min(numbers.len());
        let mut items: Vec<Value> = numbers.iter().map(|n| json!(n)).collect();
        items.insert(at, json!(bad));
        let err = coerced(Kind::List(Box::new(int())), json!(items)).unwrap_err();
        prop_assert_eq!(err.len(), 1);
        prop_assert!(err[0].starts_with(&format!("Invalid value for field \"v[{at}]\"")), "{:?}", err);
    }

    // Option<T>: missing, null or "" is None (and whitespace, for non-text kinds).
    #[test]
    fn optionals_are_none_when_missing_null_or_empty(blank in prop::sample::select(vec![json!(null), json!(""), json!("  "), json!("\t")]), n in any::<i64>()) {
        let optional = || Kind::Optional(Box::new(int()));
        prop_assert_eq!(coerced(optional(), blank), Ok(Value::Null));
        prop_assert_eq!(coerced(optional(), json!(n.to_string())), Ok(json!(n)));
        let shape = Shape { name: "T", description: None, fields: vec![Field::new("v", optional())] };
        let mut missing = json!({});
        coerce(&shape, &mut missing).unwrap();
        prop_assert_eq!(missing, json!({}));
    }

    // A field with a default takes it when missing, null or "".
    #[test]
    fn defaults_fill_missing_null_and_empty(default in any::<i64>(), blank in prop::sample::select(vec![None, Some(json!(null)), Some(json!(""))])) {
        let mut field = Field::new("v", int());
        field.required = false;
        field.default = Some(json!(default));
        let shape = Shape { name: "T", description: None, fields: vec![field] };
        let mut input = match blank { Some(value) => json!({"v": value}), None => json!({}) };
        coerce(&shape, &mut input).unwrap();
        prop_assert_eq!(input, json!({"v": default}));
    }

    // enums: the names serde uses, trimmed; anything else lists the allowed names.
    #[test]
    fn choices_take_their_names_and_list_them_otherwise(name in prop::sample::select(vec!["join", "leave", "send-message"]), padded in padding(), other in wordy_text()) {
        prop_assert_eq!(coerced(Kind::Choice(CHOICES), json!(format!("{padded}{name}{padded}"))), Ok(json!(name)));
        prop_assume!(!CHOICES.iter().any(|c| c.name == other.trim()));
        let err = coerced(Kind::Choice(CHOICES), json!(other)).unwrap_err();
        prop_assert!(err[0].contains(r#"expected one of "join", "leave", "send-message""#), "{:?}", err);
    }

    // dates: RFC 3339 text as given; epoch milliseconds, as numbers or text.
    #[test]
    fn dates_take_rfc3339_and_epoch_millis(millis in -62_135_596_800_000i64..253_402_300_799_000, offset_minutes in -720i32..720) {
        let time = chrono::DateTime::from_timestamp_millis(millis).unwrap();
        let expected = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        prop_assert_eq!(coerced(Kind::DateTime, json!(millis)), Ok(expected.clone()));
        prop_assert_eq!(coerced(Kind::DateTime, json!(millis.to_string())), Ok(expected));
        let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let text = time.with_timezone(&zone).to_rfc3339();
        prop_assert_eq!(coerced(Kind::DateTime, json!(text.clone())), Ok(json!(text)));
    }

    // dates reject everything else.
    #[test]
    fn dates_reject_other_text_fractions_and_bools(text in wordy_text(), x in 0.01f64..0.99, flag in any::<bool>()) {
        prop_assert!(coerced(Kind::DateTime, json!(text)).is_err());
        prop_assert!(coerced(Kind::DateTime, json!(x)).is_err());
        prop_assert!(coerced(Kind::DateTime, json!(flag)).is_err());
    }

    // Undeclared keys are ignored; every field is reported at once.
    #[test]
    fn undeclared_keys_stay_and_every_bad_field_is_reported(extra in "[a-z]{2,8}", value in scalar_json(), bad in wordy_text()) {
        prop_assume!(extra != "a" && extra != "b");
        let shape = Shape { name: "T", description: None, fields: vec![Field::new("a", int()), Field::new("b", Kind::Bool)] };
        let mut input = json!({ "a": bad.clone(), "b": bad, extra.clone(): value.clone() });
        let err = coerce(&shape, &mut input).unwrap_err();
        let pointers: Vec<_> = err.issues().iter().map(|i| i.pointer().unwrap().to_owned()).collect();
        prop_assert_eq!(pointers, ["/a", "/b"]);
        prop_assert_eq!(&input[&extra], &value);
    }
}

// ----------------------------------------------------------- the envelope --

fn any_kind() -> impl Strategy<Value = ErrorKind> {
    prop::sample::select(ErrorKind::ALL.to_vec())
}

/// A JSON pointer (RFC 6901): "" or `/`-separated tokens with `~0` and `~1`.
fn is_json_pointer(pointer: &str) -> bool {
    pointer.is_empty()
        || (pointer.starts_with('/') && {
            let mut chars = pointer.chars().peekable();
            let mut ok = true;
            while let Some(c) = chars.next() {
                if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                    ok = false;
                }
            }
            ok
        })
}

/// Checks `text` is a JSON:API error document for `kind`: an object whose only
/// member is `errors`, a non-empty list of error objects with members JSON:API
/// defines, each with the status and title of `kind`.
fn check_document(text: &str, kind: ErrorKind) -> Result<Vec<Value>, TestCaseError> {
    let document: Value = serde_json::from_str(text)
        .map_err(|e| TestCaseError::fail(format!("not JSON: {e}: {text}")))?;
    let object = document
        .as_object()
        .ok_or_else(|| TestCaseError::fail("not an object"))?;
    prop_assert_eq!(object.keys().collect::<Vec<_>>(), ["errors"]);
    let errors = document["errors"].as_array().cloned().unwrap_or_default();
    prop_assert!(!errors.is_empty());
    for error in &errors {
        for member in error.as_object().unwrap().keys() {
            prop_assert!(
                [
                    "id", "links", "status", "code", "title", "detail", "source", "meta"
                ]
                .contains(&member.as_str()),
                "{}",
                member
            );
        }
        prop_assert_eq!(&error["status"], &json!(kind.status()));
        prop_assert_eq!(&error["title"], &json!(kind.title()));
        prop_assert!(error["detail"].is_string());
        if let Some(source) = error.get("source") {
            let pointer = source["pointer"].as_str().unwrap();
            prop_assert!(is_json_pointer(pointer), "{}", pointer);
        }
    }
    Ok(errors)
}

fn issues() -> impl Strategy<Value = Vec<(String, Option<String>)>> {
    prop::collection::vec(
        (
            any::<String>(),
            prop::option::of(prop::collection::vec("[^/~]{0,6}", 0..4)),
        ),
        0..5,
    )
    .prop_map(|issues| {
        issues
            .into_iter()
            .map(|(detail, path)| {
                (
                    detail,
                    path.map(|tokens| tokens.iter().map(|t| format!("/{t}")).collect()),
                )
            })
            .collect()
    })
}

fn build(kind: ErrorKind, issues: &[(String, Option<String>)]) -> Error {
    Error::with_issues(
        kind,
        issues
            .iter()
            .map(|(detail, pointer)| match pointer {
                Some(pointer) => Issue::new(detail.clone()).at(pointer.clone()),
                None => Issue::new(detail.clone()),
            })
            .collect(),
    )
}

#[fabric_service(alias = "fail")]
async fn fail(input: FailInput, _ctx: Context) -> Result<(), Error> {
    let kind = ErrorKind::from_status(input.status).expect("a status of ours");
    Err(Error::new(kind, input.detail))
}

#[derive(Deserialize, Input)]
struct FailInput {
    status: u16,
    detail: String,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // Every error is a JSON:API document with its status: scrubbed 5xx say nothing
    // of their details, 4xx keep every issue in order.
    #[test]
    fn every_error_is_a_json_api_document_with_its_status(kind in any_kind(), issues in issues(), scrub in any::<bool>()) {
        let err = build(kind, &issues);
        let errors = check_document(&err.envelope_json(scrub), kind)?;
        if scrub && kind.is_server_error() {
            prop_assert_eq!(errors.len(), 1);
            prop_assert!(errors[0].get("source").is_none());
            let generic = [
                "An internal error occurred",
                "A downstream service returned an invalid response",
                "The service is temporarily unavailable",
                "A downstream service did not respond in time",
            ];
            prop_assert!(generic.contains(&errors[0]["detail"].as_str().unwrap()), "{}", errors[0]);
        } else {
            let expected = issues.len().max(1);
            prop_assert_eq!(errors.len(), expected);
            for (error, (detail, pointer)) in errors.iter().zip(&issues) {
                prop_assert_eq!(&error["detail"], &json!(detail));
                prop_assert_eq!(error.get("source").map(|s| s["pointer"].clone()), pointer.as_ref().map(|p| json!(p)));
            }
        }
        let back: fabric::ErrorEnvelope = serde_json::from_str(&err.envelope_json(scrub)).unwrap();
        prop_assert_eq!(back, err.envelope(scrub));
    }

    // An error a service returns is its status over HTTP, with the envelope.
    #[test]
    fn over_http_an_error_is_its_status_and_envelope(kind in any_kind(), detail in "[ -~]{1,40}") {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let event = fabric::testing::HttpEvent::http_api("POST", "/fail")
            .json_body(&json!({"status": kind.status(), "detail": detail}));
        let response = runtime.block_on(fabric_http(fail).invoke_lambda(&event.to_string())).unwrap();
        let response: Value = serde_json::from_str(&response).unwrap();
        prop_assert_eq!(&response["statusCode"], &json!(kind.status()));
        let errors = check_document(response["body"].as_str().unwrap(), kind)?;
        if !kind.is_server_error() {
            prop_assert_eq!(&errors[0]["detail"], &json!(detail));
        }
    }
}

// --------------------------------------------------------- route selection --

/// Any JSON value, with `action` and `meta.type` keys often present.
fn json_body() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec!["join", "leave", "sendMessage", "", "JOIN", "dance"])
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["action", "meta", "type", "room", "x"]),
                    inner
                ),
                0..4
            )
            .prop_map(|fields| Value::Object(
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

const KEYS: [&str; 3] = ["join", "leave", "sendMessage"];

/// API Gateway's rule: the value at the expression's path, when the body is JSON
/// and that value is a string naming a route; `$default` otherwise.
fn api_gateway_rule<'k>(body: &str, path: &[&str]) -> &'k str {
    let Ok(parsed) = serde_json::from_str::<Value>(body) else {
        return "$default";
    };
    let mut at = &parsed;
    for key in path {
        match at.as_object().and_then(|object| object.get(*key)) {
            Some(next) => at = next,
            None => return "$default",
        }
    }
    match at {
        Value::String(selected) => KEYS
            .iter()
            .find(|key| **key == selected)
            .copied()
            .unwrap_or("$default"),
        _ => "$default",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn route_selection_follows_api_gateway_for_any_json_body(body in json_body()) {
        let text = body.to_string();
        let by_action = RouteSelection::default();
        prop_assert_eq!(by_action.route_key(&text, &KEYS), api_gateway_rule(&text, &["action"]));
        let nested = RouteSelection::parse("$request.body.meta.type").unwrap();
        prop_assert_eq!(nested.route_key(&text, &KEYS), api_gateway_rule(&text, &["meta", "type"]));
    }

    #[test]
    fn route_selection_of_text_that_is_not_json_is_default(text in any::<String>()) {
        prop_assume!(serde_json::from_str::<Value>(&text).is_err());
        prop_assert_eq!(RouteSelection::default().route_key(&text, &KEYS), "$default");
    }
}
