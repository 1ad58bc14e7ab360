//! Credentials off Lambda as every AWS tool takes them (feature `aws-profiles`): a
//! profile in `AWS_CONFIG_FILE`/`AWS_SHARED_CREDENTIALS_FILE`, chosen by
//! `AWS_PROFILE`, signs the store's requests. Its own test binary: it sets the
//! process' environment.

mod support;

use aws_credential_types::provider::ProvideCredentials;
use fabric::store::{Connection, ConnectionStore, DynamoDbStore};
use support::http_server::{RecordingServer, Reply};

const KEY: &str = "AKIAFABRICDEVPROFILE";

/// The assertions, in a child process whose environment names the profile (the
/// parent below sets it; the lints forbid changing this process' environment).
#[tokio::test]
async fn child_signs_with_the_profile() {
    let Some(dir) = std::env::var_os("FABRIC_PROFILE_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let _ = &dir;
    let provider = fabric::aws::sdk_config().credentials_provider().unwrap();
    let loaded = provider.provide_credentials().await.unwrap();
    assert_eq!(loaded.access_key_id(), KEY);
    assert_eq!(loaded.secret_access_key(), "dev-secret");

    // The request the store sends is signed with the profile's key.
    let server = RecordingServer::start(|_, _| Reply::json(200, "{}")).await;
    let store = DynamoDbStore::new(DynamoDbStore::sdk_client(Some(&server.url)), "t", "t-rooms");
    let _ = store.get("c1").await;
    let requests = server.requests();
    let authorization = requests[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        authorization.contains(&format!("Credential={KEY}/")),
        "{authorization}"
    );

    // And a real endpoint (moto) takes it.
    if let Some(store) = support::dynamodb::store("profiles").await {
        store
            .save(&Connection::new("c1", chrono::Utc::now()))
            .await
            .unwrap();
        assert!(store.get("c1").await.unwrap().is_some());
    }
}

/// A profile that is not there is an error naming it, not dummy keys.
#[tokio::test]
async fn child_names_a_missing_profile() {
    if std::env::var_os("FABRIC_PROFILE_MISSING_CHILD").is_none() {
        return;
    }
    let provider = fabric::aws::sdk_config().credentials_provider().unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(format!("{err:?}").contains("nobody"), "{err:?}");
}

/// Runs `test` of this binary in a child with the profile files and `profile`.
fn run_child(test: &str, flag: &str, dir: &std::path::Path, profile: &str) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(flag, dir)
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_PROFILE", profile)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran the test: {text}");
}

#[test]
fn the_profile_aws_profile_names_signs_the_store_requests() {
    let dir = std::env::temp_dir().join(format!("fabric-profiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config"),
        "[default]\nregion = us-east-1\n\n[profile fabric-dev]\nregion = eu-west-1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("credentials"),
        format!("[default]\naws_access_key_id = AKIADEFAULTPROFILE\naws_secret_access_key = d\n\n[fabric-dev]\naws_access_key_id = {KEY}\naws_secret_access_key = dev-secret\n"),
    )
    .unwrap();
    run_child(
        "child_signs_with_the_profile",
        "FABRIC_PROFILE_CHILD",
        &dir,
        "fabric-dev",
    );
    run_child(
        "child_names_a_missing_profile",
        "FABRIC_PROFILE_MISSING_CHILD",
        &dir,
        "nobody",
    );
    std::fs::remove_dir_all(&dir).ok();
}
