//! The Lambda side: API Gateway (REST and HTTP APIs), function URL and ALB events in,
//! their responses out, through `lambda_http`.

use std::convert::Infallible;

use http::header::SET_COOKIE;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Response};
use http_body_util::BodyExt;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::alb::AlbTargetGroupResponse;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::{LambdaRequest, RequestContext};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::{HttpBody, HttpRouter};
use crate::BoxError;

/// What the Lambda event says about a request.
pub(super) struct LambdaDetails {
    pub(super) request_id: Option<String>,
    pub(super) source_ip: Option<String>,
    /// The path as the client sent it (`lambda_http` adds the stage to the URI).
    pub(super) path: Option<String>,
}

pub(super) fn details(extensions: &Extensions) -> LambdaDetails {
    let (request_id, source_ip) = match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.request_id.clone(),
            context.identity.source_ip.clone(),
        ),
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.request_id.clone(), context.http.source_ip.clone())
        }
        _ => (None, None),
    };
    let request_id = request_id.or_else(|| {
        extensions
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .filter(|id| !id.is_empty())
    });
    let path = Some(extensions.raw_http_path())
        .filter(|path| !path.is_empty())
        .map(str::to_owned);
    LambdaDetails {
        request_id,
        source_ip,
        path,
    }
}

/// An HTTP event of any kind `lambda_http` knows. HTTP API (and function URL) events
/// say `"version": "2.0"` and are read as such directly, instead of after a failed
/// attempt as a REST API event.
pub(super) struct HttpEvent(LambdaRequest);

impl<'de> Deserialize<'de> for HttpEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if is_version_2(text) {
            if let Ok(event) = serde_json::from_str::<ApiGatewayV2httpRequest>(text) {
                return Ok(HttpEvent(LambdaRequest::ApiGatewayV2(event)));
            }
        }
        serde_json::from_str::<LambdaRequest>(text)
            .map(HttpEvent)
            .map_err(serde::de::Error::custom)
    }
}

/// Whether the event's top-level text has `"version": "2.0"`. A false positive only
/// costs the fallback.
fn is_version_2(text: &str) -> bool {
    text.match_indices("\"version\"").any(|(at, key)| {
        let rest = text[at + key.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|value| value.trim_start().starts_with("\"2.0\""))
    })
}

impl HttpRouter {
    /// Handles one Lambda event as the Lambda runtime would: `event` is the JSON an
    /// API Gateway REST or HTTP API, a function URL or an ALB sends; the answer is the
    /// JSON response for it. Useful to test a function with recorded events.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use fabric::prelude::*;
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Name { name: String }
    ///
    /// #[fabric_service(alias = "hello")]
    /// async fn hello(input: Name, _ctx: Context) -> Result<String, Error> {
    ///     Ok(format!("Hello, {}!", input.name))
    /// }
    ///
    /// let event = r#"{"version": "2.0", "rawPath": "/hello", "rawQueryString": "name=Ada",
    ///     "requestContext": {"http": {"method": "GET"}}}"#;
    /// let response = fabric_http(hello).invoke_lambda(event).await.unwrap();
    /// let response: Value = serde_json::from_str(&response).unwrap();
    /// assert_eq!(response["statusCode"], 200);
    /// assert_eq!(response["body"], r#"{"data":"Hello, Ada!"}"#);
    /// # })
    /// ```
    pub async fn invoke_lambda(&self, event: &str) -> Result<String, BoxError> {
        let event: HttpEvent = serde_json::from_str(event)?;
        let response = self
            .lambda_call(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await?;
        Ok(serde_json::to_string(&response)?)
    }

    /// One invocation: the event as an `http::Request` (`lambda_http`'s conversion),
    /// the router, and the response in the shape the event's source expects.
    async fn lambda_call(
        &self,
        event: LambdaEvent<HttpEvent>,
    ) -> Result<LambdaResponse, Infallible> {
        let LambdaEvent { payload, context } = event;
        let origin = match &payload.0 {
            LambdaRequest::ApiGatewayV2(_) => Origin::HttpApi,
            LambdaRequest::Alb(_) => Origin::Alb,
            _ => Origin::RestApi,
        };
        let mut request: lambda_http::Request = payload.0.into();
        if let Some(trace) = context
            .xray_trace_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            request
                .headers_mut()
                .insert(HeaderName::from_static("x-amzn-trace-id"), trace);
        }
        request.extensions_mut().insert(context);
        let response = super::handler::handle(&self.config, request).await;
        Ok(origin.response(response).await)
    }

    /// Serves Lambda invocations until the process is stopped.
    pub(super) async fn serve_events(self) -> Result<(), BoxError> {
        crate::runtime::init_logging();
        let router = self;
        lambda_runtime::run(lambda_runtime::service_fn(move |event| {
            let router = router.clone();
            async move { router.lambda_call(event).await }
        }))
        .await
    }
}

/// Where an event came from, which fixes the shape of its response.
#[derive(Clone, Copy)]
enum Origin {
    RestApi,
    HttpApi,
    Alb,
}

/// A response as API Gateway or the ALB expects it.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum LambdaResponse {
    RestApi(ApiGatewayProxyResponse),
    HttpApi(ApiGatewayV2httpResponse),
    Alb(AlbTargetGroupResponse),
}

impl Origin {
    /// Collects the body (on Lambda a response is buffered; streamed messages come
    /// as lines of one body) and fits the response into the origin's shape. Every
    /// body Fabric writes is text, so none needs base64.
    async fn response(self, response: Response<HttpBody>) -> LambdaResponse {
        let (parts, body) = response.into_parts();
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(never) => match never {},
        };
        let body =
            (!bytes.is_empty()).then(|| Body::Text(String::from_utf8_lossy(&bytes).into_owned()));
        let status_code = i64::from(parts.status.as_u16());
        let mut headers = parts.headers;
        match self {
            Origin::RestApi => {
                let mut response = ApiGatewayProxyResponse::default();
                response.status_code = status_code;
                // REST APIs merge both maps; one is enough.
                response.multi_value_headers = headers;
                response.body = body;
                LambdaResponse::RestApi(response)
            }
            Origin::HttpApi => {
                let mut response = ApiGatewayV2httpResponse::default();
                response.status_code = status_code;
                response.cookies = take_cookies(&mut headers);
                response.headers = headers;
                response.body = body;
                LambdaResponse::HttpApi(response)
            }
            Origin::Alb => {
                let mut response = AlbTargetGroupResponse::default();
                response.status_code = status_code;
                response.status_description = Some(format!(
                    "{} {}",
                    parts.status.as_u16(),
                    parts.status.canonical_reason().unwrap_or_default()
                ));
                // A target group reads one or the other, as configured: send both.
                response.multi_value_headers = headers.clone();
                response.headers = headers;
                response.body = body;
                LambdaResponse::Alb(response)
            }
        }
    }
}

/// HTTP APIs take cookies apart from the headers.
fn take_cookies(headers: &mut HeaderMap) -> Vec<String> {
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(SET_COOKIE);
    cookies
}
