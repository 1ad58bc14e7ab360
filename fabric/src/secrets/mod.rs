//! Secrets declared by name, loaded once per process before the first call and
//! refreshed after a time to live.
//!
//! A secret named `CHAT_TOKEN` comes from, in order:
//! - `SECRET_CHAT_TOKEN` or `CHAT_TOKEN_SECRET`: the id (name or ARN) of a Secrets
//!   Manager secret, fetched from the Parameters and Secrets Lambda Extension and,
//!   when that is not there, from the Secrets Manager API (the `secrets` feature);
//! - `CHAT_TOKEN`: the value itself (how it runs locally).
//!
//! Values are [`SecretValue`]s: their `Debug` and `Display` say `[redacted]`, so they
//! stay out of logs, errors and `--verbose`; [`SecretValue::expose`] gives the text.
//! A service reads one with [`Context::secret`](crate::Context::secret); the
//! adapters' `secrets([...])` method declares them.
//!
//! ```
//! use fabric::secrets::Secrets;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let secrets = Secrets::builder(["DOC_TOKEN"])
//!     .lookup(|name| (name == "DOC_TOKEN").then(|| "s3cret".to_owned()))
//!     .load()
//!     .await
//!     .unwrap();
//! let token = secrets.get("DOC_TOKEN").await.unwrap();
//! assert_eq!(token.expose(), "s3cret");
//! assert_eq!(format!("{token:?}"), "[redacted]");
//! # })
//! ```

#[cfg(feature = "secrets")]
pub mod aws;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Error;

/// A secret's text. `Debug` and `Display` print `[redacted]`.
///
/// ```
/// let value = fabric::secrets::SecretValue::new("hunter2");
/// assert_eq!(value.to_string(), "[redacted]");
/// assert_eq!(value.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Arc<str>);

