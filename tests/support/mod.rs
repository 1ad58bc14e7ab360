//! Helpers shared by the integration tests: fixtures, and small real HTTP servers
//! that stand in for AWS endpoints (the Management API, the Lambda Runtime API).
#![allow(dead_code)]

pub mod dynamodb;
pub mod events;
pub mod http_server;
pub mod lambda_runtime;
pub mod process;
pub mod ws_client;

use std::path::PathBuf;

/// The text of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()))
}

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}
