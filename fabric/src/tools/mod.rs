//! Services as tools for language models: the same `#[fabric_service]` values, with
//! the input schema validation uses, as MCP tools (`fabric_mcp`, feature `mcp`) and
//! as the tool definitions of OpenAI function calling, Anthropic tool use and
//! Bedrock Converse, whose tool calls [`Tools::call`] runs through the service.
//!
//! ```
//! use fabric::prelude::*;
//! use fabric::tools::{Format, Tools};
//!
//! /// Two numbers to divide.
//! #[derive(Deserialize, Validate, Input)]
//! struct Division { numerator: f64, denominator: f64 }
//!
//! #[fabric_service(alias = "division", description = "Divide two numbers", read_only)]
//! async fn division(input: Division, _ctx: Context) -> Result<f64, Error> {
//!     Ok(input.numerator / input.denominator)
//! }
//!
//! let tools = Tools::new().service(division);
//! // What the request to the model lists as its tools:
//! let definitions = tools.definitions(Format::Anthropic);
//! assert_eq!(definitions[0]["name"], "division");
//! assert_eq!(definitions[0]["input_schema"], division.input_schema());
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A tool call the model answered with, run through the service:
//! let call = json!({"type": "tool_use", "id": "toolu_1", "name": "division",
//!                   "input": {"numerator": "14", "denominator": 7}});
//! let result = tools.call(Format::Anthropic, &call, Context::builder("r1").build()).await.unwrap();
//! assert_eq!(result, json!({"type": "tool_result", "tool_use_id": "toolu_1",
//!                           "content": "{\"result\":2.0}"}));
//! # })
//! ```
//!
//! # Results
//!
//! A result object is the tool's structured result as it is; any other result is
//! wrapped as `{"result": value}` (MCP's structured content must be an object), and
//! the tool's output schema says so. The text a model reads is that structure's
//! JSON. A failed call is the [error envelope](crate::error) with every failing
//! field, marked as an error where the format has a mark (`is_error`, `isError`,
//! `status: "error"`); 5xx details are scrubbed unless [`Tools::scrub_errors`] turns
//! that off. A panicking service is a 500 like everywhere.

mod vendors;

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value, json};

pub use vendors::Format;

use crate::layer::{Layers, Transport};
use crate::service::Hints;
use crate::{Context, Error, Output, Service};

/// One service as a tool: what every format lists.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::tools::Tool;
///
/// #[derive(Deserialize, Input)]
/// struct Name { name: String }
///
/// #[fabric_service(alias = "hello", description = "Say hello")]
/// async fn hello(input: Name, _ctx: Context) -> Result<String, Error> {
///     Ok(format!("Hello, {}!", input.name))
/// }
///
/// let tool = Tool::of(&hello);
/// assert_eq!(tool.name, "hello");
/// assert_eq!(tool.input_schema, hello.input_schema());
/// // A string is not an object: it is the structured result's `result`.
/// assert_eq!(tool.output_schema.unwrap()["properties"]["result"], json!({"type": "string"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tool {
    /// The service's alias.
    pub name: String,
    /// The service's description.
    pub description: String,
    /// [`Service::input_schema`]: the schema the input is validated with.
    pub input_schema: Value,
    /// The schema of the structured result (always an object), when the service's
    /// result type is known.
    pub output_schema: Option<Value>,
    /// How a result becomes the structured result.
    pub structure: Structure,
    /// The service's hints.
    pub hints: Hints,
}

impl Tool {
    /// The tool of `service`.
    pub fn of(service: &dyn Service) -> Tool {
        let schema = service.output_schema();
        let structure = Structure::of(schema.as_ref());
        let output_schema = schema.map(|schema| {
            if structure == Structure::Wrapped {
                json!({
                    "type": "object",
                    "properties": { "result": schema },
                    "required": ["result"],
                })
            } else {
                schema
            }
        });
        Tool {
            name: service.alias().to_owned(),
            description: service.description().to_owned(),
            input_schema: service.input_schema(),
            output_schema,
            structure,
            hints: service.hints(),
        }
    }
}

