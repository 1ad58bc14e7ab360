//! Secrets against a stand-in Parameters and Secrets extension (an axum server in
//! the test that refuses or answers "not ready" at first, as the real one does
//! while it starts) and against moto's Secrets Manager API.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use fabric::secrets::Secrets;
use fabric::secrets::aws::{AwsSecrets, Extension};
use fabric::settings::AdapterSettings;
use support::logs::CapturedLogs;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone)]
struct Stand {
    calls: Arc<AtomicUsize>,
    not_ready_for: usize,
}

async fn extension_get(
    State(stand): State<Stand>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let n = stand.calls.fetch_add(1, Ordering::SeqCst);
    if n < stand.not_ready_for {
        return (
            StatusCode::BAD_REQUEST,
            "not ready to serve traffic, please wait".into(),
        );
    }
    if headers
        .get("X-Aws-Parameters-Secrets-Token")
        .and_then(|v| v.to_str().ok())
        != Some("session-token")
    {
        return (StatusCode::UNAUTHORIZED, "bad token".into());
    }
    let raw = uri
        .query()
        .and_then(|q| q.strip_prefix("secretId="))
        .unwrap_or_default()
        .replace('+', " ");
    let id = percent_encoding::percent_decode_str(&raw)
        .decode_utf8_lossy()
        .into_owned();
    let body = serde_json::json!({ "Name": id, "SecretString": format!("ext-value-of-{id}") });
    (StatusCode::OK, body.to_string())
}

async fn stand_in(listener: tokio::net::TcpListener, not_ready_for: usize) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route("/secretsmanager/get", get(extension_get))
        .with_state(Stand {
            calls: calls.clone(),
            not_ready_for,
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    calls
}

fn extension(port: u16, attempts: u32) -> Extension {
    Extension {
        port,
        token: Some("session-token".into()),
        attempts,
        delay: Duration::from_millis(20),
    }
}

fn env(
    pairs: &'static [(&'static str, &'static str)],
) -> impl Fn(&str) -> Option<String> + Send + Sync {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[tokio::test]
async fn both_spellings_come_from_the_extension_once_after_its_not_ready_answers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let calls = stand_in(listener, 3).await;
    let secrets = Secrets::builder(["API_KEY", "DB_PASSWORD", "PLAIN"])
        .lookup(env(&[
            ("SECRET_API_KEY", "prod/api key"),
            ("DB_PASSWORD_SECRET", "prod/db"),
            ("PLAIN", "local-value"),
        ]))
        .fetcher(AwsSecrets::new(Some(extension(port, 10)), None))
        .load()
        .await
        .unwrap();
    assert_eq!(
        secrets.get("API_KEY").await.unwrap().expose(),
        "ext-value-of-prod/api key"
    );
    assert_eq!(
        secrets.get("DB_PASSWORD").await.unwrap().expose(),
        "ext-value-of-prod/db"
    );
    assert_eq!(secrets.get("PLAIN").await.unwrap().expose(), "local-value");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3 + 2,
        "three not-ready answers, then one fetch each"
    );
    for _ in 0..200 {
        secrets.get("API_KEY").await.unwrap();
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        5,
        "many calls, no more fetches"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_until_the_extension_listens() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let starting = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap();
        stand_in(listener, 0).await
    });
    let secrets = Secrets::builder(["TOKEN"])
        .lookup(env(&[("SECRET_TOKEN", "t")]))
        .fetcher(AwsSecrets::new(Some(extension(port, 50)), None))
        .load()
        .await
        .unwrap();
    assert_eq!(
        secrets.get("TOKEN").await.unwrap().expose(),
        "ext-value-of-t"
    );
    assert_eq!(starting.await.unwrap().load(Ordering::SeqCst), 1);
}

