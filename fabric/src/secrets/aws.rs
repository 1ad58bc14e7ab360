//! Fetching Secrets Manager secrets: the Parameters and Secrets Lambda Extension
//! first (a local cache, no SDK call), the Secrets Manager API when it is not there.
//!
//! The extension listens on `localhost:${PARAMETERS_SECRETS_EXTENSION_HTTP_PORT:-2773}`
//! and wants the function's session token in `X-Aws-Parameters-Secrets-Token`. It
//! starts alongside the function, so an early call can be refused or answered "not
//! ready" (400): those are retried a bounded number of times before the API is used.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::{SecretFetcher, SecretValue};

/// Where the extension listens and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Extension {
    /// The extension's port on the loopback interface.
    pub port: u16,
    /// `AWS_SESSION_TOKEN`, which the extension checks.
    pub token: Option<String>,
    /// How many tries before falling back to the API.
    pub attempts: u32,
    /// The pause between tries.
    pub delay: Duration,
}

/// The real [`SecretFetcher`]: the extension (when configured), then the API.
///
/// ```
/// use fabric::secrets::aws::AwsSecrets;
/// // Off Lambda and without PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, only the API.
/// let fetcher = AwsSecrets::from_env();
/// # let _ = fetcher;
/// ```
#[derive(Debug)]
pub struct AwsSecrets {
    extension: Option<Extension>,
    endpoint: Option<String>,
    client: OnceCell<aws_sdk_secretsmanager::Client>,
}

impl AwsSecrets {
    /// On Lambda (or with `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` set) the extension
    /// first; the API at `AWS_ENDPOINT_URL_SECRETS_MANAGER` or its usual endpoint.
    pub fn from_env() -> AwsSecrets {
        let port = crate::env::var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT");
        let extension = (crate::env::on_lambda() || port.is_some()).then(|| Extension {
            port: port.and_then(|port| port.parse().ok()).unwrap_or(2773),
            token: crate::env::var("AWS_SESSION_TOKEN"),
            attempts: 20,
            delay: Duration::from_millis(50),
        });
        AwsSecrets::new(extension, crate::aws::endpoint_from_env("SECRETS_MANAGER"))
    }

    /// The extension (or none) and the API endpoint (or the usual one).
    pub fn new(extension: Option<Extension>, endpoint: Option<String>) -> AwsSecrets {
        AwsSecrets {
            extension,
            endpoint,
            client: OnceCell::new(),
        }
    }

    async fn fetch_from_api(&self, secret_id: &str) -> Result<SecretValue, String> {
        let client = self
            .client
            .get_or_init(|| async {
                let mut config =
                    aws_sdk_secretsmanager::config::Builder::from(&crate::aws::sdk_config());
                if let Some(endpoint) = &self.endpoint {
                    config = config.endpoint_url(endpoint);
                }
                aws_sdk_secretsmanager::Client::from_conf(config.build())
            })
            .await;
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|err| aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string())?;
        output.secret_string.map(SecretValue::new).ok_or_else(|| {
            "the secret has no text value (binary secrets are not supported)".to_owned()
        })
    }
}

#[async_trait]
impl SecretFetcher for AwsSecrets {
    async fn fetch(&self, secret_id: &str) -> Result<SecretValue, String> {
        if let Some(extension) = &self.extension {
            for attempt in 0..extension.attempts {
                match from_extension(extension, secret_id).await {
                    Ok(value) => return Ok(value),
                    Err(reason) => {
                        tracing::debug!(attempt, %reason, "secrets extension not ready");
                        tokio::time::sleep(extension.delay).await;
                    }
                }
            }
            tracing::info!("the secrets extension did not answer; using the Secrets Manager API");
        }
        self.fetch_from_api(secret_id).await
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExtensionAnswer {
    secret_string: Option<String>,
}

/// One GET to the extension. The reason never includes the body (it may hold the
/// value).
async fn from_extension(extension: &Extension, secret_id: &str) -> Result<SecretValue, String> {
    let call = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", extension.port))
            .await
            .map_err(|err| format!("connect: {err}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| format!("handshake: {err}"))?;
        tokio::spawn(connection);
        let id: String = form_urlencoded::byte_serialize(secret_id.as_bytes()).collect();
        let mut request = http::Request::get(format!("/secretsmanager/get?secretId={id}"))
            .header(http::header::HOST, format!("localhost:{}", extension.port));
        if let Some(token) = &extension.token {
            request = request.header("X-Aws-Parameters-Secrets-Token", token);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("request: {err}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| format!("request: {err}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|err| format!("body: {err}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let answer: ExtensionAnswer = serde_json::from_slice(&body)
            .map_err(|_| "the answer is not a GetSecretValue document".to_owned())?;
        answer
            .secret_string
            .map(SecretValue::new)
            .ok_or_else(|| "the secret has no text value".to_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .map_err(|_| "no answer in 2 seconds".to_owned())?
}
