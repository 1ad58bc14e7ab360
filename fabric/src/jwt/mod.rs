//! JSON Web Token verification for `$connect` hooks and authorizers (feature `jwt`).
//!
//! A [`JwtVerifier`] checks a token's signature — HS256 with a shared secret, or
//! RS256/ES256 against a JWKS URL (Cognito, Auth0, …) whose keys are cached per
//! process and fetched again when a token names an unknown `kid` — and then its
//! issuer, audience and `exp`/`nbf` (with leeway). Every refusal is a [`JwtError`]
//! whose message tells a client developer what to fix ("the token has expired"),
//! and which becomes a 401 [`Error`].
//!
//! [`find_token`] takes the token from where clients put it: `?token=`,
//! `?Authorization=`, `Authorization: Bearer …`, or a subprotocol that is a JWT
//! (which the server must then echo as the chosen protocol).
//!
//! ```
//! use fabric::jwt::{JwtError, JwtVerifier};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let verifier = JwtVerifier::hs256("dev-secret").issuer("chat");
//! let err = verifier.verify::<serde_json::Value>("not a token").await.unwrap_err();
//! assert_eq!(err, JwtError::Malformed);
//! assert_eq!(fabric::Error::from(err).status(), 401);
//! # })
//! ```

mod jwks;
mod token;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind};

pub use token::{TokenFound, TokenSource, TokenSources, find_token};

/// Why a token was refused. Each message is meant for the client's developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// No token in any place [`find_token`] looks.
    #[error(
        "no token: send it as ?token=, ?Authorization=, an Authorization: Bearer header or a subprotocol"
    )]
    Missing,
    /// Not three base64url parts of JSON.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header names an algorithm this verifier does not accept (`none` included).
    #[error("the token's algorithm {0:?} is not accepted")]
    AlgorithmNotAllowed(String),
    /// No signing key has the token's `kid`, even after fetching the keys again.
    #[error("the token was signed with an unknown key (kid {0:?})")]
    UnknownKey(String),
    /// The signature does not match the token's contents.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the expected issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not include the expected audience.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// A required claim (`exp`, or one the claims type needs) is missing or mistyped.
    #[error("the token's claims are missing or invalid: {0}")]
    BadClaims(String),
    /// The signing keys could not be fetched (the cause is logged, not shown).
    #[error("the token's signing keys are unavailable; try again later")]
    KeysUnavailable,
}

impl From<JwtError> for Error {
    fn from(err: JwtError) -> Error {
        Error::new(ErrorKind::Unauthorized, err.to_string())
    }
}

/// Where a verifier's keys come from.
#[derive(Clone)]
enum Keys {
    Secret(Arc<DecodingKey>),
    Jwks(Arc<jwks::JwksCache>),
}

/// Verifies JWTs: signature, then issuer, audience, `exp` and `nbf`.
///
/// Build one per process (in setup or a `static`) and share it; clones share the
/// key cache, and every verifier of one JWKS URL shares that URL's cached keys.
///
/// ```
/// use std::time::Duration;
/// use fabric::jwt::JwtVerifier;
/// let cognito = JwtVerifier::jwks("https://cognito-idp.eu-west-1.amazonaws.com/POOL/.well-known/jwks.json")
///     .issuer("https://cognito-idp.eu-west-1.amazonaws.com/POOL")
///     .audience("my-client-id")
///     .leeway(Duration::from_secs(30));
/// # let _ = cognito;
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    keys: Keys,
    algorithms: Vec<Algorithm>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    refetch_after: Duration,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            Keys::Secret(_) => "shared secret".to_string(),
            Keys::Jwks(cache) => cache.url().to_string(),
        };
        f.debug_struct("JwtVerifier")
            .field("keys", &keys)
            .field("algorithms", &self.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl JwtVerifier {
    /// HS256 tokens signed with a shared secret.
    ///
    /// ```
    /// let verifier = fabric::jwt::JwtVerifier::hs256(b"a long random secret");
    /// # let _ = verifier;
    /// ```
    pub fn hs256(secret: impl AsRef<[u8]>) -> JwtVerifier {
        JwtVerifier::with_keys(
            Keys::Secret(Arc::new(DecodingKey::from_secret(secret.as_ref()))),
            vec![Algorithm::HS256],
        )
    }

    /// RS256 and ES256 tokens checked against the JSON Web Key Set at `url`, fetched
    /// on first use, cached per process, and fetched again when a token names a
    /// `kid` the cached set lacks (at most once per [`refetch_after`](Self::refetch_after)).
    pub fn jwks(url: impl Into<String>) -> JwtVerifier {
        JwtVerifier::with_keys(
            Keys::Jwks(jwks::JwksCache::for_url(url.into())),
            vec![Algorithm::RS256, Algorithm::ES256],
        )
    }

    fn with_keys(keys: Keys, algorithms: Vec<Algorithm>) -> JwtVerifier {
        JwtVerifier {
            keys,
            algorithms,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(60),
            refetch_after: Duration::from_secs(30),
        }
    }

    /// Accept only tokens whose `iss` is `issuer`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> JwtVerifier {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accept only tokens whose `aud` is or includes `audience`.
    pub fn audience(mut self, audience: impl Into<String>) -> JwtVerifier {
        self.audience = Some(audience.into());
        self
    }

    /// How far `exp` and `nbf` may be off for clock skew (60 seconds by default).
    pub fn leeway(mut self, leeway: Duration) -> JwtVerifier {
        self.leeway = leeway;
        self
    }

    /// The least time between two fetches of the JWKS for unknown `kid`s (30 s by
    /// default), so random `kid`s cannot make every connect fetch the keys.
    pub fn refetch_after(mut self, interval: Duration) -> JwtVerifier {
        self.refetch_after = interval;
        self
    }

    /// Checks `token` and returns its claims as `C` (a struct, or `serde_json::Value`).
    pub async fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, JwtError> {
        let header = token::header(token)?;
        let algorithm = self
            .algorithms
            .iter()
            .copied()
            .find(|alg| format!("{alg:?}") == header.alg)
            .ok_or_else(|| JwtError::AlgorithmNotAllowed(header.alg.clone()))?;
        let key = match &self.keys {
            Keys::Secret(key) => key.clone(),
            Keys::Jwks(cache) => {
                let kid = header.kid.clone().unwrap_or_default();
                cache.key(&kid, algorithm, self.refetch_after).await?
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<C>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|err| refusal(err.into_kind()))
    }
}

/// The refusal a client developer can act on, for what `jsonwebtoken` found.
fn refusal(kind: JwtErrorKind) -> JwtError {
    match kind {
        JwtErrorKind::ExpiredSignature => JwtError::Expired,
        JwtErrorKind::ImmatureSignature => JwtError::NotYetValid,
        JwtErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        JwtErrorKind::InvalidAudience => JwtError::WrongAudience,
        JwtErrorKind::InvalidSignature => JwtError::BadSignature,
        JwtErrorKind::InvalidAlgorithm => JwtError::AlgorithmNotAllowed("mismatched".into()),
        JwtErrorKind::MissingRequiredClaim(claim) => {
            JwtError::BadClaims(format!("{claim:?} is required"))
        }
        JwtErrorKind::Json(err) => JwtError::BadClaims(err.to_string()),
        _ => JwtError::Malformed,
    }
}
