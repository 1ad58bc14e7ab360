//! Where an adapter runs: [`run`] serves it on AWS Lambda when
//! `AWS_LAMBDA_RUNTIME_API` is set (the Lambda runtime sets it), and locally
//! otherwise — the local gateway, the local HTTP server, the whole app, or the
//! command line. `--print-template` prints the adapter's AWS SAM template instead.

use std::future::Future;

use crate::BoxError;
#[cfg(any(feature = "websocket", feature = "http"))]
use crate::app::{App, ServeFunction};
use crate::describe::AppDescription;
#[cfg(any(feature = "websocket", feature = "http", feature = "deploy"))]
use crate::logging::fatal;

/// Something [`run`] can serve: an adapter built with `fabric_websocket`,
/// `fabric_http` or `fabric_cli`, an [`App`], or one function of one
/// ([`App::serve`]).
///
/// ```
/// use fabric::BoxError;
/// use fabric::runtime::Adapter;
///
/// struct Hello;
/// impl Adapter for Hello {
///     async fn serve_lambda(self) -> Result<(), BoxError> {
///         Err("hello does not run on Lambda".into())
///     }
///     async fn serve_local(self) -> Result<(), BoxError> {
///         println!("hello");
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// fabric::run(Hello).await.unwrap();
/// # })
/// ```
pub trait Adapter: Sized + 'static {
    /// Serves events from the Lambda Runtime API until the process is stopped.
    fn serve_lambda(self) -> impl Future<Output = Result<(), BoxError>>;

    /// Serves off Lambda: a local server until Ctrl-C, or one command.
    fn serve_local(self) -> impl Future<Output = Result<(), BoxError>>;

    /// What this adapter deploys, as plain data, for `--print-template`; `binary`
    /// names the function of a single adapter. `None` for adapters that do not run
    /// on Lambda.
    fn describe(&self, binary: &str) -> Result<Option<AppDescription>, BoxError> {
        let _ = binary;
        Ok(None)
    }
}

/// Serves `adapter` on Lambda when `AWS_LAMBDA_RUNTIME_API` is set, and locally
/// otherwise. One binary, both places. An application that cannot be served (a
/// route served by two functions, say) is one line on stderr and exit status 1.
///
/// ```no_run
/// # struct Adapter;
/// # impl fabric::runtime::Adapter for Adapter {
/// #     async fn serve_lambda(self) -> Result<(), fabric::BoxError> { Ok(()) }
/// #     async fn serve_local(self) -> Result<(), fabric::BoxError> { Ok(()) }
/// # }
/// #[tokio::main]
/// async fn main() -> Result<(), fabric::BoxError> {
///     fabric::run(Adapter).await
/// }
/// ```
pub async fn run<A: Adapter>(adapter: A) -> Result<(), BoxError> {
    #[cfg(feature = "deploy")]
    if let Some(request) =
        crate::deploy::print_request(std::env::args_os()).unwrap_or_else(|err| err.exit())
    {
        let description = adapter
            .describe(&request.binary)
            .unwrap_or_else(|err| fatal(&err.to_string()))
            .ok_or("this adapter does not run on Lambda, so it has no template")?;
        let template = crate::deploy::Template::from_app(&description, &request.build);
        // A closed pipe (`| head`) is the reader's choice, not an error.
        let mut stdout = std::io::stdout();
        let _ = std::io::Write::write_all(&mut stdout, template.render(request.format).as_bytes());
        return Ok(());
    }
    if crate::env::on_lambda() {
        adapter.serve_lambda().await
    } else {
        adapter.serve_local().await
    }
}

/// The function a single adapter is deployed as: the running binary's name.
#[cfg(any(feature = "websocket", feature = "http"))]
fn binary_name() -> String {
    crate::env::program_name(std::env::args_os().next().as_deref())
}

/// Serving off Lambda needs the `local` feature; without it, one line says so.
#[cfg(all(not(feature = "local"), any(feature = "websocket", feature = "http")))]
async fn serve_app_locally(_app: App, _pinned: Option<String>) -> Result<(), BoxError> {
    fatal(
        "this binary is built without fabric's `local` feature, so it has no local gateway or server: turn the feature on (it is on by default) or run it on Lambda",
    )
}

#[cfg(all(feature = "local", any(feature = "websocket", feature = "http")))]
async fn serve_app_locally(app: App, pinned: Option<String>) -> Result<(), BoxError> {
    crate::local::serve_app(app, pinned).await
}

/// The adapter of one function of an app, set up to serve as part of it; a bad app
/// is one line on stderr and exit status 1.
#[cfg(any(feature = "websocket", feature = "http"))]
fn planned_adapter(app: App, function: &str) -> crate::app::FunctionAdapter {
    app.plan()
        .and_then(|plan| plan.take(function))
        .unwrap_or_else(|err| fatal(&err.to_string()))
        .adapter
}

/// One function of an app, off Lambda: a sweep runs once, as at each of its
/// scheduled times, with its report on stdout (it is no route, so the whole app
/// would not run it); any other function runs the whole app, since one function of
/// it cannot work alone.
#[cfg(any(feature = "websocket", feature = "http"))]
async fn serve_function_locally(app: App, function: String) -> Result<(), BoxError> {
    #[cfg(feature = "websocket")]
    if app.is_sweep(&function) {
        if let crate::app::FunctionAdapter::Sweep(sweep) = planned_adapter(app.clone(), &function) {
            return sweep.serve_local().await;
        }
    }
    serve_app_locally(app, Some(function)).await
}

