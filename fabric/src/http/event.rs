//! Lambda HTTP events as `http::Request`s. HTTP API (v2) and function URL events are
//! read here directly into a request, borrowing from the event text, because they
//! are the common case and `lambda_http`'s generic path (try REST first, then HTTP
//! API, then ALB, into fully owned structures) costs several times the whole rest of
//! a call. Every other event goes through `lambda_http`.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use http::header::COOKIE;
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use lambda_http::RequestExt;
use lambda_http::request::{LambdaRequest, RequestContext};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::lambda_json::Text;

/// What the event says about a request beyond method, URI, headers and body.
#[derive(Clone, Debug, Default)]
pub(super) struct LambdaDetails {
    pub(super) request_id: Option<String>,
    pub(super) source_ip: Option<String>,
    /// The path without the stage, for routing.
    pub(super) path: Option<String>,
    /// What an API Gateway authorizer attached: JWT claims or a Lambda authorizer's
    /// context.
    pub(super) authorizer: Option<Value>,
}

/// The event of one invocation, read as a request.
#[allow(
    clippy::large_enum_variant,
    reason = "lives once per invocation, on the stack; boxing would cost an allocation"
)]
pub(super) enum HttpEvent {
    /// An HTTP API or function URL event, read directly, with what it says beyond
    /// the request.
    HttpApi(Request<Full<Bytes>>, LambdaDetails),
    /// Any other event `lambda_http` knows: REST API, ALB.
    Other(LambdaRequest),
    /// An event `lambda_http` cannot convert (it would panic): a 400, in the shape
    /// of the event's source.
    BadBody(BadBody),
}

/// An event that cannot be read as a request, and where it came from.
pub(super) struct BadBody {
    /// Whether it is an HTTP API (payload 2.0) event; else REST API or ALB.
    pub(super) http_api: bool,
    pub(super) alb: bool,
    pub(super) reason: String,
}

impl<'de> Deserialize<'de> for HttpEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = HttpEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an API Gateway, function URL or ALB event")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<HttpEvent, M::Error> {
        // API Gateway writes `"version": "2.0"` first: then the rest is read in the
        // same pass, straight into a request. Values are borrowed from the event's
        // text, which Lambda's runtime and `invoke_lambda` both hold whole.
        let mut fields: Vec<(Text<'de>, &'de RawValue)> = Vec::new();
        if let Some(key) = map.next_key::<Text<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            if &*key == "version" && value.get() == "\"2.0\"" {
                return HttpApiEvent::deserialize(MapAccessDeserializer::new(map))?
                    .into_request()
                    .ok_or_else(|| M::Error::custom(INVALID_HTTP_API_EVENT));
            }
            fields.push((key, value));
        }
        while let Some(field) = map.next_entry::<Text<'de>, &'de RawValue>()? {
            fields.push(field);
        }
        let mut text = String::from("{");
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&Value::from(&**key).to_string());
            text.push(':');
            text.push_str(value.get());
        }
        text.push('}');
        HttpEvent::from_text(&text).map_err(M::Error::custom)
    }
}

const INVALID_HTTP_API_EVENT: &str = "this HTTP API event has a path or method that is not valid";

impl HttpEvent {
    /// The generic path, for events whose first field is not `"version": "2.0"`.
    fn from_text(text: &str) -> Result<HttpEvent, serde_json::Error> {
        if is_version_2(text) {
            if let Ok(event) = serde_json::from_str::<HttpApiEvent<'_>>(text) {
                return event
                    .into_request()
                    .ok_or_else(|| serde::de::Error::custom(INVALID_HTTP_API_EVENT));
            }
        }
        let event = serde_json::from_str::<LambdaRequest>(text)?;
        Ok(
            match unreadable(&event).or_else(|| empty_query_values(text, &event)) {
                Some(bad) => HttpEvent::BadBody(bad),
                None => HttpEvent::Other(event),
            },
        )
    }
}

