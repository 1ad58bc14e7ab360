//! A JSON Web Key Set fetched over HTTP(S), cached per process and URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::JwtError;

/// A key set larger than this is refused (Cognito's is about 1 KB).
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long one fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The keys of one URL, shared by every verifier of that URL in the process.
pub(super) struct JwksCache {
    url: String,
    fetched: tokio::sync::RwLock<Option<Fetched>>,
    /// One fetch at a time: concurrent connects with a new `kid` wait for it.
    fetching: tokio::sync::Mutex<()>,
}

struct Fetched {
    keys: HashMap<String, Arc<DecodingKey>>,
    at: Instant,
}

impl JwksCache {
    /// The process's cache for `url`.
    pub(super) fn for_url(url: String) -> Arc<JwksCache> {
        static CACHES: OnceLock<Mutex<HashMap<String, Arc<JwksCache>>>> = OnceLock::new();
        let caches = CACHES.get_or_init(Default::default);
        let mut caches = caches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        caches
            .entry(url.clone())
            .or_insert_with(|| {
                Arc::new(JwksCache {
                    url,
                    fetched: tokio::sync::RwLock::new(None),
                    fetching: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// The key named `kid` for `algorithm`, fetching the set when it is not cached
    /// yet, or when `kid` is unknown and the last fetch is older than `refetch_after`.
    pub(super) async fn key(
        &self,
        kid: &str,
        algorithm: Algorithm,
        refetch_after: Duration,
    ) -> Result<Arc<DecodingKey>, JwtError> {
        if let Some(key) = self.cached(kid, algorithm).await {
            return Ok(key);
        }
        let _one_fetch = self.fetching.lock().await;
        // Another connect may have fetched while this one waited.
        if let Some(key) = self.cached(kid, algorithm).await {
            return Ok(key);
        }
        let recent = self
            .fetched
            .read()
            .await
            .as_ref()
            .is_some_and(|f| f.at.elapsed() < refetch_after);
        if !recent {
            let keys = self.fetch().await?;
            *self.fetched.write().await = Some(Fetched {
                keys,
                at: Instant::now(),
            });
        }
        self.cached(kid, algorithm)
            .await
            .ok_or_else(|| JwtError::UnknownKey(kid.to_string()))
    }

    async fn cached(&self, kid: &str, algorithm: Algorithm) -> Option<Arc<DecodingKey>> {
        let fetched = self.fetched.read().await;
        fetched
            .as_ref()?
            .keys
            .get(&key_name(kid, algorithm))
            .cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, JwtError> {
        let unavailable = |why: String| {
            tracing::warn!(url = %self.url, "JWKS fetch failed: {why}");
            JwtError::KeysUnavailable
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, get(&self.url))
            .await
            .map_err(|_| unavailable(format!("no answer in {FETCH_TIMEOUT:?}")))?
            .map_err(unavailable)?;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| unavailable(format!("not a JWKS: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            let key = Arc::new(key);
            // A key serves the algorithms its type allows, or only the one it names.
            for algorithm in [Algorithm::RS256, Algorithm::ES256] {
                let named = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
                let fits = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => algorithm == Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => {
                        algorithm == Algorithm::ES256
                    }
                    _ => false,
                };
                if fits
                    && named
                        .as_ref()
                        .is_none_or(|n| *n == format!("{algorithm:?}"))
                {
                    keys.insert(key_name(&kid, algorithm), key.clone());
                }
            }
        }
        Ok(keys)
    }
}

fn key_name(kid: &str, algorithm: Algorithm) -> String {
    format!("{algorithm:?}/{kid}")
}

/// GET `url`'s body (HTTPS with the system's roots, or plain HTTP for tests and
/// private endpoints), at most [`MAX_JWKS_BYTES`].
async fn get(url: &str) -> Result<Bytes, String> {
    static CLIENT: OnceLock<Result<HttpsClient, String>> = OnceLock::new();
    let client = CLIENT
        .get_or_init(|| {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| format!("no TLS roots: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(TokioExecutor::new()).build(connector))
        })
        .as_ref()?;
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let response = client.get(uri).await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.to_bytes())
}
