//! What every AWS SDK client in Fabric shares: one HTTP client (one connection pool
//! per process), credentials and region from the environment as Lambda sets them.
//!
//! On Lambda the credentials and region are environment variables, read as they
//! are ([`EnvCredentials`]): no credentials chain is even built, so a cold start
//! pays nothing for it. Off Lambda, with the default-on `aws-profiles` feature,
//! [`LocalCredentials`] takes them as every AWS tool does: the environment's keys,
//! else the profile `AWS_PROFILE` names (or `default`) in `AWS_CONFIG_FILE` /
//! `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/config`, `~/.aws/credentials`), with SSO,
//! `credential_process` and role assumption; with no profile files at all, dummy
//! credentials, as local emulators do not check them. Without the feature (a
//! Lambda-only build), off Lambda it is the environment or the dummy ones.

use std::sync::OnceLock;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::sdk_config::SharedCredentialsProvider;
use aws_types::sdk_config::TimeoutConfig;

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`; off Lambda, dummy credentials when those are not set.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvCredentials;

impl EnvCredentials {
    fn load() -> Result<Credentials, CredentialsError> {
        let var = crate::env::var;
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(secret)) => Ok(Credentials::new(
                key,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
                "environment",
            )),
            _ if !crate::env::on_lambda() => Ok(Credentials::new(
                "fabric-local",
                "fabric-local",
                None,
                None,
                "fabric-local",
            )),
            _ => Err(CredentialsError::not_loaded(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
            )),
        }
    }
}

impl ProvideCredentials for EnvCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Self::load())
    }
}

/// The credentials provider of every SDK client: the environment on Lambda (and off
/// it without `aws-profiles`), [`LocalCredentials`] off Lambda.
fn credentials() -> SharedCredentialsProvider {
    #[cfg(feature = "aws-profiles")]
    if !crate::env::on_lambda() {
        return SharedCredentialsProvider::new(LocalCredentials::new());
    }
    SharedCredentialsProvider::new(EnvCredentials)
}

/// Off Lambda (feature `aws-profiles`): keys in the environment, else the profile
/// `AWS_PROFILE` names (else `default`) from the shared config and credentials
/// files, through `aws-config`'s profile provider (static keys, SSO,
/// `credential_process`, `role_arn`); with no profile files, dummy credentials for
/// local emulators. A profile that is named but cannot load is an error naming it.
///
/// ```no_run
/// use aws_credential_types::provider::ProvideCredentials;
/// # async fn run() {
/// // AWS_PROFILE=dev, with [dev] in ~/.aws/credentials
/// let credentials = fabric::aws::LocalCredentials::new().provide_credentials().await.unwrap();
/// println!("signing as {}", credentials.access_key_id());
/// # }
/// ```
#[cfg(feature = "aws-profiles")]
#[derive(Debug)]
pub struct LocalCredentials {
    profile: aws_config::profile::ProfileFileCredentialsProvider,
}

#[cfg(feature = "aws-profiles")]
impl LocalCredentials {
    /// The provider for this process' environment and profile files.
    pub fn new() -> LocalCredentials {
        let config = aws_config::provider_config::ProviderConfig::without_region()
            .with_http_client(http_client());
        LocalCredentials {
            profile: aws_config::profile::ProfileFileCredentialsProvider::builder()
                .configure(&config)
                .build(),
        }
    }

    async fn load(&self) -> Result<Credentials, CredentialsError> {
        let var = crate::env::var;
        if var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_SECRET_ACCESS_KEY").is_some() {
            return EnvCredentials::load();
        }
        let named = var("AWS_PROFILE").is_some();
        match self.profile.provide_credentials().await {
            Ok(credentials) => Ok(credentials),
            Err(err) if named => Err(err),
            // No profile files, or no `default` profile: a local emulator.
            Err(_) if !profile_files_exist() => EnvCredentials::load(),
            Err(err) => Err(err),
        }
    }
}