impl SecretValue {
    /// Wraps a secret's text.
    pub fn new(value: impl Into<Arc<str>>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The text itself: use it, do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a declared secret comes from, as the environment says.
///
/// ```
/// use fabric::secrets::Origin;
/// let env = |name: &str| (name == "SECRET_API_KEY").then(|| "prod/api-key".to_owned());
/// assert_eq!(
///     Origin::resolve("API_KEY", env),
///     Some(Origin::SecretsManager { secret_id: "prod/api-key".into() })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A Secrets Manager secret id, from `SECRET_<NAME>` or `<NAME>_SECRET`.
    SecretsManager {
        /// The secret's name or ARN.
        secret_id: String,
    },
    /// The value is the variable `<NAME>` itself.
    Plain(SecretValue),
}

impl Origin {
    /// Where `name` comes from, reading variables with `env`; `None` when nothing
    /// names it.
    pub fn resolve(name: &str, env: impl Fn(&str) -> Option<String>) -> Option<Origin> {
        if let Some(secret_id) =
            env(&format!("SECRET_{name}")).or_else(|| env(&format!("{name}_SECRET")))
        {
            return Some(Origin::SecretsManager { secret_id });
        }
        env(name).map(|value| Origin::Plain(SecretValue::new(value)))
    }
}

/// Why a secret could not be loaded. Its message names the secret, never a value.
///
/// ```
/// let err = fabric::secrets::SecretError::new("CHAT_TOKEN", "not set");
/// assert_eq!(err.to_string(), "secret CHAT_TOKEN could not be loaded: not set");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("secret {name} could not be loaded: {reason}")]
pub struct SecretError {
    name: String,
    reason: String,
}

impl SecretError {
    /// An error for the secret `name`.
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> SecretError {
        SecretError {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// The declared name of the secret that failed.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Fetches a Secrets Manager secret's text by id. `aws::AwsSecrets` (feature `secrets`) is the real
/// one (extension, then API); tests can give their own.
///
/// ```
/// use fabric::secrets::{SecretFetcher, SecretValue};
///
/// struct Fixed;
///
/// #[fabric::async_trait]
/// impl SecretFetcher for Fixed {
///     async fn fetch(&self, _secret_id: &str) -> Result<SecretValue, String> {
///         Ok(SecretValue::new("fixed"))
///     }
/// }
/// # let _ = Fixed;
/// ```
#[async_trait]
pub trait SecretFetcher: Send + Sync + 'static {
    /// The secret's text, or why it could not be fetched (without the value).
    async fn fetch(&self, secret_id: &str) -> Result<SecretValue, String>;
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How [`Secrets`] are loaded: which names, from where, for how long.
#[derive(Clone)]
pub struct SecretsBuilder {
    names: Vec<String>,
    ttl: Duration,
    lookup: Lookup,
    fetcher: Option<Arc<dyn SecretFetcher>>,
}

impl SecretsBuilder {
    /// The names it declares.
    ///
    /// ```
    /// let builder = fabric::secrets::Secrets::builder(["A", "B"]);
    /// assert_eq!(builder.names(), ["A", "B"]);
    /// ```
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How long a fetched value is used before it is fetched again (default: 5
    /// minutes, the extension's own default cache time).
    pub fn ttl(mut self, ttl: Duration) -> SecretsBuilder {
        self.ttl = ttl;
        self
    }

    /// Reads variables with `lookup` instead of the process environment.
    pub fn lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> SecretsBuilder {
        self.lookup = Arc::new(lookup);
        self
    }

    /// Fetches Secrets Manager secrets with `fetcher` (default: the extension, then
    /// the API, with the `secrets` feature).
    pub fn fetcher(mut self, fetcher: impl SecretFetcher) -> SecretsBuilder {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// Loads every declared secret. The first that cannot load is the error.
    pub async fn load(self) -> Result<Secrets, SecretError> {
        let fetcher = match self.fetcher {
            Some(fetcher) => Some(fetcher),
            None => default_fetcher(),
        };
        let mut entries = HashMap::new();
        for name in &self.names {
            let origin = Origin::resolve(name, &*self.lookup).ok_or_else(|| {
                SecretError::new(
                    name,
                    format!(
                        "set SECRET_{name} to a Secrets Manager secret id, or {name} to the value"
                    ),
                )
            })?;
            let entry = Entry::load(name, origin, fetcher.as_deref()).await?;
            entries.insert(name.clone(), entry);
        }
        Ok(Secrets {
            inner: Arc::new(Inner {
                ttl: self.ttl,
                fetcher,
                entries: Mutex::new(entries),
            }),
        })
    }
}

impl fmt::Debug for SecretsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsBuilder")
            .field("names", &self.names)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "secrets")]
fn default_fetcher() -> Option<Arc<dyn SecretFetcher>> {
    Some(Arc::new(aws::AwsSecrets::from_env()))
}

#[cfg(not(feature = "secrets"))]
fn default_fetcher() -> Option<Arc<dyn SecretFetcher>> {
    None
}

#[derive(Clone)]
struct Entry {
    origin: Origin,
    value: SecretValue,
    fetched: Instant,
}

impl Entry {
    async fn load(
        name: &str,
        origin: Origin,
        fetcher: Option<&dyn SecretFetcher>,
    ) -> Result<Entry, SecretError> {
        let value = match &origin {
            Origin::Plain(value) => value.clone(),
            Origin::SecretsManager { secret_id } => {
                let fetcher = fetcher.ok_or_else(|| {
                    SecretError::new(
                        name,
                        "this binary is built without fabric's `secrets` feature",
                    )
                })?;
                fetcher
                    .fetch(secret_id)
                    .await
                    .map_err(|reason| SecretError::new(name, format!("{secret_id}: {reason}")))?
            }
        };
        Ok(Entry {
            origin,
            value,
            fetched: Instant::now(),
        })
    }
}

struct Inner {
    ttl: Duration,
    fetcher: Option<Arc<dyn SecretFetcher>>,
    entries: Mutex<HashMap<String, Entry>>,
}

/// The loaded secrets of an adapter. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Secrets {
    inner: Arc<Inner>,
}

impl Secrets {
    /// Starts loading the secrets `names`.
    ///
    /// ```
    /// let builder = fabric::secrets::Secrets::builder(["API_KEY"]);
    /// # let _ = builder;
    /// ```
    pub fn builder<I, S>(names: I) -> SecretsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SecretsBuilder {
            names: names.into_iter().map(Into::into).collect(),
            ttl: Duration::from_secs(300),
            lookup: Arc::new(crate::env::var),
            fetcher: None,
        }
    }

    /// The secret `name`, fetched again when older than the time to live. If that
    /// fetch fails, the last value is kept (and the failure logged, without it).
    pub async fn get(&self, name: &str) -> Result<SecretValue, Error> {
        let entry = self.entry(name)?;
        if entry.fetched.elapsed() < self.inner.ttl || matches!(entry.origin, Origin::Plain(_)) {
            return Ok(entry.value);
        }
        match self.refresh(name).await {
            Ok(value) => Ok(value),
            Err(err) => {
                tracing::warn!(error = %err, "secret refresh failed; the last value is kept");
                Ok(entry.value)
            }
        }
    }

    /// Fetches the secret `name` now (after a rotation, say), whatever its age.
    pub async fn refresh(&self, name: &str) -> Result<SecretValue, Error> {
        let entry = self.entry(name)?;
        let fresh = Entry::load(name, entry.origin, self.inner.fetcher.as_deref())
            .await
            .map_err(|err| Error::internal_message(err.to_string()))?;
        let value = fresh.value.clone();
        self.lock().insert(name.to_owned(), fresh);
        Ok(value)
    }

    /// The declared names.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        names
    }

