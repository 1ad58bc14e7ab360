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
}

impl AuthorizerRequest {
    /// The request of an API Gateway REQUEST authorizer event.
    pub fn new(event: ApiGatewayCustomAuthorizerRequestTypeRequest) -> AuthorizerRequest {
        AuthorizerRequest { event }
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

    /// Decides on one request: the flattened allowance, or the refusal.
    pub async fn authorize(&self, request: AuthorizerRequest) -> Result<Allowed, Error> {
        let decide = self.decide.clone();
        crate::panic::catch_panic(move || decide(request))
            .await
            .unwrap_or_else(|panic| Err(panic.into()))
    }

    /// Serves Lambda invocations until the process is stopped: what
    /// [`fabric::run`](crate::run) does on Lambda.
    pub async fn serve_lambda(self) -> Result<(), crate::BoxError> {
        crate::logging::init();
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