#[cfg(feature = "aws-profiles")]
impl Default for LocalCredentials {
    fn default() -> LocalCredentials {
        LocalCredentials::new()
    }
}

/// Whether the shared config or credentials file is there.
#[cfg(feature = "aws-profiles")]
fn profile_files_exist() -> bool {
    let home = crate::env::first(&["HOME", "USERPROFILE"]).map(std::path::PathBuf::from);
    let file = |variable: &str, default: &str| {
        crate::env::var(variable)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".aws").join(default)))
    };
    [
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
    .into_iter()
    .flatten()
    .any(|path| path.is_file())
}

#[cfg(feature = "aws-profiles")]
impl ProvideCredentials for LocalCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}

/// `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`.
pub fn region() -> Region {
    let region = crate::env::first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
        .unwrap_or_else(|| "us-east-1".to_owned());
    Region::new(region)
}

/// The process' HTTP client for AWS calls: hyper with rustls (ring), plain `http://`
/// for local endpoints. Every SDK client shares it, and so its connection pool.
///
/// HTTPS is verified against Mozilla's root certificates compiled into the binary
/// (`webpki-root-certs`), not the system's certificate directory: reading and
/// parsing every file there was most of a Lambda cold start.
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(compiled_in_roots())
                .build_https()
        })
        .clone()
}

/// A TLS context trusting the compiled-in roots only. The SDK's trust store takes
/// PEM, so each DER certificate is wrapped; that is in-memory work of well under a
/// millisecond, done when the first SDK client is built.
fn compiled_in_roots() -> aws_smithy_http_client::tls::TlsContext {
    use aws_smithy_http_client::tls::{TlsContext, TrustStore};
    use base64::Engine;
    let mut store = TrustStore::empty().with_native_roots(false);
    let engine = &base64::engine::general_purpose::STANDARD;
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let body = engine.encode(cert.as_ref());
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            // Base64 is ASCII, so every chunk is valid UTF-8.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        store.add_pem_certificate(pem);
    }
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        // `build` cannot fail today; were it to, the SDK's default (the system
        // store) still verifies.
        .unwrap_or_default()
}

/// What every Fabric SDK client starts from: the shared HTTP client, credentials and
/// region from the environment, the latest behaviour version, and time limits: an
/// attempt that gets no answer in 5 seconds fails, and a call with its retries in 10,
/// so a stalled endpoint cannot hold a Lambda invocation until its own timeout. Each
/// client adds its endpoint and retry rules
/// (`aws_sdk_x::config::Builder::from(&sdk_config())`).
pub fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .credentials_provider(credentials())
        .region(region())
        .timeout_config(timeouts(ATTEMPT_TIMEOUT, CALL_TIMEOUT))
        .build()
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Time limits for one attempt and for a whole call, retries included; connecting
/// gets at most 3 seconds of the attempt.
///
/// ```
/// use std::time::Duration;
/// let limits = fabric::aws::timeouts(Duration::from_secs(1), Duration::from_secs(3));
/// assert_eq!(limits.operation_timeout(), Some(Duration::from_secs(3)));
/// ```
pub fn timeouts(attempt: Duration, call: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(attempt.min(Duration::from_secs(3)))
        .operation_attempt_timeout(attempt)
        .operation_timeout(call)
        .build()
}

/// The endpoint the standard variables set for a service: `AWS_ENDPOINT_URL_{SERVICE}`
/// (e.g. `AWS_ENDPOINT_URL_DYNAMODB`), then `AWS_ENDPOINT_URL`. Empty values count
/// as unset.
///
/// ```
/// // Unset in tests, unless the environment points at a local emulator.
/// let endpoint = fabric::aws::endpoint_from_env("DYNAMODB");
/// # let _ = endpoint;
/// ```
pub fn endpoint_from_env(service: &str) -> Option<String> {
    crate::env::first(&[&format!("AWS_ENDPOINT_URL_{service}"), "AWS_ENDPOINT_URL"])
}
