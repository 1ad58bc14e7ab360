//! The HTTP events Lambda receives: API Gateway REST APIs (payload 1.0), HTTP APIs
//! (payload 2.0), function URLs and Application Load Balancers, as JSON.

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{insert_pairs, request_time};

/// 2020-03-12T19:03:58Z, a fixed time for reproducible events.
const TIME_EPOCH: i64 = 1_584_039_838_000;

/// Where an HTTP event comes from; it fixes the event's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    RestApi,
    HttpApi,
    FunctionUrl,
    Alb,
}

/// One HTTP request as the event Lambda gets for it: from an API Gateway REST API,
/// an HTTP API, a function URL or an ALB, each in its own shape (headers and query
/// maps as that source writes them, the stage in the path where it puts it,
/// cookies apart for payload 2.0, bodies base64 when binary).
///
/// Feed it to [`HttpRouter::invoke_lambda`](crate::http::HttpRouter::invoke_lambda)
/// as Lambda would.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fabric::prelude::*;
/// use fabric::testing::HttpEvent;
///
/// #[derive(Deserialize, Input)]
/// struct Name { name: String }
///
/// #[fabric_service(alias = "hello")]
/// async fn hello(input: Name, _ctx: Context) -> Result<String, Error> {
///     Ok(format!("Hello, {}!", input.name))
/// }
///
/// let router = fabric_http(hello);
/// for event in [
///     HttpEvent::rest_api("GET", "/hello").query("name", "Ada"),
///     HttpEvent::http_api("POST", "/hello").json_body(&json!({"name": "Ada"})),
///     HttpEvent::function_url("GET", "/hello").query("name", "Ada"),
///     HttpEvent::alb("GET", "/hello").query("name", "Ada"),
/// ] {
///     let response: Value = serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
///     assert_eq!(response["statusCode"], 200, "{event}");
///     assert_eq!(response["body"], r#"{"data":"Hello, Ada!"}"#);
/// }
/// # })
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HttpEvent {
    source: Source,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Option<String>,
    base64: bool,
    path_parameters: Vec<(String, String)>,
    resource: Option<String>,
    stage: Option<String>,
    source_ip: String,
    request_id: String,
    authorizer: Option<Value>,
}

impl HttpEvent {
    fn new(source: Source, method: &str, path: &str) -> HttpEvent {
        HttpEvent {
            source,
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            base64: false,
            path_parameters: Vec::new(),
            resource: None,
            stage: None,
            source_ip: "198.51.100.7".to_owned(),
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".to_owned(),
            authorizer: None,
        }
    }

    /// A request through an API Gateway REST API (payload 1.0), on stage `test`.
    pub fn rest_api(method: &str, path: &str) -> HttpEvent {
        HttpEvent::new(Source::RestApi, method, path).stage("test")
    }

    /// A request through an API Gateway HTTP API (payload 2.0), on the `$default`
    /// stage unless [`stage`](Self::stage) names one (whose name then starts the
    /// raw path, as API Gateway sends it).
    pub fn http_api(method: &str, path: &str) -> HttpEvent {
        HttpEvent::new(Source::HttpApi, method, path)
    }

    /// A request to a Lambda function URL (payload 2.0, no stage).
    pub fn function_url(method: &str, path: &str) -> HttpEvent {
        HttpEvent::new(Source::FunctionUrl, method, path)
    }

    /// A request through an Application Load Balancer (single-value headers, the
    /// query as the client sent it).
    pub fn alb(method: &str, path: &str) -> HttpEvent {
        HttpEvent::new(Source::Alb, method, path)
    }