/// One function of an app, on Lambda.
#[cfg(any(feature = "websocket", feature = "http"))]
async fn serve_function_on_lambda(app: App, function: &str) -> Result<(), BoxError> {
    use crate::app::FunctionAdapter;

    match planned_adapter(app, function) {
        #[cfg(feature = "websocket")]
        FunctionAdapter::WebSocket(adapter) => adapter.serve_lambda().await,
        #[cfg(feature = "http")]
        FunctionAdapter::Http(router) => router.serve_lambda().await,
        #[cfg(feature = "websocket")]
        FunctionAdapter::Authorizer(authorizer) => authorizer.serve_lambda().await,
        #[cfg(feature = "websocket")]
        FunctionAdapter::Sweep(sweep) => sweep.serve_lambda().await,
    }
}

#[cfg(feature = "websocket")]
impl Adapter for crate::websocket::WebSocketAdapter {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::websocket::WebSocketAdapter::serve_lambda(self).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        serve_app_locally(App::single(&binary_name(), self), None).await
    }

    fn describe(&self, binary: &str) -> Result<Option<AppDescription>, BoxError> {
        Ok(Some(App::single(binary, self.clone()).describe()?))
    }
}

/// The stale-connection sweep: scheduled invocations on Lambda, one run off it.
#[cfg(feature = "websocket")]
impl Adapter for crate::websocket::Sweep {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::websocket::Sweep::serve_lambda(self).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        crate::websocket::Sweep::serve_local(self).await
    }
}

/// An authorizer alone runs on Lambda only: off Lambda the local gateway runs it on
/// the handshakes of the adapter or app that uses it.
#[cfg(feature = "websocket")]
impl Adapter for crate::websocket::AuthorizerAdapter {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::websocket::AuthorizerAdapter::serve_lambda(self).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        fatal(
            "an authorizer alone serves nothing off Lambda: run the adapter (`.authorizer(a)`) or the app (`WebSocketApi::authorizer`) that uses it, and the local gateway runs it on each handshake",
        )
    }
}

#[cfg(feature = "http")]
impl Adapter for crate::http::HttpRouter {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::http::HttpRouter::serve_lambda(self).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        serve_app_locally(App::single(&binary_name(), self), None).await
    }

    fn describe(&self, binary: &str) -> Result<Option<AppDescription>, BoxError> {
        Ok(Some(App::single(binary, self.clone()).describe()?))
    }
}

/// On Lambda, function URL (and API Gateway) events; off Lambda, stdio, or with
/// `--http` the local HTTP server; its template is the function and its URL.
#[cfg(feature = "mcp")]
impl Adapter for crate::mcp::McpServer {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        crate::mcp::McpServer::serve_lambda(self).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        #[cfg(feature = "local")]
        {
            let args = crate::local::McpArgs::from_env();
            if args.http {
                crate::logging::init_with(if args.local.verbose {
                    "debug"
                } else {
                    crate::mcp::LOG_FILTER
                });
                let app = App::single(&binary_name(), self.router());
                return crate::local::serve_app_with(app, None, Some(args.local)).await;
            }
        }
        #[cfg(not(feature = "local"))]
        if std::env::args_os().len() > 1 {
            fatal(
                "this binary is built without fabric's `local` feature, so it serves MCP over stdio only, without arguments",
            );
        }
        self.serve_stdio().await
    }

    fn describe(&self, binary: &str) -> Result<Option<AppDescription>, BoxError> {
        Ok(Some(App::single(binary, self.router()).describe()?))
    }
}

#[cfg(feature = "cli")]
impl Adapter for crate::cli::Cli {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        Err("a command line does not run on Lambda; serve the service with fabric_http or fabric_websocket there".into())
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        self.serve().await
    }
}

/// On Lambda, an app serves the function `FABRIC_FUNCTION` names, or its only one;
/// off Lambda, all of them, except that a sweep `FABRIC_FUNCTION` names runs once
/// (as [`App::serve`] does for it).
#[cfg(any(feature = "websocket", feature = "http"))]
impl Adapter for App {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        let function = match crate::env::var("FABRIC_FUNCTION") {
            Some(function) => function,
            None => match self.describe() {
                Ok(description) if description.functions.len() == 1 => {
                    description.functions[0].name.clone()
                }
                Ok(_) => fatal(&format!(
                    "the app `{}` has several functions: serve one per binary with app.serve(\"name\"), or set FABRIC_FUNCTION",
                    self.name()
                )),
                Err(err) => fatal(&err.to_string()),
            },
        };
        serve_function_on_lambda(self, &function).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        match crate::env::var("FABRIC_FUNCTION") {
            Some(function) => serve_function_locally(self, function).await,
            None => serve_app_locally(self, None).await,
        }
    }

    fn describe(&self, _binary: &str) -> Result<Option<AppDescription>, BoxError> {
        Ok(Some(App::describe(self)?))
    }
}

#[cfg(any(feature = "websocket", feature = "http"))]
impl Adapter for ServeFunction {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        let (app, function) = self.into_parts();
        serve_function_on_lambda(app, &function).await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        let (app, function) = self.into_parts();
        serve_function_locally(app, function).await
    }

    fn describe(&self, _binary: &str) -> Result<Option<AppDescription>, BoxError> {
        Ok(Some(self.app().describe()?))
    }
}
