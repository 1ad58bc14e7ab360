//! The soak tool at a small scale, as CI runs it: the `soak` binary against the
//! in-process gateway with the memory store and with the DynamoDB store (on the
//! server `.ci/run` starts). Nothing lost, nothing left behind.

mod support;

use std::process::Output;

async fn soak(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_soak"))
        .args([
            "--connections",
            "120",
            "--rooms",
            "6",
            "--rounds",
            "3",
            "--drop-percent",
            "25",
            "--messages",
            "40",
            "--wait",
            "60",
        ])
        .args(args)
        .env_remove("FABRIC_CONNECTIONS_TABLE")
        .output()
        .await
        .unwrap()
}

/// The soak's report, and a check that it found nothing wrong.
fn check(output: &Output) -> String {
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}\n{errors}");
    for line in [
        "lost messages: 0",
        "misdelivered messages: 0",
        "leaked connections in the gateway: 0",
        "leaked connections in the store: 0",
        "leaked room memberships: 0",
        "live members missing from their room: 0",
    ] {
        assert!(report.contains(line), "{line}:\n{report}");
    }
    // A quarter of the 120 dropped in each of 3 rounds, and as many new ones joined.
    assert!(
        report.contains("210 connections opened, 90 dropped abruptly"),
        "{report}"
    );
    report
}

#[tokio::test]
async fn the_soak_loses_nothing_and_leaves_nothing_with_the_memory_store() {
    let report = check(&soak(&["--store", "memory"]).await);
    assert!(report.contains("gateway memory:"), "{report}");
}

#[tokio::test]
async fn the_soak_loses_nothing_and_leaves_nothing_with_the_dynamodb_store() {
    let Some(endpoint) = support::dynamodb::server("the DynamoDB soak").await else {
        return;
    };
    check(&soak(&["--store", "dynamodb", "--dynamodb-endpoint", &endpoint]).await);
}
