//! Lambda REQUEST authorizers for a WebSocket API's `$connect`.
//!
//! [`fabric_authorizer`] turns an async function of the connect request into an
//! authorizer: it returns [`Authorized`] (a principal id and a context struct) to
//! let the connection in, or an error — 401 and 403 are refusals, anything else an
//! authorizer failure. The context is flattened to what API Gateway accepts
//! (strings, numbers and booleans, at most 8 KB); a nested value is refused with a
//! message that names the field, and the refusal is logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorKind};
use crate::secrets::{SecretError, SecretValue, Secrets, SecretsBuilder};

/// The most API Gateway accepts as an authorizer's context, serialized.
pub const MAX_CONTEXT_BYTES: usize = 8 * 1024;

/// Where API Gateway reads the identity from before it invokes the authorizer; a
/// request without every source is refused with 401 and the authorizer is not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A query parameter of the connect URL: `route.request.querystring.NAME`.
    Query(String),
    /// A request header: `route.request.header.NAME` (`Sec-WebSocket-Protocol` too).
    Header(String),
}

impl IdentitySource {
    /// The expression the template's `IdentitySource` lists.
    ///
    /// ```
    /// use fabric::websocket::IdentitySource;
    /// assert_eq!(IdentitySource::Query("token".into()).expression(), "route.request.querystring.token");
    /// ```
    pub fn expression(&self) -> String {
        match self {
            IdentitySource::Query(name) => format!("route.request.querystring.{name}"),
            IdentitySource::Header(name) => format!("route.request.header.{name}"),
        }
    }
}

/// What an authorizer lets in: who (`principal_id`) and what the later events of
/// the connection see as `requestContext.authorizer`.
#[derive(Debug, Clone)]
pub struct Authorized<C> {
    /// The caller's id (`principalId`); blank is refused with 403.
    pub principal_id: String,
    /// A struct of strings, numbers and booleans.
    pub context: C,
}

/// The connect request an authorizer decides on.
#[derive(Debug, Clone)]
pub struct AuthorizerRequest {
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    secrets: Option<Secrets>,
}

impl AuthorizerRequest {
    /// The request of an API Gateway REQUEST authorizer event.
    pub fn new(event: ApiGatewayCustomAuthorizerRequestTypeRequest) -> AuthorizerRequest {
        AuthorizerRequest {
            event,
            secrets: None,
        }
    }

    /// The authorizer's secret `name`, as [`AuthorizerAdapter::secrets`] declared
    /// it (a JWT signing key, say); a 500 when it was not declared.
    pub async fn secret(&self, name: &str) -> Result<SecretValue, Error> {
        match &self.secrets {
            Some(secrets) => secrets.get(name).await,
            None => Err(Error::internal_message(format!(
                "the secret {name} was not declared: add it with `.secrets([\"{name}\"])`"
            ))),
        }
    }

    /// The route's ARN, which the allow policy names.
    pub fn method_arn(&self) -> &str {
        self.event.method_arn.as_deref().unwrap_or("*")
    }

    /// One query parameter (the first, if repeated).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.event.query_string_parameters.first(name)
    }

    /// One header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.event.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The subprotocols the client offered.
    pub fn requested_protocols(&self) -> Vec<&str> {
        self.header("sec-websocket-protocol")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(feature = "jwt")]
impl crate::jwt::TokenSources for AuthorizerRequest {
    fn query_param(&self, name: &str) -> Option<&str> {
        AuthorizerRequest::query_param(self, name)
    }
    fn header(&self, name: &str) -> Option<&str> {
        AuthorizerRequest::header(self, name)
    }
    fn requested_protocols(&self) -> Vec<&str> {
        AuthorizerRequest::requested_protocols(self)
    }
}

type Decide = dyn Fn(AuthorizerRequest) -> Pin<Box<dyn Future<Output = Result<Allowed, Error>> + Send>>
    + Send
    + Sync;

/// An allowed connection, its context flattened and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed {
    /// `principalId`.
    pub principal_id: String,
    /// The flattened context (strings, numbers, booleans).
    pub context: Map<String, Value>,
}

/// A REQUEST authorizer for `$connect`, served by [`fabric::run`](crate::run) as a
/// Lambda function of its own.
#[derive(Clone)]
pub struct AuthorizerAdapter {
    sources: Vec<IdentitySource>,
    decide: Arc<Decide>,
    secrets: Option<SecretsBuilder>,
    /// Loaded once per process, before the first request needs them.
    loaded: Arc<tokio::sync::OnceCell<Result<Secrets, SecretError>>>,
}

impl std::fmt::Debug for AuthorizerAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizerAdapter")
            .field("sources", &self.sources)
            .finish()
    }
}