/// What `lambda_http` would panic on converting `event` into a request: a body
/// marked base64 that is not, or a host, scheme, stage or path that make no URL
/// (its conversion unwraps both). Such an event is answered with a 400 instead.
fn unreadable(event: &LambdaRequest) -> Option<BadBody> {
    let (body, base64, http_api, alb) = match event {
        LambdaRequest::ApiGatewayV1(event) => (&event.body, event.is_base64_encoded, false, false),
        LambdaRequest::ApiGatewayV2(event) => (&event.body, event.is_base64_encoded, true, false),
        LambdaRequest::Alb(event) => (&event.body, event.is_base64_encoded, false, true),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    let reason = match body.as_deref().filter(|_| base64) {
        Some(body) => base64::engine::general_purpose::STANDARD
            .decode(body)
            .err()
            .map(|err| bad_base64(&err)),
        None => None,
    }
    .or_else(|| url_problem(event));
    reason.map(|reason| BadBody {
        http_api,
        alb,
        reason,
    })
}

/// A query parameter given as an empty list (`"name": []`) in
/// `queryStringParameters` or `multiValueQueryStringParameters`, which `lambda_http`
/// indexes into when it builds the URL (found twice by the `http_event` fuzz target:
/// crashes ec16366d and 207fade1). API Gateway and ALB never send one; a hand-made
/// event that does gets a 400.
fn empty_query_values(text: &str, event: &LambdaRequest) -> Option<BadBody> {
    type Parameters = Option<std::collections::HashMap<String, serde_json::Value>>;
    #[derive(Deserialize)]
    struct Query {
        #[serde(rename = "queryStringParameters", default)]
        single: Parameters,
        #[serde(rename = "multiValueQueryStringParameters", default)]
        multi: Parameters,
    }
    let (http_api, alb) = match event {
        LambdaRequest::ApiGatewayV1(_) => (false, false),
        LambdaRequest::ApiGatewayV2(_) => (true, false),
        LambdaRequest::Alb(_) => (false, true),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    if !text.contains("ueryStringParameters") {
        return None;
    }
    let query = serde_json::from_str::<Query>(text).ok()?;
    let name = [query.single, query.multi]
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|(name, values)| values.as_array().is_some_and(Vec::is_empty).then_some(name))?;
    Some(BadBody {
        http_api,
        alb,
        reason: format!("the query parameter {name:?} has no values"),
    })
}

/// Whether the URL `lambda_http` builds from the event's host, scheme, stage,
/// path and (for HTTP APIs) raw query parses, as it must.
fn url_problem(event: &LambdaRequest) -> Option<String> {
    let (headers, domain, stage, path, query) = match event {
        LambdaRequest::ApiGatewayV1(event) => (
            &event.headers,
            event.request_context.domain_name.as_deref(),
            event.request_context.stage.as_deref(),
            event.path.as_deref(),
            None,
        ),
        LambdaRequest::ApiGatewayV2(event) => (
            &event.headers,
            event.request_context.domain_name.as_deref(),
            event.request_context.stage.as_deref(),
            event.raw_path.as_deref(),
            event.raw_query_string.as_deref(),
        ),
        LambdaRequest::Alb(event) => (&event.headers, None, None, event.path.as_deref(), None),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .or(domain);
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("https");
    let path = path.unwrap_or_default();
    let staged = stage
        .filter(|stage| *stage != "$default")
        .map(|stage| format!("/{stage}{path}"));
    for path in std::iter::once(path.to_owned()).chain(staged) {
        let text = match host {
            Some(host) => format!("{scheme}://{host}{path}"),
            None => format!("http://localhost{path}"),
        };
        let parsed = url::Url::parse(&text).map_err(|err| err.to_string());
        let uri = parsed.and_then(|url| {
            let mut uri = url.to_string();
            if let Some(query) = query.filter(|q| !q.is_empty()) {
                uri.push('?');
                uri.push_str(query);
            }
            uri.parse::<Uri>().map(drop).map_err(|err| err.to_string())
        });
        if let Err(err) = uri {
            return Some(format!(
                "The event's host, stage and path do not form a URL ({text:?}): {err}"
            ));
        }
    }
    None
}

fn bad_base64(err: &base64::DecodeError) -> String {
    format!("The body is marked base64 but is not: {err}")
}

/// Whether the event's text has `"version": "2.0"`. A false positive only costs the
/// generic path.
fn is_version_2(text: &str) -> bool {
    text.match_indices("\"version\"").any(|(at, key)| {
        let rest = text[at + key.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|value| value.trim_start().starts_with("\"2.0\""))
    })
}

/// The details of a request `lambda_http` converted, from its request context; also
/// when the router runs under `lambda_http::run` with layers of the user's own.
pub(super) fn details_of(extensions: &Extensions) -> Option<LambdaDetails> {
    if extensions.get::<RequestContext>().is_none() && extensions.lambda_context_ref().is_none() {
        return None;
    }
    let (request_id, source_ip, authorizer, stage) = match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.request_id.clone(),
            context.identity.source_ip.clone(),
            serde_json::to_value(&context.authorizer)
                .ok()
                .map(flat_rest_authorizer)
                .filter(has_fields),
            None,
        ),
        Some(RequestContext::ApiGatewayV2(context)) => (
            context.request_id.clone(),
            context.http.source_ip.clone(),
            serde_json::to_value(&context.authorizer)
                .ok()
                .filter(has_fields),
            context.stage.clone(),
        ),
        _ => (None, None, None, None),
    };
    let request_id = request_id.or_else(|| {
        extensions
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .filter(|id| !id.is_empty())
    });
    let path = Some(extensions.raw_http_path())
        .filter(|path| !path.is_empty())
        .map(|path| without_stage(path, stage.as_deref()).to_owned());
    Some(LambdaDetails {
        request_id,
        source_ip,
        path,
        authorizer,
    })
}

