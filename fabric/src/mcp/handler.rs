//! The MCP server proper, on `rmcp`: the tools are the services, `tools/call` runs
//! them through the same pipeline as every transport, and `send_message` becomes
//! progress or log notifications for clients that asked for them.

// MCP 2026-07-28 deprecates logging; clients of the versions before it still ask
// for it, and get it.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, LoggingLevel, LoggingMessageNotificationParam,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ServerCapabilities,
    ServerConfig, SetLevelRequestParams, Tool as McpTool, ToolAnnotations,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::metrics::{Invocation, MetricsConfig, Stream};
use crate::settings::Ready;
use crate::tools::{Structure, Tool, ToolResult, Tools};
use crate::{Context, Error, MessageSink, State};

/// What the server says about itself at `initialize` (and `server/discover`).
#[derive(Debug, Clone)]
pub(super) struct Identity {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) instructions: Option<String>,
}

/// One MCP session's handler: over stdio, the whole session; over stateless
/// HTTP, one request.
#[derive(Clone)]
pub(super) struct ToolServer {
    pub(super) tools: Arc<Tools>,
    pub(super) identity: Arc<Identity>,
    /// The shared state, for calls whose transport gives no context (stdio); over
    /// HTTP the router's context, in the request, has it.
    pub(super) state: State,
    /// Whether every call is a 503 (over HTTP the router answers that itself).
    pub(super) unavailable: bool,
    /// The level a `logging/setLevel` asked for in this session.
    pub(super) log_level: Arc<Mutex<Option<LoggingLevel>>>,
    /// The metrics of calls whose transport gives no context (stdio); over HTTP the
    /// router's context has them.
    pub(super) metrics: Option<MetricsConfig>,
}

impl ToolServer {
    pub(super) fn new(tools: Arc<Tools>, identity: Arc<Identity>) -> ToolServer {
        ToolServer {
            tools,
            identity,
            state: State::new(),
            unavailable: false,
            log_level: Arc::default(),
            metrics: None,
        }
    }

    /// The same server for a new session, which has asked for no logs yet.
    pub(super) fn fresh(&self) -> ToolServer {
        ToolServer {
            log_level: Arc::default(),
            ..self.clone()
        }
    }
}

/// A service as an MCP tool: the same name, description and input schema.
pub(super) fn mcp_tool(tool: &Tool) -> McpTool {
    let mut mcp = McpTool::new(
        tool.name.clone(),
        tool.description.clone(),
        object(&tool.input_schema),
    );
    if let Some(schema) = &tool.output_schema {
        mcp = mcp.with_raw_output_schema(object(schema));
    }
    let hints = tool.hints;
    if !hints.is_empty() {
        let mut annotations = ToolAnnotations::new();
        if hints.read_only {
            annotations = annotations.read_only(true);
        }
        if hints.idempotent {
            annotations = annotations.idempotent(true);
        }
        if let Some(destructive) = hints.destructive {
            annotations = annotations.destructive(destructive);
        }
        mcp = mcp.annotate(annotations);
    }
    mcp
}

fn object(schema: &Value) -> Arc<JsonObject> {
    Arc::new(match schema {
        Value::Object(fields) => fields.clone(),
        _ => JsonObject::new(),
    })
}

/// A tool result as MCP sends it: the structure, its JSON text, and `isError`.
pub(super) fn mcp_result(result: ToolResult) -> CallToolResult {
    let mut call = if result.is_error {
        CallToolResult::error(vec![ContentBlock::text(result.text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(result.text)])
    };
    call.structured_content = result.structured;
    call
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_tools()
                .build(),
        )
        .with_server_info(Implementation::new(
            self.identity.name.clone(),
            self.identity.version.clone(),
        ));
        if let Some(instructions) = &self.identity.instructions {
            info = info.with_instructions(instructions.clone());
        }
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.tools.tools().iter().map(mcp_tool).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<McpTool> {
        self.tools
            .get(name)
            .map(|service| mcp_tool(&Tool::of(service.as_ref())))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // An unknown tool is a protocol error, as the spec has it; what the
        // service rejects is a result the model reads.
        if self.tools.get(&request.name).is_none() {
            return Err(ErrorData::invalid_params(
                self.tools.unknown(&request.name).detail().to_owned(),
                None,
            ));
        }
        let progress = context.meta.get_progress_token();
        let log_level = context.meta.log_level().or_else(|| {
            *self
                .log_level
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        });
        let sink = Notifier {
            peer: context.peer.clone(),
            tool: request.name.to_string(),
            progress,
            logs: matches!(log_level, Some(LoggingLevel::Debug | LoggingLevel::Info)),
            sent: Mutex::new(0),
        };
        if self.unavailable {
            let result = ToolResult::new(
                Err(Ready::unavailable_error()),
                Structure::ByValue,
                self.tools.scrubs_errors(),
            );
            return Ok(mcp_result(result).into());
        }
        let http_context = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Context>());
        let invocation = http_context
            .and_then(|request| request.extension::<MetricsConfig>())
            .or(self.metrics.as_ref())
            .map(|metrics| {
                let request_id = match http_context {
                    Some(request) => request.request_id().to_owned(),
                    None => context.id.to_string(),
                };
                Invocation::start(metrics, &request.name, "mcp", &request_id)
            });
        let mut ctx = match http_context {
            Some(request) => request.to_builder(),
            None => Context::builder(context.id.to_string()).state(self.state.clone()),
        }
        .sink(sink);
        if let Some(invocation) = &invocation {
            ctx = ctx.extension(invocation.metrics.clone());
        }
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let (result, structure) = self
            .tools
            .call_service(&request.name, arguments, ctx.build())
            .await;
        if let Some(invocation) = invocation {
            let status = result.as_ref().map_or_else(Error::status, |_| 200);
            // Over stdio, stdout is the protocol's: the metrics go to stderr there.
            let stream = if http_context.is_some() {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            invocation.end(status, true, stream);
        }
        let result = ToolResult::new(result, structure, self.tools.scrubs_errors());
        Ok(mcp_result(result).into())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *self
            .log_level
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(request.level);
        Ok(())
    }
}

/// Where a tool's `send_message` goes: a `notifications/progress` when the call
/// carries a progress token, a `notifications/message` at `info` when the client
/// asked for logs at that level; else nowhere.
struct Notifier {
    peer: Peer<RoleServer>,
    tool: String,
    progress: Option<ProgressToken>,
    logs: bool,
    sent: Mutex<u32>,
}

#[async_trait]
impl MessageSink for Notifier {
    async fn send(&self, message: String) -> Result<(), Error> {
        let gone = |_| Error::gone("The MCP client is gone");
        if let Some(token) = &self.progress {
            let count = {
                let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
                *sent += 1;
                *sent
            };
            self.peer
                .notify_progress(
                    ProgressNotificationParam::new(token.clone(), f64::from(count))
                        .with_message(message.clone()),
                )
                .await
                .map_err(gone)?;
        }
        if self.logs {
            let data = serde_json::from_str(&message).unwrap_or(Value::String(message));
            self.peer
                .notify_logging_message(
                    LoggingMessageNotificationParam::new(LoggingLevel::Info, data)
                        .with_logger(self.tool.clone()),
                )
                .await
                .map_err(gone)?;
        }
        Ok(())
    }
}