    fn entry(&self, name: &str) -> Result<Entry, Error> {
        self.lock().get(name).cloned().ok_or_else(|| {
            Error::internal_message(format!(
                "no secret named {name} was declared on the adapter"
            ))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is whole.
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("names", &self.names())
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        calls: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl SecretFetcher for Counting {
        async fn fetch(&self, secret_id: &str) -> Result<SecretValue, String> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            match secret_id {
                "missing" => Err("ResourceNotFoundException".into()),
                _ => Ok(SecretValue::new(format!("{secret_id}-v{n}"))),
            }
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
    async fn both_spellings_and_the_plain_fallback_resolve() {
        let calls = Arc::new(AtomicUsize::new(0));
        let secrets = Secrets::builder(["A", "B", "C"])
            .lookup(env(&[
                ("SECRET_A", "id-a"),
                ("B_SECRET", "id-b"),
                ("C", "plain-c"),
            ]))
            .fetcher(Counting {
                calls: calls.clone(),
            })
            .load()
            .await
            .unwrap();
        assert_eq!(secrets.get("A").await.unwrap().expose(), "id-a-v0");
        assert_eq!(secrets.get("B").await.unwrap().expose(), "id-b-v1");
        assert_eq!(secrets.get("C").await.unwrap().expose(), "plain-c");
        for _ in 0..100 {
            secrets.get("A").await.unwrap();
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one fetch per secret for many calls"
        );
        assert!(!format!("{secrets:?}").contains("plain-c"));
    }

    #[tokio::test]
    async fn values_are_fetched_again_after_the_ttl_and_on_demand() {
        let calls = Arc::new(AtomicUsize::new(0));
        let secrets = Secrets::builder(["A"])
            .lookup(env(&[("SECRET_A", "id")]))
            .ttl(Duration::from_millis(30))
            .fetcher(Counting {
                calls: calls.clone(),
            })
            .load()
            .await
            .unwrap();
        assert_eq!(secrets.get("A").await.unwrap().expose(), "id-v0");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(secrets.get("A").await.unwrap().expose(), "id-v1");
        assert_eq!(secrets.get("A").await.unwrap().expose(), "id-v1");
        assert_eq!(secrets.refresh("A").await.unwrap().expose(), "id-v2");
    }

    #[tokio::test]
    async fn a_missing_secret_fails_the_load_naming_it() {
        let err = Secrets::builder(["OK", "GONE"])
            .lookup(env(&[("OK", "x"), ("SECRET_GONE", "missing")]))
            .fetcher(Counting {
                calls: Arc::default(),
            })
            .load()
            .await
            .unwrap_err();
        assert_eq!(err.name(), "GONE");
        assert_eq!(
            err.to_string(),
            "secret GONE could not be loaded: missing: ResourceNotFoundException"
        );

        let unset = Secrets::builder(["NOPE"])
            .lookup(|_| None)
            .load()
            .await
            .unwrap_err();
        assert!(
            unset
                .to_string()
                .starts_with("secret NOPE could not be loaded: set SECRET_NOPE")
        );
    }

    #[tokio::test]
    async fn an_undeclared_name_is_an_error_not_a_panic() {
        let secrets = Secrets::builder(Vec::<String>::new()).load().await.unwrap();
        let err = secrets.get("X").await.unwrap_err();
        assert_eq!(err.status(), 500);
    }
}
