//! HTTP in the template: an HTTP API with one route per path and method a function
//! serves, or a streaming function's own function URL.

use indexmap::IndexMap;
use serde_json::json;

use super::function::{BuildOptions, Function};
use super::resource::{Resource, logical_id, reference, sub};
use super::template::Template;
use crate::describe::{FunctionDescription, HttpApiDescription};

impl Template {
    /// Adds an HTTP API and its functions: each route an `HttpApi` event of the
    /// function that serves it (`OPTIONS` too where it answers CORS), and a catch-all
    /// route on the API's first function, so unknown paths still get Fabric's 404 and
    /// 405 envelopes.
    pub(super) fn http_api<'a>(
        &mut self,
        api: &HttpApiDescription,
        build: &BuildOptions,
        function: &mut impl FnMut(&str) -> (&'a FunctionDescription, bool),
    ) {
        let name = logical_id(&api.name);
        let api_id = format!("{name}HttpApi");
        self.resource(
            api_id.clone(),
            Resource::new(
                "AWS::Serverless::HttpApi",
                json!({ "StageName": "$default" }),
            ),
        );
        let mut members: Vec<&str> = vec![&api.default_function];
        for route in &api.routes {
            if !members.contains(&route.function.as_str()) {
                members.push(&route.function);
            }
        }
        for member in members {
            let mut events = IndexMap::new();
            for route in api.routes.iter().filter(|route| route.function == member) {
                let base = format!(
                    "{}{}",
                    logical_id(&route.method.to_ascii_lowercase()),
                    logical_id(&route.path)
                );
                // `/a-b` and `/ab` both read `Ab`: number the later one.
                let id = (1..)
                    .map(|n| {
                        if n == 1 {
                            base.clone()
                        } else {
                            format!("{base}{n}")
                        }
                    })
                    .find(|id| !events.contains_key(id))
                    .expect("an unused id");
                events.insert(
                    id,
                    json!({ "Type": "HttpApi", "Properties": { "ApiId": reference(&api_id), "Path": route.path, "Method": route.method } }),
                );
            }
            if member == api.default_function {
                events.insert(
                    "CatchAll".to_owned(),
                    json!({ "Type": "HttpApi", "Properties": { "ApiId": reference(&api_id) } }),
                );
            }
            let (described, first) = function(member);
            if first {
                let lambda = Function::new(&described.name, build, &described.settings);
                let resource = lambda.resource(IndexMap::new(), Vec::new(), events);
                self.resource(lambda.id(), resource);
            }
        }
        self.output(
            format!("{name}HttpUrl"),
            "The HTTP API's URL",
            sub(&format!(
                "https://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/"
            )),
            None,
        );
    }

    /// Adds a function that answers on its own function URL in `RESPONSE_STREAM`
    /// mode, open to the internet (`AuthType: NONE`): its router's own `authorize`
    /// hook guards it.
    pub(super) fn function_url(&mut self, described: &FunctionDescription, build: &BuildOptions) {
        let lambda = Function::new(&described.name, build, &described.settings);
        let mut resource = lambda.resource(IndexMap::new(), Vec::new(), IndexMap::new());
        resource.properties["FunctionUrlConfig"] =
            json!({ "AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM" });
        self.resource(lambda.id(), resource);
        self.output(
            format!("{}FunctionUrl", lambda.logical_name()),
            "The function URL, which streams responses",
            json!({ "Fn::GetAtt": [format!("{}Url", lambda.id()), "FunctionUrl"] }),
            None,
        );
    }
}