/// How a result becomes a tool's structured result, which MCP requires to be an
/// object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// The result's schema is an object's: the result as it is.
    Object,
    /// The result's schema is another type's: always `{"result": value}`, as the
    /// tool's output schema says.
    Wrapped,
    /// The result's type is not known: objects as they are, other values wrapped.
    ByValue,
}

impl Structure {
    /// The structure for a result of `schema` ([`Service::output_schema`]).
    pub fn of(schema: Option<&Value>) -> Structure {
        match schema {
            None => Structure::ByValue,
            Some(schema) if schema.get("type") == Some(&json!("object")) => Structure::Object,
            Some(_) => Structure::Wrapped,
        }
    }

    /// `value` as a structured result.
    fn apply(self, value: Value) -> Value {
        match (self, value) {
            (Structure::Object | Structure::ByValue, value @ Value::Object(_)) => value,
            (_, value) => Value::Object(Map::from_iter([("result".into(), value)])),
        }
    }
}

/// What one tool call gave, ready for any format.
///
/// ```
/// use fabric::{Error, Output};
/// use fabric::tools::{Structure, ToolResult};
/// use serde_json::json;
///
/// let ok = ToolResult::new(Ok(Output::from_value(&2.0).unwrap()), Structure::Wrapped, true);
/// assert_eq!(ok.structured, Some(json!({"result": 2.0})));
/// assert_eq!(ok.text, r#"{"result":2.0}"#);
///
/// let failed = ToolResult::new(Err(Error::bad_request("Missing required field \"name\"")), Structure::Wrapped, true);
/// assert!(failed.is_error);
/// assert_eq!(failed.structured.unwrap()["errors"][0]["status"], 400);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ToolResult {
    /// Whether the call failed.
    pub is_error: bool,
    /// The structured result: the result object, `{"result": value}`, or the error
    /// envelope. `None` when the service returned `()`.
    pub structured: Option<Value>,
    /// The JSON text a model reads: the structure's, else the result's (`null` for
    /// `()`).
    pub text: String,
}

impl ToolResult {
    /// The result of a call to a tool of `structure` ([`Tool::structure`]); `scrub`
    /// hides 5xx details.
    pub fn new(result: Result<Output, Error>, structure: Structure, scrub: bool) -> ToolResult {
        match result {
            Ok(output) => {
                let structured = (!output.is_empty()).then(|| structure.apply(output.to_value()));
                let text = match &structured {
                    Some(structured) => structured.to_string(),
                    None => output.json().unwrap_or("null").to_owned(),
                };
                ToolResult {
                    is_error: false,
                    structured,
                    text,
                }
            }
            Err(err) => {
                let text = err.envelope_json(scrub);
                ToolResult {
                    is_error: true,
                    structured: serde_json::from_str(&text).ok(),
                    text,
                }
            }
        }
    }
}

/// Services offered to a model as tools, by alias. `fabric_mcp` serves them over
/// MCP; [`definitions`](Tools::definitions) and [`call`](Tools::call) speak the LLM
/// vendors' formats. See the [module](self).
#[derive(Clone)]
pub struct Tools {
    services: Vec<Arc<dyn Service>>,
    scrub_errors: bool,
    /// The serving adapter's layers (an MCP server's), and the transport they see.
    layers: Layers,
    transport: Transport,
}

impl Default for Tools {
    fn default() -> Self {
        Tools::new()
    }
}

impl<S: Service> From<S> for Tools {
    fn from(service: S) -> Tools {
        Tools::new().service(service)
    }
}

impl Tools {
    /// No tools yet; 5xx details scrubbed.
    pub fn new() -> Tools {
        Tools {
            services: Vec::new(),
            scrub_errors: true,
            layers: Layers::new(),
            transport: Transport::Tool,
        }
    }