/// An authorizer from an async function; `sources` are the identity sources API
/// Gateway requires before invoking it.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::websocket::{Authorized, AuthorizerRequest, IdentitySource, fabric_authorizer};
///
/// #[derive(Serialize)]
/// struct Caller { user: String, admin: bool }
///
/// let authorizer = fabric_authorizer([IdentitySource::Query("token".into())], |req: AuthorizerRequest| async move {
///     match req.query_param("token") {
///         Some("letmein") => Ok(Authorized { principal_id: "ada".into(), context: Caller { user: "ada".into(), admin: false } }),
///         _ => Err(Error::new(ErrorKind::Forbidden, "unknown token")),
///     }
/// });
/// # let _ = authorizer;
/// ```
pub fn fabric_authorizer<F, Fut, C>(
    sources: impl IntoIterator<Item = IdentitySource>,
    authorize: F,
) -> AuthorizerAdapter
where
    F: Fn(AuthorizerRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Authorized<C>, Error>> + Send + 'static,
    C: Serialize + 'static,
{
    let authorize = Arc::new(authorize);
    AuthorizerAdapter {
        sources: sources.into_iter().collect(),
        decide: Arc::new(move |request| {
            let authorize = authorize.clone();
            Box::pin(async move {
                let authorized = authorize(request).await?;
                allowed(authorized)
            })
        }),
        secrets: None,
        loaded: Arc::default(),
    }
}

/// Checks principal and context as API Gateway would.
fn allowed<C: Serialize>(authorized: Authorized<C>) -> Result<Allowed, Error> {
    if authorized.principal_id.trim().is_empty() {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "the authorizer returned no principal",
        ));
    }
    let context = flatten_context(&authorized.context)?;
    Ok(Allowed {
        principal_id: authorized.principal_id,
        context,
    })
}

/// The context as API Gateway accepts it: an object of strings, numbers and
/// booleans (a unit struct or `()` is empty), at most [`MAX_CONTEXT_BYTES`].
///
/// ```
/// use fabric::websocket::flatten_context;
/// let ok = flatten_context(&serde_json::json!({"user": "ada", "level": 3})).unwrap();
/// assert_eq!(ok["level"], 3);
/// let err = flatten_context(&serde_json::json!({"roles": ["admin"]})).unwrap_err();
/// assert!(err.detail().contains("\"roles\""));
/// ```
pub fn flatten_context(context: &impl Serialize) -> Result<Map<String, Value>, Error> {
    let value = serde_json::to_value(context).map_err(Error::internal)?;
    let map = match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            return Err(Error::internal_message(format!(
                "an authorizer's context must be a struct of strings, numbers and booleans, not {other}"
            )));
        }
    };
    if let Some((field, _)) = map
        .iter()
        .find(|(_, v)| !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
    {
        return Err(Error::internal_message(format!(
            "the authorizer's context field {field:?} is not a string, number or boolean; API Gateway refuses nested or null values"
        )));
    }
    let size = Value::Object(map.clone()).to_string().len();
    if size > MAX_CONTEXT_BYTES {
        return Err(Error::internal_message(format!(
            "the authorizer's context is {size} bytes; API Gateway allows {MAX_CONTEXT_BYTES}"
        )));
    }
    Ok(map)
}

impl AuthorizerAdapter {
    /// The identity sources API Gateway checks before invoking the authorizer.
    pub fn identity_sources(&self) -> &[IdentitySource] {
        &self.sources
    }