/// moto's endpoint, or `None` (the test is skipped, with a line saying so) when no
/// moto answers and `CI` is unset.
async fn moto(test: &str) -> Option<String> {
    let endpoint = std::env::var("FABRIC_TEST_MOTO_ENDPOINT")
        .or_else(|_| std::env::var("FABRIC_TEST_DYNAMODB_ENDPOINT"))
        .unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let address = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    if tokio::net::TcpStream::connect(&address).await.is_ok() {
        return Some(endpoint);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no moto at {endpoint}: on CI the secrets tests must run"
    );
    eprintln!("SKIPPED {test}: no moto at {endpoint} (set FABRIC_TEST_MOTO_ENDPOINT)");
    None
}

async fn put_secret(endpoint: &str, name: &str, value: &str) {
    let config = aws_sdk_secretsmanager::config::Builder::from(&fabric::aws::sdk_config())
        .endpoint_url(endpoint)
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    if client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .is_err()
    {
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn without_the_extension_the_api_is_used_and_values_never_reach_the_logs() {
    let Some(endpoint) = moto("secrets_api").await else {
        return;
    };
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    // Everything at TRACE through Fabric's filter, which caps the AWS SDK's own logs
    // at DEBUG: at TRACE the SDK logs request and response bodies, this test's
    // CreateSecret and the GetSecretValue answers among them.
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_filter(fabric::logging::filter("trace")),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let value = "moto-value-7f3a9c";
    put_secret(&endpoint, "fabric-test/api-key", value).await;
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secrets = Secrets::builder(["API_KEY"])
        .lookup(env(&[("SECRET_API_KEY", "fabric-test/api-key")]))
        .ttl(Duration::from_millis(1))
        .fetcher(AwsSecrets::new(
            Some(extension(nobody, 3)),
            Some(endpoint.clone()),
        ))
        .load()
        .await
        .unwrap();
    let got = secrets.get("API_KEY").await.unwrap();
    assert_eq!(got.expose(), value);
    tracing::info!(secret = ?got, secrets = ?secrets, "what a careless service might log");
    tracing::info!("{got}");

    put_secret(&endpoint, "fabric-test/api-key", "moto-value-rotated-51c2").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        secrets.get("API_KEY").await.unwrap().expose(),
        "moto-value-rotated-51c2",
        "fetched again after the TTL"
    );

    let missing = Secrets::builder(["GONE"])
        .lookup(env(&[("GONE_SECRET", "fabric-test/never-created")]))
        .fetcher(AwsSecrets::new(None, Some(endpoint.clone())))
        .load()
        .await
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("secret GONE could not be loaded: fabric-test/never-created"),
        "{missing}"
    );
    tracing::error!(error = %missing, "start failed");

    let logs = captured.text();
    assert!(logs.contains("[redacted]"), "{logs}");
    assert!(
        logs.contains("aws_smithy_runtime"),
        "the SDK's DEBUG lines are kept:\n{logs}"
    );
    assert!(
        !logs.contains(" TRACE aws_smithy") && !logs.contains(" TRACE aws_sdk_"),
        "the SDK's TRACE lines are dropped:\n{logs}"
    );
    assert!(
        logs.contains("secrets extension did not answer; using the Secrets Manager API"),
        "{logs}"
    );
    assert!(
        !logs.contains(value) && !logs.contains("rotated-51c2"),
        "a value reached the logs:\n{logs}"
    );
}

#[tokio::test]
async fn an_adapter_whose_secret_cannot_load_fails_its_start_naming_it() {
    let settings = AdapterSettings::new(true)
        .with_secrets_from(Secrets::builder(["CHAT_TOKEN"]).lookup(|_| None));
    let err = settings.ready().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("secret CHAT_TOKEN could not be loaded"),
        "{err}"
    );

    let settings = AdapterSettings::new(true).with_secrets_from(
        Secrets::builder(["CHAT_TOKEN"])
            .lookup(|name| (name == "CHAT_TOKEN").then(|| "tok".into())),
    );
    let ready = settings.ready().await.unwrap();
    let ctx = fabric::Context::builder("r")
        .state(ready.state().clone())
        .build();
    assert_eq!(ctx.secret("CHAT_TOKEN").await.unwrap().expose(), "tok");
}
