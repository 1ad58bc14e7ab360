//! Any bytes as the frames of an accepted connection to the local gateway: its
//! 101, whatever follows, and nothing left behind (connection, store entry,
//! room membership) once the client is gone.
#![no_main]

use fabric_fuzz::{GATEWAY, HANDSHAKE, assert_all_closed, block_on};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    block_on(async {
        let mut bytes = HANDSHAKE.to_vec();
        bytes.extend_from_slice(data);
        let output = GATEWAY.0.exchange(&bytes).await;
        assert!(
            output.starts_with(b"HTTP/1.1 101 "),
            "the handshake was refused: {:?}",
            String::from_utf8_lossy(&output[..output.len().min(200)])
        );
        assert_all_closed().await;
    });
});
