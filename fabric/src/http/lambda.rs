//! The Lambda side: API Gateway (REST and HTTP APIs), function URL and ALB events in,
//! their responses out.

use std::convert::Infallible;

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue, Response};
use http_body_util::BodyExt;
use lambda_http::aws_lambda_events::alb::AlbTargetGroupResponse;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyResponse;
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::event::HttpEvent;
use super::{HttpBody, HttpRouter};
use crate::BoxError;
use crate::panic::catch_panic;

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

    /// One invocation: the event as a request, the router, and the response in the
    /// shape the event's source expects.
    async fn lambda_call(
        &self,
        event: LambdaEvent<HttpEvent>,
    ) -> Result<LambdaResponse, Infallible> {
        let LambdaEvent { payload, context } = event;
        let trace = context
            .xray_trace_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok());
        let response = match payload {
            HttpEvent::HttpApi(mut request, mut details) => {
                add_trace(request.headers_mut(), trace);
                if details.request_id.is_none() && !context.request_id.is_empty() {
                    details.request_id = Some(context.request_id);
                }
                let response = super::handler::handle(&self.config, request, Some(details)).await;
                Origin::HttpApi.response(response).await
            }
            HttpEvent::BadBody(bad) => {
                let origin = match (bad.http_api, bad.alb) {
                    (true, _) => Origin::HttpApi,
                    (false, true) => Origin::Alb,
                    (false, false) => Origin::RestApi,
                };
                self.refuse(origin, bad.reason).await
            }
            HttpEvent::Other(event) => {
                let origin = match &event {
                    LambdaRequest::ApiGatewayV2(_) => Origin::HttpApi,
                    LambdaRequest::Alb(_) => Origin::Alb,
                    _ => Origin::RestApi,
                };
                // `unreadable` turned away what `lambda_http`'s conversion is known
                // to panic on; any other panic there is a 400 too, not a crash.
                let converted =
                    catch_panic(|| std::future::ready(lambda_http::Request::from(event)));
                let mut request = match converted.await {
                    Ok(request) => request,
                    Err(panic) => {
                        let reason =
                            format!("The event cannot be read as a request: {}", panic.message());
                        return Ok(self.refuse(origin, reason).await);
                    }
                };
                add_trace(request.headers_mut(), trace);
                request.extensions_mut().insert(context);
                let response = super::handler::handle(&self.config, request, None).await;
                origin.response(response).await
            }
        };
        Ok(response)
    }

    /// A 400 with `reason`, in the shape `origin` expects.
    async fn refuse(&self, origin: Origin, reason: String) -> LambdaResponse {
        let error = crate::Error::bad_request(reason);
        let response = super::response::error_response(&error, self.config.settings.scrub_errors());
        origin.response(response).await
    }

    /// Serves Lambda invocations until the process is stopped: what
    /// [`fabric::run`](crate::run) does on Lambda. The setup runs first, so a broken
    /// one fails the cold start, where Lambda reports it.
    pub async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::logging::init();
        if let Err(err) = self.settings().ready().await {
            crate::init_error::exit(&*err);
        }
        if self.streams_on_lambda() {
            // A function URL's events through `lambda_http`, and the body written
            // to the runtime as the router produces it.
            return lambda_http::run_with_streaming_response(self).await;
        }
        let router = self;
        lambda_runtime::run(lambda_runtime::service_fn(move |event| {
            let router = router.clone();
            async move { router.lambda_call(event).await }
        }))
        .await
    }
}

/// X-Ray's trace header, as `lambda_http` passes it on.
fn add_trace(headers: &mut HeaderMap, trace: Option<HeaderValue>) {
    if let Some(trace) = trace {
        headers.insert(HeaderName::from_static("x-amzn-trace-id"), trace);
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
enum LambdaResponse {
    RestApi(ApiGatewayProxyResponse),
    HttpApi(HttpApiResponse),
    Alb(AlbTargetGroupResponse),
}

impl Origin {
    /// Collects the body (on Lambda a response is buffered; streamed messages come
    /// as lines of one body) and fits the response into the origin's shape. Every
    /// body Fabric writes is text, so none needs base64.
    async fn response(self, response: Response<HttpBody>) -> LambdaResponse {
        let (parts, body) = response.into_parts();
        let bytes = match body.into_full() {
            Ok(bytes) => bytes,
            Err(stream) => match stream.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            },
        };
        let body = (!bytes.is_empty()).then(|| {
            Body::Text(
                String::from_utf8(Vec::from(bytes))
                    .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()),
            )
        });
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
                let cookies = take_cookies(&mut headers);
                LambdaResponse::HttpApi(HttpApiResponse {
                    status_code,
                    headers,
                    cookies,
                    body: body.map(|body| match body {
                        Body::Text(text) => text,
                        _ => unreachable!("Fabric's bodies are text"),
                    }),
                })
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
    if !headers.contains_key(SET_COOKIE) {
        return Vec::new();
    }
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(SET_COOKIE);
    cookies
}

/// An HTTP API (payload 2.0) response, written directly: it is on every call's path.
struct HttpApiResponse {
    status_code: i64,
    headers: HeaderMap,
    cookies: Vec<String>,
    body: Option<String>,
}

impl Serialize for HttpApiResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("statusCode", &self.status_code)?;
        map.serialize_entry("headers", &JoinedHeaders(&self.headers))?;
        if !self.cookies.is_empty() {
            map.serialize_entry("cookies", &self.cookies)?;
        }
        if let Some(body) = &self.body {
            map.serialize_entry("body", body)?;
        }
        map.serialize_entry("isBase64Encoded", &false)?;
        map.end()
    }
}

/// Headers as one string per name; HTTP APIs take repeated headers comma-joined.
struct JoinedHeaders<'a>(&'a HeaderMap);

impl Serialize for JoinedHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        // `iter` yields a name's values one after another: join each run, without
        // looking names up again.
        let mut values = self
            .0
            .iter()
            .filter_map(|(name, value)| Some((name, value.to_str().ok()?)))
            .peekable();
        while let Some((name, first)) = values.next() {
            match values.next_if(|(next, _)| *next == name) {
                None => map.serialize_entry(name.as_str(), first)?,
                Some((_, second)) => {
                    let mut joined = format!("{first}, {second}");
                    while let Some((_, more)) = values.next_if(|(next, _)| *next == name) {
                        joined.push_str(", ");
                        joined.push_str(more);
                    }
                    map.serialize_entry(name.as_str(), &joined)?;
                }
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use http::header::VARY;

    use super::*;

    #[test]
    fn repeated_headers_are_joined_and_cookies_go_apart() {
        let mut headers = HeaderMap::new();
        headers.append(VARY, HeaderValue::from_static("origin"));
        headers.insert(SET_COOKIE, HeaderValue::from_static("a=1"));
        headers.append(VARY, HeaderValue::from_static("accept"));
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2; Secure"));
        headers.insert(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("r1"),
        );
        headers.append(VARY, HeaderValue::from_static("cookie"));
        let cookies = take_cookies(&mut headers);
        let response = HttpApiResponse {
            status_code: 200,
            headers,
            cookies,
            body: None,
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({
                "statusCode": 200,
                "headers": {"vary": "origin, accept, cookie", "x-request-id": "r1"},
                "cookies": ["a=1", "b=2; Secure"],
                "isBase64Encoded": false,
            })
        );

        let mut plain = HeaderMap::new();
        plain.insert(VARY, HeaderValue::from_static("origin"));
        assert!(take_cookies(&mut plain).is_empty());
        assert_eq!(plain.len(), 1);
    }
}
