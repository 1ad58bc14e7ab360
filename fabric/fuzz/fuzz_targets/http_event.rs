//! Any text as a Lambda HTTP event (REST, HTTP API, function URL, ALB): an event
//! that cannot be read is an error for the runtime to report; any other gets a
//! response of the event's shape with a status and a JSON body.
#![no_main]

use fabric_fuzz::{ROUTER, block_on};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(response) = block_on(ROUTER.invoke_lambda(&text)) else {
        return;
    };
    let response: Value = serde_json::from_str(&response).expect("the response is JSON");
    let status = response["statusCode"].as_i64().expect("a status");
    assert!((200..600).contains(&status), "status {status}");
    if let Some(body) = response["body"].as_str().filter(|body| !body.is_empty()) {
        serde_json::from_str::<Value>(body).expect("the body is JSON");
    }
});
