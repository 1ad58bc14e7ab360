//! Any text as a Lambda WebSocket event: an answer with a status, and a body that
//! is JSON, never a panic. Each input gets a fresh adapter and store.
#![no_main]

use std::sync::Arc;

use fabric::store::MemoryStore;
use fabric::websocket::Body;
use fabric_fuzz::{block_on, chat_adapter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let adapter = chat_adapter(Arc::new(MemoryStore::new()));
    let response = block_on(adapter.handle_json(&text));
    assert!(
        (200..600).contains(&response.status_code),
        "status {}",
        response.status_code
    );
    if let Some(Body::Text(body)) = &response.body {
        serde_json::from_str::<serde_json::Value>(body).expect("the body is JSON");
    }
});