/// A REST API sends a Lambda authorizer's context flat, as `{"principalId": ..}`;
/// `aws_lambda_events` files it under `lambda`. Give services what was sent.
fn flat_rest_authorizer(value: Value) -> Value {
    match value {
        Value::Object(mut fields) if fields.len() == 1 && fields.contains_key("lambda") => {
            fields.remove("lambda").unwrap_or_default()
        }
        other => other,
    }
}

fn has_fields(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.values().any(|v| !v.is_null()),
        Value::Null => false,
        _ => true,
    }
}

/// An HTTP API on a named stage puts the stage first in `rawPath`; routes do not
/// have it.
fn without_stage<'p>(path: &'p str, stage: Option<&str>) -> &'p str {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => path
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| if rest.is_empty() { "/" } else { rest })
            .unwrap_or(path),
        _ => path,
    }
}

/// The parts of an HTTP API (payload 2.0) event a request needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpApiEvent<'a> {
    #[serde(borrow, default)]
    raw_path: Option<Text<'a>>,
    #[serde(borrow, default)]
    raw_query_string: Option<Text<'a>>,
    #[serde(borrow, default)]
    cookies: Option<Vec<Text<'a>>>,
    #[serde(default, deserialize_with = "crate::lambda_json::header_map")]
    headers: HeaderMap,
    #[serde(borrow)]
    request_context: HttpApiContext<'a>,
    #[serde(borrow, default)]
    body: Option<Text<'a>>,
    #[serde(default)]
    is_base64_encoded: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpApiContext<'a> {
    #[serde(borrow, default)]
    request_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    stage: Option<Text<'a>>,
    #[serde(default)]
    authorizer: Option<Value>,
    #[serde(borrow)]
    http: HttpApiHttp<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpApiHttp<'a> {
    #[serde(borrow)]
    method: Text<'a>,
    #[serde(borrow, default)]
    source_ip: Option<Text<'a>>,
}

