//! The LLM vendors' tool formats: how each lists a tool, asks for a call, and takes
//! the result back.

use serde_json::{Value, json};

use super::{Tool, ToolResult, Tools};
use crate::{Context, Error};

/// A vendor's tool format.
///
/// | Format | A tool | A call (the model's) | The result (yours) |
/// |---|---|---|---|
/// | `OpenAi` | `{"type": "function", "function": {name, description, parameters, strict}}` | `tool_calls[i]`: `{id, type, function: {name, arguments}}` | `{"role": "tool", tool_call_id, content}` |
/// | `OpenAiResponses` | `{"type": "function", name, description, parameters, strict}` | `{"type": "function_call", call_id, name, arguments}` | `{"type": "function_call_output", call_id, output}` |
/// | `Anthropic` | `{name, description, input_schema}` | `{"type": "tool_use", id, name, input}` | `{"type": "tool_result", tool_use_id, content, is_error?}` |
/// | `Bedrock` | `{"toolSpec": {name, description, inputSchema: {json}}}` | `{"toolUse": {toolUseId, name, input}}` | `{"toolResult": {toolUseId, content: [{json}] or [{text}], status?}}` |
///
/// OpenAI's `arguments` is JSON text; the others send an object. `strict` is
/// `false`: strict mode asks for schemas in which every field is required, which
/// would not be the schema Fabric validates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// OpenAI function calling, Chat Completions API (and the many APIs that copy
    /// it).
    OpenAi,
    /// OpenAI function calling, Responses API.
    OpenAiResponses,
    /// Anthropic tool use, Messages API.
    Anthropic,
    /// Amazon Bedrock's Converse API (`toolConfig.tools`).
    Bedrock,
}

/// A model's request to call a tool, read from its format.
struct ToolCall {
    id: String,
    name: String,
    arguments: Value,
}

impl Format {
    fn vendor(self) -> &'static str {
        match self {
            Format::OpenAi => "an OpenAI Chat Completions",
            Format::OpenAiResponses => "an OpenAI Responses",
            Format::Anthropic => "an Anthropic",
            Format::Bedrock => "a Bedrock Converse",
        }
    }

    /// How this format lists `tool`.
    pub fn definition(self, tool: &Tool) -> Value {
        match self {
            Format::OpenAi => json!({
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.input_schema,
                    "strict": false,
                },
            }),
            Format::OpenAiResponses => json!({
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.input_schema,
                "strict": false,
            }),
            Format::Anthropic => json!({
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.input_schema,
            }),
            Format::Bedrock => json!({
                "toolSpec": {
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": { "json": tool.input_schema },
                },
            }),
        }
    }

    /// The id, tool name and arguments of a call in this format.
    fn read_call(self, call: &Value) -> Result<ToolCall, Error> {
        let (body, id_key, arguments_key) = match self {
            Format::OpenAi => (call.get("function").unwrap_or(call), "id", "arguments"),
            Format::OpenAiResponses => (call, "call_id", "arguments"),
            Format::Anthropic => (call, "id", "input"),
            Format::Bedrock => (call.get("toolUse").unwrap_or(call), "toolUseId", "input"),
        };
        let id_holder = if self == Format::OpenAi { call } else { body };
        let text = |holder: &Value, key: &str, what: &str| {
            holder
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "This is not {} tool call: it has no {what}",
                        self.vendor()
                    ))
                })
        };
        let id = text(id_holder, id_key, &format!("`{id_key}`"))?;
        let name = text(body, "name", "tool `name`")?;
        let arguments = match body.get(arguments_key) {
            None | Some(Value::Null) => json!({}),
            // OpenAI sends the arguments as JSON text (an empty text for none).
            Some(Value::String(text)) if text.trim().is_empty() => json!({}),
            Some(Value::String(text)) => {
                serde_json::from_str(text).unwrap_or(Value::String(text.clone()))
            }
            Some(value) => value.clone(),
        };
        Ok(ToolCall {
            id,
            name,
            arguments,
        })
    }

    /// The result of the call `id` in this format.
    fn result(self, id: &str, result: &ToolResult) -> Value {
        match self {
            Format::OpenAi => json!({ "role": "tool", "tool_call_id": id, "content": result.text }),
            Format::OpenAiResponses => {
                json!({ "type": "function_call_output", "call_id": id, "output": result.text })
            }
            Format::Anthropic => {
                let mut block =
                    json!({ "type": "tool_result", "tool_use_id": id, "content": result.text });
                if result.is_error {
                    block["is_error"] = json!(true);
                }
                block
            }
            Format::Bedrock => {
                // Results as JSON documents; errors as the text a model reads, as
                // Bedrock's own examples send them.
                let content = match &result.structured {
                    Some(structured) if !result.is_error => json!([{ "json": structured }]),
                    _ => json!([{ "text": result.text }]),
                };
                let mut block = json!({ "toolResult": { "toolUseId": id, "content": content } });
                if result.is_error {
                    block["toolResult"]["status"] = json!("error");
                }
                block
            }
        }
    }
}

