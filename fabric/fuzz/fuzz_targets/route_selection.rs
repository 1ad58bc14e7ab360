//! Route selection against API Gateway's rule, for any body: the value at the
//! expression's path, when the body is JSON and the value a string naming a
//! route, else `$default`.
#![no_main]

use fabric::websocket::RouteSelection;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const KEYS: [&str; 4] = ["join", "leave", "sendMessage", ""];

fn rule<'k>(body: &str, pointer: &str) -> &'k str {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .and_then(|selected| KEYS.iter().find(|key| **key == selected).copied())
        .unwrap_or("$default")
}

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    for (expression, pointer) in [
        ("$request.body.action", "/action"),
        ("$request.body.meta.type", "/meta/type"),
    ] {
        let selection = RouteSelection::parse(expression).unwrap();
        assert_eq!(
            selection.route_key(&body, &KEYS),
            rule(&body, pointer),
            "{expression} on {body:?}"
        );
    }
});