    /// Declares secrets the authorizer reads with
    /// [`request.secret("NAME")`](AuthorizerRequest::secret), resolved as every
    /// adapter's are (see [`secrets`](crate::secrets)): loaded once per process
    /// before the first request, on Lambda before the first invocation (a secret
    /// that cannot load is an init error naming it), and written into the template.
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::{Authorized, AuthorizerRequest, IdentitySource, fabric_authorizer};
    ///
    /// let authorizer = fabric_authorizer(
    ///     [IdentitySource::Query("key".into())],
    ///     |request: AuthorizerRequest| async move {
    ///         let expected = request.secret("API_KEY").await?;
    ///         match request.query_param("key") {
    ///             Some(key) if key == expected.expose() => {
    ///                 Ok(Authorized { principal_id: "client".into(), context: () })
    ///             }
    ///             _ => Err(Error::unauthorized("unknown key")),
    ///         }
    ///     },
    /// )
    /// .secrets(["API_KEY"]);
    /// assert_eq!(authorizer.secret_names(), ["API_KEY"]);
    /// ```
    pub fn secrets<I, S>(self, names: I) -> AuthorizerAdapter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.secrets_from(Secrets::builder(names))
    }

    /// Like [`secrets`](AuthorizerAdapter::secrets), loaded as `builder` says.
    pub fn secrets_from(mut self, builder: SecretsBuilder) -> AuthorizerAdapter {
        self.secrets = Some(builder);
        self.loaded = Arc::default();
        self
    }

    /// The names of the declared secrets.
    pub fn secret_names(&self) -> &[String] {
        self.secrets.as_ref().map_or(&[], SecretsBuilder::names)
    }

    /// The declared secrets, loaded on the first call.
    async fn loaded_secrets(&self) -> Result<Option<Secrets>, SecretError> {
        let Some(builder) = &self.secrets else {
            return Ok(None);
        };
        self.loaded
            .get_or_init(|| builder.clone().load())
            .await
            .clone()
            .map(Some)
    }

    /// Decides on one request: the flattened allowance, or the refusal.
    pub async fn authorize(&self, mut request: AuthorizerRequest) -> Result<Allowed, Error> {
        request.secrets = self
            .loaded_secrets()
            .await
            .map_err(|err| Error::internal_message(err.to_string()))?;
        let decide = self.decide.clone();
        crate::panic::catch_panic(move || decide(request))
            .await
            .unwrap_or_else(|panic| Err(panic.into()))
    }

    /// Serves Lambda invocations until the process is stopped: what
    /// [`fabric::run`](crate::run) does on Lambda.
    pub async fn serve_lambda(self) -> Result<(), crate::BoxError> {
        crate::logging::init();
        if let Err(err) = self.loaded_secrets().await {
            crate::init_error::exit(&err);
        }
        let adapter = Arc::new(self);
        let handler = lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<Box<serde_json::value::RawValue>>| {
                let adapter = adapter.clone();
                async move {
                    adapter
                        .handle_json(event.payload.get())
                        .await
                        .map_err(|err| crate::BoxError::from(err.detail().to_string()))
                }
            },
        );
        lambda_runtime::run(handler).await
    }

    /// One Lambda invocation: the event's JSON in, API Gateway's answer out. An
    /// allowance is an Allow policy for the route with the context; a 403 is a Deny
    /// policy; a 401 is the `Unauthorized` error API Gateway maps to 401; anything
    /// else is an error (API Gateway answers 500).
    pub async fn handle_json(&self, event: &str) -> Result<Value, Error> {
        let event: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_str(event)
            .map_err(|e| {
                Error::new(
                    ErrorKind::BadRequest,
                    format!("not an authorizer event: {e}"),
                )
            })?;
        let request = AuthorizerRequest::new(event);
        let resource = request.method_arn().to_string();
        let policy = |effect: &str| {
            json!({"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ]})
        };
        match self.authorize(request).await {
            Ok(allowed) => Ok(json!({
                "principalId": allowed.principal_id,
                "policyDocument": policy("Allow"),
                "context": allowed.context,
            })),
            Err(err) if err.kind() == ErrorKind::Forbidden => Ok(json!({
                "principalId": "refused",
                "policyDocument": policy("Deny"),
            })),
            Err(err) if err.kind() == ErrorKind::Unauthorized => {
                tracing::info!(reason = err.detail(), "authorizer refused the connection");
                Err(Error::new(ErrorKind::Unauthorized, "Unauthorized"))
            }
            Err(err) => {
                tracing::error!(error = %err.detail(), "authorizer failed");
                Err(err)
            }
        }
    }
}

impl Allowed {
    /// `requestContext.authorizer` as API Gateway puts it on every event of the
    /// connection: `principalId`, each context value as a string (numbers and
    /// booleans stringified), and `integrationLatency`, the authorizer's milliseconds.
    ///
    /// ```
    /// use fabric::websocket::Allowed;
    /// let allowed = Allowed {
    ///     principal_id: "ada".into(),
    ///     context: serde_json::json!({"level": 3, "admin": false}).as_object().unwrap().clone(),
    /// };
    /// let fields = allowed.request_context(12);
    /// assert_eq!(fields["principalId"], "ada");
    /// assert_eq!((fields["level"].as_str(), fields["admin"].as_str()), (Some("3"), Some("false")));
    /// assert_eq!(fields["integrationLatency"], 12);
    /// ```
    pub fn request_context(&self, latency_ms: u64) -> std::collections::HashMap<String, Value> {
        let mut fields: std::collections::HashMap<String, Value> = self
            .context
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (name.clone(), Value::String(text))
            })
            .collect();
        fields.insert("principalId".into(), self.principal_id.clone().into());
        fields.insert("integrationLatency".into(), latency_ms.into());
        fields
    }
}