impl HttpApiEvent<'_> {
    /// The request, or `None` when something does not fit an `http::Request` (the
    /// generic path then decides).
    fn into_request(self) -> Option<HttpEvent> {
        let raw_path = self
            .raw_path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let query = self.raw_query_string.as_deref().unwrap_or_default();
        let uri = if query.is_empty() {
            Uri::try_from(raw_path).ok()?
        } else {
            let mut text = String::with_capacity(raw_path.len() + 1 + query.len());
            text.push_str(raw_path);
            text.push('?');
            text.push_str(query);
            Uri::try_from(text).ok()?
        };
        let body = match self.body {
            None => Bytes::new(),
            Some(text) if self.is_base64_encoded => {
                match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
                    Ok(bytes) => Bytes::from(bytes),
                    Err(err) => {
                        return Some(HttpEvent::BadBody(BadBody {
                            http_api: true,
                            alb: false,
                            reason: bad_base64(&err),
                        }));
                    }
                }
            }
            Some(text) => Bytes::from(String::from(text)),
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() =
            Method::from_bytes(self.request_context.http.method.as_bytes()).ok()?;
        *request.uri_mut() = uri;
        let mut headers = self.headers;
        if let Some(cookies) = self.cookies.filter(|c| !c.is_empty()) {
            let cookies: Vec<&str> = cookies.iter().map(|cookie| &**cookie).collect();
            if let Ok(value) = HeaderValue::from_str(&cookies.join("; ")) {
                headers.insert(COOKIE, value);
            }
        }
        *request.headers_mut() = headers;
        let context = self.request_context;
        let details = LambdaDetails {
            request_id: context.request_id.map(String::from),
            source_ip: context.http.source_ip.map(String::from),
            path: Some(without_stage(raw_path, context.stage.as_deref()).to_owned()),
            authorizer: context.authorizer.filter(has_fields),
        };
        Some(HttpEvent::HttpApi(request, details))
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[test]
    fn version_2_is_found_with_any_spacing() {
        assert!(is_version_2(r#"{"version":"2.0"}"#));
        assert!(is_version_2("{\n  \"version\" :  \"2.0\", \"a\": 1}"));
        assert!(!is_version_2(r#"{"version":"1.0"}"#));
        assert!(!is_version_2(r#"{"body":"{\"version\":\"2.0\"}"}"#));
    }

    /// Reads an event the way Lambda's runtime does: from bytes, through
    /// `serde_path_to_error`, which must pass borrowed text through.
    fn as_the_runtime_reads(event: &str) -> HttpEvent {
        let mut json = serde_json::Deserializer::from_slice(event.as_bytes());
        serde_path_to_error::deserialize(&mut json).unwrap()
    }

    #[test]
    fn events_read_as_the_lambda_runtime_reads_them() {
        let http_api = r#"{"version": "2.0", "rawPath": "/prod/a%20b", "rawQueryString": "x=1",
            "cookies": ["a=1", "b=2"], "headers": {"X-Forwarded-For": "1.2.3.4"},
            "requestContext": {"requestId": "id-\u0031", "stage": "prod",
                "http": {"method": "POST", "sourceIp": "1.2.3.4"}},
            "body": "eyJhIjoxfQ==", "isBase64Encoded": true}"#;
        let HttpEvent::HttpApi(request, details) = as_the_runtime_reads(http_api) else {
            panic!("an HTTP API event takes the direct path");
        };
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/prod/a%20b?x=1");
        assert_eq!(request.headers()["x-forwarded-for"], "1.2.3.4");
        assert_eq!(request.headers()[COOKIE], "a=1; b=2");
        let body = futures_util::FutureExt::now_or_never(request.into_body().collect());
        assert_eq!(body.unwrap().unwrap().to_bytes(), r#"{"a":1}"#);
        assert_eq!(details.request_id.as_deref(), Some("id-1"));
        assert_eq!(details.path.as_deref(), Some("/a%20b"));
        assert_eq!(details.source_ip.as_deref(), Some("1.2.3.4"));

        // A REST API event: the generic path, with `version` not first.
        let rest = r#"{"resource": "/a", "path": "/a", "httpMethod": "GET",
            "headers": {}, "requestContext": {"requestId": "r", "stage": "prod",
            "identity": {"sourceIp": "5.6.7.8"}, "httpMethod": "GET"}, "version": "1.0"}"#;
        assert!(matches!(
            as_the_runtime_reads(rest),
            HttpEvent::Other(LambdaRequest::ApiGatewayV1(_))
        ));
    }

    #[test]
    fn named_stages_are_taken_off_the_path() {
        assert_eq!(without_stage("/prod/division", Some("prod")), "/division");
        assert_eq!(without_stage("/prod", Some("prod")), "/");
        assert_eq!(
            without_stage("/production/x", Some("prod")),
            "/production/x"
        );
        assert_eq!(without_stage("/division", Some("$default")), "/division");
        assert_eq!(without_stage("/division", None), "/division");
    }
}