impl Tools {
    /// Every tool in `format`, for the request that offers them to a model (OpenAI's
    /// and Anthropic's `tools`, Bedrock's `toolConfig.tools`).
    ///
    /// ```
    /// use fabric::prelude::*;
    /// use fabric::tools::{Format, Tools};
    /// # #[derive(Deserialize, Input)] struct In { text: String }
    /// # #[fabric_service(alias = "echo", description = "Say it back")] async fn echo(i: In, _c: Context) -> Result<String, Error> { Ok(i.text) }
    /// let tools = Tools::from(echo);
    /// let openai = tools.definitions(Format::OpenAi);
    /// assert_eq!(openai[0]["function"]["parameters"], echo.input_schema());
    /// let bedrock = tools.definitions(Format::Bedrock);
    /// assert_eq!(bedrock[0]["toolSpec"]["inputSchema"]["json"], echo.input_schema());
    /// ```
    pub fn definitions(&self, format: Format) -> Value {
        Value::Array(
            self.tools()
                .iter()
                .map(|tool| format.definition(tool))
                .collect(),
        )
    }

    /// Runs a model's tool call in `format` through the service and gives the tool
    /// result in the same format, for the next request to the model. What the
    /// service rejects (a missing field, a bad value, an unknown tool, OpenAI
    /// arguments that are not JSON) is a result the model can read and correct,
    /// not an `Err`; a call that is not of the format's shape (no id, no name) is a
    /// 400 `Err`, since it has no id to answer.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use fabric::prelude::*;
    /// use fabric::tools::{Format, Tools};
    /// # #[derive(Deserialize, Input)] struct In { text: String }
    /// # #[fabric_service(alias = "echo")] async fn echo(i: In, _c: Context) -> Result<String, Error> { Ok(i.text) }
    /// let tools = Tools::from(echo);
    /// let call = json!({"id": "call_1", "type": "function",
    ///                   "function": {"name": "echo", "arguments": "{}"}});
    /// let result = tools.call(Format::OpenAi, &call, Context::builder("r").build()).await.unwrap();
    /// assert_eq!(result["tool_call_id"], "call_1");
    /// assert!(result["content"].as_str().unwrap().contains(r#"Missing required field \"text\""#));
    /// # })
    /// ```
    pub async fn call(&self, format: Format, call: &Value, ctx: Context) -> Result<Value, Error> {
        let ToolCall {
            id,
            name,
            arguments,
        } = format.read_call(call)?;
        let result = match arguments {
            arguments @ Value::Object(_) => self.run(&name, arguments, ctx).await,
            other => ToolResult::new(
                Err(Error::bad_request(format!(
                    "The arguments of `{name}` must be a JSON object, got {other}"
                ))),
                super::Structure::ByValue,
                self.scrubs_errors(),
            ),
        };
        Ok(format.result(&id, &result))
    }
}
