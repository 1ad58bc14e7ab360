//! [`SdkManagementApi`]: the Management API through `aws-sdk-apigatewaymanagement`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::Builder;
use aws_sdk_apigatewaymanagement::config::retry::{ClassifyRetry, RetryAction, RetryConfig};
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::{Blob, DateTime as AwsDateTime};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use chrono::{DateTime, Utc};

use super::management::{ConnectionInfo, ManagementApi, ManagementError};
use crate::aws;

/// The Management API of one endpoint, through the AWS SDK.
///
/// Throttling (429, `LimitExceededException`) is retried with backoff; a gone
/// connection (410) is not. A call that gets no answer gives up: each attempt after
/// 5 seconds, the whole call (retries included) after 10, so a stalled endpoint
/// cannot hold a Lambda invocation until its own timeout. The client is cheap to
/// clone and shares the process' connection pool.
///
/// ```
/// use fabric::websocket::SdkManagementApi;
/// let api = SdkManagementApi::new("https://abc123.execute-api.eu-west-1.amazonaws.com/prod");
/// # let _ = api;
/// ```
#[derive(Clone, Debug)]
pub struct SdkManagementApi {
    client: Client,
}

impl SdkManagementApi {
    /// A client for the Management API at `endpoint`
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub fn new(endpoint: &str) -> SdkManagementApi {
        let retry = RetryConfig::standard()
            .with_max_attempts(4)
            .with_initial_backoff(Duration::from_millis(50))
            .with_max_backoff(Duration::from_secs(1));
        let config = Builder::from(&aws::sdk_config())
            .endpoint_url(endpoint)
            .retry_config(retry)
            .retry_classifier(ThrottledStatus)
            .build();
        SdkManagementApi {
            client: Client::from_conf(config),
        }
    }

    /// Sets how long one attempt may wait for an answer, and one call with its
    /// retries (defaults 5 and 10 seconds).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fabric::websocket::SdkManagementApi;
    /// let api = SdkManagementApi::new("http://127.0.0.1:3001/local")
    ///     .timeouts(Duration::from_secs(1), Duration::from_secs(3));
    /// # let _ = api;
    /// ```
    pub fn timeouts(self, attempt: Duration, call: Duration) -> SdkManagementApi {
        let config = self
            .client
            .config()
            .to_builder()
            .timeout_config(aws::timeouts(attempt, call))
            .build();
        SdkManagementApi {
            client: Client::from_conf(config),
        }
    }

    /// The SDK client, for calls Fabric does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl ManagementApi for SdkManagementApi {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), ManagementError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify(err, data.len()))
    }

    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError> {
        let output = self
            .client
            .get_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map_err(|err| classify(err, 0))?;
        let time = |value: Option<&AwsDateTime>| {
            value
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                .ok_or_else(|| {
                    ManagementError::Other("GetConnection answered without timestamps".into())
                })
        };
        Ok(ConnectionInfo {
            connected_at: time(output.connected_at())?,
            last_active_at: time(output.last_active_at())?,
            source_ip: output
                .identity()
                .and_then(|i| i.source_ip())
                .map(str::to_owned),
            user_agent: output
                .identity()
                .and_then(|i| i.user_agent())
                .map(str::to_owned),
        })
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError> {
        self.client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify(err, 0))
    }
}

/// Gone is known by its 410 status as well as its error code: proxies and local
/// emulators do not always name the exception.
fn classify<E>(err: SdkError<E, HttpResponse>, bytes: usize) -> ManagementError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err
        .raw_response()
        .map(|response| response.status().as_u16());
    let code = err.code().map(str::to_owned);
    let detail = || DisplayErrorContext(&err).to_string();
    match (status, code.as_deref()) {
        (Some(410), _) | (_, Some("GoneException")) => ManagementError::Gone,
        (Some(413), _) | (_, Some("PayloadTooLargeException")) => {
            ManagementError::PayloadTooLarge(bytes)
        }
        (Some(403), _) | (_, Some("ForbiddenException")) => ManagementError::Forbidden(detail()),
        (Some(429), _) | (_, Some("LimitExceededException")) => {
            ManagementError::Throttled(detail())
        }
        _ => ManagementError::Other(detail()),
    }
}

/// Retries any 429 as throttling, named or not; the SDK's own rules only retry a
/// 429 whose error code it recognises.
#[derive(Debug)]
struct ThrottledStatus;

impl ClassifyRetry for ThrottledStatus {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response().map(|response| response.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "fabric: 429 is throttling"
    }
}

#[cfg(test)]
mod tests {
    use super::SdkManagementApi;
    use crate::websocket::{ManagementApi, ManagementError};

    /// The SDK parses every trusted root when a client makes its first connection
    /// and panics on one it cannot parse: a call over HTTPS must come back as an
    /// ordinary error (nothing listens on the port), so every compiled-in root parses.
    #[tokio::test]
    async fn an_https_call_with_the_compiled_in_roots_fails_cleanly_not_with_a_panic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        drop(listener);
        let api = SdkManagementApi::new(&format!("https://127.0.0.1:{port}/prod"));
        let result = api.get("abc=").await;
        assert!(
            matches!(result, Err(ManagementError::Other(_))),
            "{result:?}"
        );
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
    }
}
