//! Helpers shared by the integration tests: fixtures, and small real HTTP servers
//! that stand in for AWS endpoints (the Management API, the Lambda Runtime API).
#![allow(dead_code)]

pub(crate) mod dynamodb;
pub(crate) mod emf;
pub(crate) mod events;
pub(crate) mod http_server;
pub(crate) mod lambda_runtime;
pub(crate) mod logs;
pub(crate) mod process;
pub(crate) mod ws_client;

use std::path::PathBuf;

/// The text of a fixture under `tests/fixtures/`.
pub(crate) fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()))
}

/// `tests/fixtures/`.
pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}
