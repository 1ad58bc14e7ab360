//! Any bytes as a Management API request while a connection is open, `{id}` in
//! them standing for its percent-encoded id: an HTTP answer, and the open
//! connection either still open or closed by a DELETE, never a panic.
#![no_main]

use std::time::Duration;

use fabric_fuzz::{GATEWAY, HANDSHAKE, assert_all_closed, assert_http_answer, block_on};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    block_on(async {
        let gateway = &GATEWAY.0;
        let mut client = gateway.connect();
        client.write(HANDSHAKE).await;
        let opened = client.read_for(Duration::from_millis(100)).await;
        assert!(opened.starts_with(b"HTTP/1.1 101 "));
        let id = gateway
            .connection_ids()
            .pop()
            .expect("the connection is open");
        let encoded = id
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let mut request = Vec::with_capacity(data.len() + 32);
        let mut rest = data;
        while let Some(at) = rest.windows(4).position(|w| w == b"{id}") {
            request.extend_from_slice(&rest[..at]);
            request.extend_from_slice(encoded.as_bytes());
            rest = &rest[at + 4..];
        }
        request.extend_from_slice(rest);
        let output = gateway.exchange(&request).await;
        assert_http_answer(&output);
        client.finish().await;
        assert_all_closed().await;
    });
});