/// What API Gateway does with a `$connect` behind an authorizer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConnectVerdict {
    /// `$connect` runs, and every event of the connection carries these fields as
    /// `requestContext.authorizer`.
    Allow(std::collections::HashMap<String, Value>),
    /// The handshake is refused with this status (401, 403 or 500).
    Refuse(u16),
}

impl ConnectVerdict {
    /// API Gateway's `message` for a refused handshake's status.
    pub(crate) fn refusal_message(status: u16) -> &'static str {
        match status {
            401 => "Unauthorized",
            403 => "Forbidden",
            _ => "Internal server error",
        }
    }
}

impl AuthorizerAdapter {
    /// Decides on a `$connect` event as API Gateway does before the integration
    /// runs: a missing or empty identity source is 401 without invoking the
    /// authorizer; 401 and 403 refusals (a deny policy, no principal) are those
    /// statuses; any other failure, a panic included, is 500.
    pub(crate) async fn check_connect(
        &self,
        connect: &aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
        method_arn: String,
    ) -> ConnectVerdict {
        let mut event = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
        event.type_ = Some("REQUEST".into());
        event.method_arn = Some(method_arn);
        event.headers = connect.headers.clone();
        event.multi_value_headers = connect.multi_value_headers.clone();
        event.query_string_parameters = connect.query_string_parameters.clone();
        event.multi_value_query_string_parameters =
            connect.multi_value_query_string_parameters.clone();
        let request = AuthorizerRequest::new(event);
        let missing = self.sources.iter().find(|source| {
            let value = match source {
                IdentitySource::Query(name) => request.query_param(name),
                IdentitySource::Header(name) => request.header(name),
            };
            value.is_none_or(|value| value.trim().is_empty())
        });
        if let Some(source) = missing {
            tracing::info!(source = %source.expression(), "no identity source: 401 without the authorizer");
            return ConnectVerdict::Refuse(401);
        }
        let started = std::time::Instant::now();
        match self.authorize(request).await {
            Ok(allowed) => {
                let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                ConnectVerdict::Allow(allowed.request_context(latency))
            }
            Err(err) => {
                let status = match err.kind() {
                    ErrorKind::Unauthorized => 401,
                    ErrorKind::Forbidden => 403,
                    _ => 500,
                };
                if status == 500 {
                    tracing::error!(error = %err.detail(), "authorizer failed");
                } else {
                    tracing::info!(
                        reason = err.detail(),
                        status,
                        "authorizer refused the connection"
                    );
                }
                ConnectVerdict::Refuse(status)
            }
        }
    }
}

impl super::WebSocketAdapter {
    /// Runs `$connect` behind `authorizer`, as API Gateway runs a REQUEST authorizer:
    /// the local gateway and `testing::TestGateway` call it before `$connect`, and
    /// its context is on every later event of the connection. On Lambda this
    /// function answers the authorizer's events too, and the template makes it the
    /// API's authorizer (in an app, `WebSocketApi::authorizer` can name a function
    /// of its own instead).
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::websocket::{Authorized, AuthorizerRequest, IdentitySource, fabric_authorizer, fabric_websocket};
    ///
    /// # #[derive(Deserialize, Input)] struct In {}
    /// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
    /// let authorizer = fabric_authorizer([IdentitySource::Query("token".into())], |req: AuthorizerRequest| async move {
    ///     match req.query_param("token") {
    ///         Some("letmein") => Ok(Authorized { principal_id: "ada".into(), context: () }),
    ///         _ => Err(Error::unauthorized("unknown token")),
    ///     }
    /// });
    /// let adapter = fabric_websocket(svc).authorizer(authorizer);
    /// assert_eq!(adapter.route_keys()[0], "$connect");
    /// assert!(adapter.authorizer_setting().is_some());
    /// ```
    pub fn authorizer(mut self, authorizer: AuthorizerAdapter) -> super::WebSocketAdapter {
        self.authorizer = Some(authorizer);
        self
    }

    /// The authorizer `$connect` runs behind, if any.
    pub fn authorizer_setting(&self) -> Option<&AuthorizerAdapter> {
        self.authorizer.as_ref()
    }
}

/// Whether a Lambda payload is a REQUEST authorizer's event rather than a WebSocket
/// event: only the former has a top-level `methodArn` (in a WebSocket event's body
/// the quotes would be escaped).
pub(super) fn is_authorizer_event(payload: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind {
        #[serde(rename = "methodArn")]
        method_arn: Option<String>,
    }
    payload.contains("\"methodArn\"")
        && serde_json::from_str::<Kind>(payload).is_ok_and(|kind| kind.method_arn.is_some())
}