    /// A query parameter, unencoded (repeat it for a list).
    pub fn query(mut self, name: &str, value: &str) -> HttpEvent {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A request header (repeat it for several values).
    pub fn header(mut self, name: &str, value: &str) -> HttpEvent {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A cookie, `name=value`.
    pub fn cookie(mut self, cookie: &str) -> HttpEvent {
        self.cookies.push(cookie.to_owned());
        self
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json_body(self, body: &Value) -> HttpEvent {
        self.header("content-type", "application/json")
            .text_body(&body.to_string())
    }

    /// A text body as it is; set the content type with [`header`](Self::header).
    pub fn text_body(mut self, body: &str) -> HttpEvent {
        self.body = Some(body.to_owned());
        self.base64 = false;
        self
    }

    /// A body of any bytes, base64-encoded as the event carries binary bodies.
    pub fn binary_body(mut self, bytes: &[u8]) -> HttpEvent {
        self.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.base64 = true;
        self
    }

    /// A body as the event's text, with its `isBase64Encoded` flag as given, so a
    /// test can send what no client would (a body marked base64 that is not).
    pub fn raw_body(mut self, text: &str, base64: bool) -> HttpEvent {
        self.body = Some(text.to_owned());
        self.base64 = base64;
        self
    }

    /// A path parameter the API's route matched (REST and HTTP APIs).
    pub fn path_parameter(mut self, name: &str, value: &str) -> HttpEvent {
        self.path_parameters
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// The REST API resource that matched (default `/{proxy+}`).
    pub fn resource(mut self, resource: &str) -> HttpEvent {
        self.resource = Some(resource.to_owned());
        self
    }

    /// The API's stage.
    pub fn stage(mut self, stage: &str) -> HttpEvent {
        self.stage = Some(stage.to_owned());
        self
    }

    /// The client's address.
    pub fn source_ip(mut self, ip: &str) -> HttpEvent {
        self.source_ip = ip.to_owned();
        self
    }

    /// The event's request id.
    pub fn request_id(mut self, id: &str) -> HttpEvent {
        self.request_id = id.to_owned();
        self
    }

    /// What an API Gateway authorizer attached: for a REST API a Lambda
    /// authorizer's flat context (`{"principalId": ..}`), for an HTTP API the
    /// authorizer object (`{"jwt": {"claims": ..}}` or `{"lambda": ..}`).
    pub fn authorizer(mut self, authorizer: Value) -> HttpEvent {
        self.authorizer = Some(authorizer);
        self
    }

    /// The event as the JSON Lambda receives.
    pub fn to_json(&self) -> Value {
        match self.source {
            Source::RestApi => self.rest_json(),
            Source::HttpApi | Source::FunctionUrl => self.v2_json(),
            Source::Alb => self.alb_json(),
        }
    }

    fn host(&self) -> String {
        match self.source {
            Source::RestApi | Source::HttpApi => {
                "abcdef1234.execute-api.us-east-1.amazonaws.com".to_owned()
            }
            Source::FunctionUrl => "abcdefghijklmnop.lambda-url.us-east-1.on.aws".to_owned(),
            Source::Alb => "lambda-test-alb-1234567890.us-east-1.elb.amazonaws.com".to_owned(),
        }
    }

    /// The client's headers after the ones every request through the source has.
    fn all_headers(&self, lower: bool) -> Vec<(String, String)> {
        let mut headers = vec![("Host".to_owned(), self.host())];
        if self.source != Source::FunctionUrl {
            headers.extend([
                ("X-Forwarded-For".to_owned(), self.source_ip.clone()),
                ("X-Forwarded-Port".to_owned(), "443".to_owned()),
                ("X-Forwarded-Proto".to_owned(), "https".to_owned()),
            ]);
        }
        if !self.cookies.is_empty() && matches!(self.source, Source::RestApi | Source::Alb) {
            headers.push(("Cookie".to_owned(), self.cookies.join("; ")));
        }
        headers.extend(self.headers.iter().cloned());
        if lower {
            for (name, _) in &mut headers {
                *name = name.to_ascii_lowercase();
            }
        }
        headers
    }

    fn encoded_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish()
    }

    fn body_fields(&self, event: &mut Map<String, Value>) {
        event.insert(
            "body".into(),
            self.body.as_ref().map_or(Value::Null, |b| json!(b)),
        );
        event.insert("isBase64Encoded".into(), json!(self.base64));
    }

    fn rest_json(&self) -> Value {
        let stage = self.stage.as_deref().unwrap_or("test");
        let mut event = Map::new();
        event.insert(
            "resource".into(),
            json!(self.resource.as_deref().unwrap_or("/{proxy+}")),
        );
        event.insert("path".into(), json!(self.path));
        event.insert("httpMethod".into(), json!(self.method));
        insert_pairs(
            &mut event,
            "headers",
            "multiValueHeaders",
            &self.all_headers(false),
        );
        if self.query.is_empty() {
            event.insert("queryStringParameters".into(), Value::Null);
            event.insert("multiValueQueryStringParameters".into(), Value::Null);
        } else {
            insert_pairs(
                &mut event,
                "queryStringParameters",
                "multiValueQueryStringParameters",
                &self.query,
            );
        }
        let mut parameters: Vec<(String, String)> = self.path_parameters.clone();
        if parameters.is_empty() && self.resource.is_none() {
            parameters.push(("proxy".into(), self.path.trim_start_matches('/').into()));
        }
        event.insert("pathParameters".into(), pairs_object(&parameters));
        event.insert("stageVariables".into(), Value::Null);
        let mut context = json!({
            "accountId": "123456789012",
            "resourceId": "roq9wj",
            "stage": stage,
            "requestId": self.request_id,
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent()},
            "resourcePath": self.resource.as_deref().unwrap_or("/{proxy+}"),
            "httpMethod": self.method,
            "apiId": "abcdef1234",
            "path": format!("/{stage}{}", self.path),
            "protocol": "HTTP/1.1",
            "domainName": self.host(),
            "requestTime": request_time(TIME_EPOCH),
            "requestTimeEpoch": TIME_EPOCH,
        });
        if let Some(authorizer) = &self.authorizer {
            context["authorizer"] = authorizer.clone();
        }
        event.insert("requestContext".into(), context);
        self.body_fields(&mut event);
        Value::Object(event)
    }

    fn v2_json(&self) -> Value {
        let stage = match self.source {
            Source::FunctionUrl => "$default",
            _ => self.stage.as_deref().unwrap_or("$default"),
        };
        let raw_path = if stage == "$default" {
            self.path.clone()
        } else {
            format!("/{stage}{}", self.path)
        };
        let route_key = "$default";
        let mut event = Map::new();
        event.insert("version".into(), json!("2.0"));
        event.insert("routeKey".into(), json!(route_key));
        event.insert("rawPath".into(), json!(raw_path));
        event.insert("rawQueryString".into(), json!(self.encoded_query()));
        if !self.cookies.is_empty() {
            event.insert("cookies".into(), json!(self.cookies));
        }
        event.insert("headers".into(), joined(&self.all_headers(true)));
        if !self.query.is_empty() {
            event.insert("queryStringParameters".into(), joined(&self.query));
        }
        let api_id = match self.source {
            Source::FunctionUrl => "abcdefghijklmnop",
            _ => "abcdef1234",
        };
        let domain = self.host();
        let mut context = json!({
            "accountId": "123456789012",
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": self.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": self.user_agent(),
            },
            "requestId": self.request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": request_time(TIME_EPOCH),
            "timeEpoch": TIME_EPOCH,
        });
        if let Some(authorizer) = &self.authorizer {
            context["authorizer"] = authorizer.clone();
        }
        event.insert("requestContext".into(), context);
        if self.source == Source::HttpApi && !self.path_parameters.is_empty() {
            event.insert("pathParameters".into(), pairs_object(&self.path_parameters));
        }
        if self.body.is_some() {
            self.body_fields(&mut event);
        } else {
            event.insert("isBase64Encoded".into(), json!(false));
        }
        Value::Object(event)
    }

    fn alb_json(&self) -> Value {
        let mut event = Map::new();
        event.insert(
            "requestContext".into(),
            json!({"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/abcdefg"}}),
        );
        event.insert("httpMethod".into(), json!(self.method));
        event.insert("path".into(), json!(self.path));
        // An ALB passes the query on as the client encoded it.
        let mut query = Map::new();
        let encoded = self.encoded_query();
        for pair in encoded.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            query.insert(name.to_owned(), json!(value));
        }
        event.insert("queryStringParameters".into(), Value::Object(query));
        let mut headers = Map::new();
        for (name, value) in self.all_headers(true) {
            headers.insert(name, json!(value));
        }
        event.insert("headers".into(), Value::Object(headers));
        self.body_fields(&mut event);
        if self.body.is_none() {
            event.insert("body".into(), json!(""));
        }
        Value::Object(event)
    }

    fn user_agent(&self) -> String {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
            .map_or_else(|| "curl/8.5.0".to_owned(), |(_, value)| value.clone())
    }
}

/// The JSON text, as Lambda hands it to the function.
impl fmt::Display for HttpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// Pairs as an object; null when there are none, as API Gateway writes it.
fn pairs_object(pairs: &[(String, String)]) -> Value {
    if pairs.is_empty() {
        return Value::Null;
    }
    Value::Object(
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect(),
    )
}

/// Payload 2.0's maps: one string per name, repeated values joined with commas.
fn joined(pairs: &[(String, String)]) -> Value {
    let mut map: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        match map.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                map.insert(name.clone(), json!(value));
            }
        }
    }
    Value::Object(map)
}