    /// Adds a service as a tool named by its alias.
    ///
    /// # Panics
    ///
    /// When a tool already has that alias: a model could not tell them apart.
    pub fn service(self, service: impl Service) -> Tools {
        self.shared_service(Arc::new(service))
    }

    /// Adds a shared service as a tool.
    ///
    /// # Panics
    ///
    /// When a tool already has that alias.
    pub fn shared_service(mut self, service: Arc<dyn Service>) -> Tools {
        assert!(
            self.get(service.alias()).is_none(),
            "two tools are named `{}`",
            service.alias()
        );
        self.services.push(service);
        self
    }

    /// Whether 5xx details are hidden from the model (default: yes).
    pub fn scrub_errors(mut self, scrub: bool) -> Tools {
        self.scrub_errors = scrub;
        self
    }

    /// Runs every call through `layers`, which see `transport` (an MCP server's
    /// layers, as `Transport::Mcp`).
    #[cfg_attr(not(feature = "mcp"), allow(dead_code))]
    pub(crate) fn served_through(mut self, layers: &Layers, transport: Transport) -> Tools {
        self.layers = layers.clone();
        self.transport = transport;
        self
    }

    /// Whether 5xx details are hidden.
    pub fn scrubs_errors(&self) -> bool {
        self.scrub_errors
    }

    /// The service named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Service>> {
        self.services.iter().find(|service| service.alias() == name)
    }

    /// The services, in the order they were added.
    pub fn services(&self) -> &[Arc<dyn Service>] {
        &self.services
    }

    /// Every tool, in order.
    pub fn tools(&self) -> Vec<Tool> {
        self.services
            .iter()
            .map(|service| Tool::of(service.as_ref()))
            .collect()
    }

    /// Runs the tool `name` on `arguments` (coerced and validated as on every
    /// transport; a panic is a 500). An unknown name is a 404 result naming the
    /// tools there are.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use fabric::prelude::*;
    /// use fabric::tools::Tools;
    /// # #[derive(Deserialize, Input)] struct In { n: u8 }
    /// # #[fabric_service(alias = "twice")] async fn twice(i: In, _c: Context) -> Result<u16, Error> { Ok(u16::from(i.n) * 2) }
    /// let tools = Tools::from(twice);
    /// let result = tools.run("twice", json!({"n": "4"}), Context::builder("r").build()).await;
    /// assert_eq!(result.structured, Some(json!({"result": 8})));
    /// let missing = tools.run("thrice", json!({}), Context::builder("r").build()).await;
    /// assert!(missing.is_error && missing.text.contains("twice"));
    /// # })
    /// ```
    pub async fn run(&self, name: &str, arguments: Value, ctx: Context) -> ToolResult {
        let (result, structure) = self.call_service(name, arguments, ctx).await;
        ToolResult::new(result, structure, self.scrub_errors)
    }

    /// The service's own result, before it becomes a [`ToolResult`] of `structure`:
    /// for transports that count results by status.
    pub(crate) async fn call_service(
        &self,
        name: &str,
        arguments: Value,
        ctx: Context,
    ) -> (Result<Output, Error>, Structure) {
        let Some(service) = self.get(name) else {
            return (Err(self.unknown(name)), Structure::ByValue);
        };
        let structure = Structure::of(service.output_schema().as_ref());
        let result = self
            .layers
            .call(service, name, self.transport, arguments, ctx)
            .await;
        (result, structure)
    }

    /// The 404 for a tool that is not there.
    pub(crate) fn unknown(&self, name: &str) -> Error {
        let names: Vec<&str> = self.services.iter().map(|s| s.alias()).collect();
        Error::not_found(format!(
            "No tool named `{name}`; the tools are: {}",
            names.join(", ")
        ))
    }
}

impl fmt::Debug for Tools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.services.iter().map(|s| s.alias()).collect();
        f.debug_struct("Tools")
            .field("services", &names)
            .field("scrub_errors", &self.scrub_errors)
            .finish()
    }
}
