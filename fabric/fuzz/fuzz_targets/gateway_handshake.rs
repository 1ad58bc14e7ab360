//! Any bytes as a client's first bytes to the local gateway (a handshake, a
//! Management API call, garbage): an HTTP answer or a closed connection, never a
//! panic, and nothing left behind once the client is gone.
#![no_main]

use fabric_fuzz::{GATEWAY, assert_all_closed, assert_http_answer, block_on};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    block_on(async {
        let output = GATEWAY.0.exchange(data).await;
        assert_http_answer(&output);
        assert_all_closed().await;
    });
});
