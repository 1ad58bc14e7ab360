//! Off Lambda: the local runtime. It serves a WebSocket adapter on the local
//! gateway as API Gateway would serve it, an HTTP router on a local server, or a
//! whole [app](crate::app) in one process (see `docs/ARCHITECTURE.md`).
//!
//! [`fabric::run`](crate::run) starts it when the process is not on Lambda, with
//! `--port` / `FABRIC_PORT` and the settings below; [`Gateway`] starts a gateway from
//! code, for tests and embedding. This module is the cargo feature `local` (on by
//! default); a Lambda-only build leaves it, axum and tungstenite out.
//!
//! On one port (`127.0.0.1` only) a gateway serves:
//!
//! - WebSocket upgrades at `/` and `/{stage}`: `$connect` runs first and a non-2xx
//!   answer refuses the handshake with that status; each text frame is a MESSAGE
//!   event routed by the API's route selection expression to the function serving
//!   that route key; every close, whatever its cause, is a `$disconnect` event with
//!   the close code and reason;
//! - the Management API at `/@connections/{id}` and `/{stage}/@connections/{id}`,
//!   as the AWS SDKs expect it (the functions' own posts come back here through the
//!   real SDK client, because events name the gateway as their `domainName`);
//! - a small page at `/` for a browser.
//!
//! An app's APIs listen on consecutive ports from `--port`, in the order the app
//! lists them.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `FABRIC_PORT` | 3001 (3000 when the first API is HTTP) | or `--port` |
//! | `FABRIC_STAGE` | `local` | the stage in URLs and events |
//! | `FABRIC_IDLE_TIMEOUT` | 600 | seconds without a message before closing (1001) |
//! | `FABRIC_MAX_LIFETIME` | 7200 | seconds before any connection is closed (1001) |
//! | `FABRIC_INTEGRATION_TIMEOUT` | 29 | seconds an event may take |

// Built with one transport, matches over the adapter kinds have a single arm.
#![cfg_attr(
    not(all(feature = "websocket", feature = "http")),
    allow(
        irrefutable_let_patterns,
        unreachable_patterns,
        unused_imports,
        unused_mut
    )
)]

mod args;
#[cfg(feature = "http")]
mod http;
mod parse_error;
mod serve;
#[cfg(feature = "websocket")]
mod websocket;

pub use args::LocalArgs;
#[cfg(feature = "mcp")]
pub use args::McpArgs;
pub(crate) use args::stop_signal;
#[cfg(feature = "http")]
pub use http::DEFAULT_HTTP_PORT;
#[cfg(feature = "websocket")]
pub use websocket::{
    CONSOLE_PAGE, DEFAULT_PORT, Gateway, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, RunningGateway,
};
#[cfg(all(fuzzing, feature = "websocket"))]
pub use websocket::{MemoryClient, MemoryGateway};

use crate::BoxError;
use crate::app::{App, FunctionAdapter, Plan};
use crate::describe::ApiDescription;
use crate::logging::fatal;

/// Serves a WebSocket adapter on the local gateway until Ctrl-C: what
/// [`fabric::run`](crate::run) does off Lambda. Reads `--port`/`--verbose` from the
/// command line and the `FABRIC_*` settings from the environment; a port in use or
/// a bad setting is one line on stderr and exit status 1.
///
/// ```no_run
/// # use fabric::prelude::*;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// #[tokio::main]
/// async fn main() -> Result<(), fabric::BoxError> {
///     // The same as `fabric::run(fabric_websocket(svc))` off Lambda.
///     fabric::local::serve_websocket(fabric_websocket(svc)).await
/// }
/// ```
#[cfg(feature = "websocket")]
pub async fn serve_websocket(adapter: crate::websocket::WebSocketAdapter) -> Result<(), BoxError> {
    serve_app(App::single("fabric", adapter), None).await
}

/// Serves a whole app until Ctrl-C: every function as on Lambda (its own adapter,
/// setup and state), the app's store shared. `pinned` is the function a binary of
/// the app was built for; off Lambda it runs the whole app all the same.
pub(crate) async fn serve_app(app: App, pinned: Option<String>) -> Result<(), BoxError> {
    serve_app_with(app, pinned, None).await
}

/// [`serve_app`] with the command line read already (`None`: read it here).
pub(crate) async fn serve_app_with(
    app: App,
    pinned: Option<String>,
    args: Option<LocalArgs>,
) -> Result<(), BoxError> {
    let mut plan = app.plan().unwrap_or_else(|err| fatal(&err.to_string()));
    // HTTP first, or a function on its own URL alone: the HTTP server's port.
    let first_is_http = !matches!(
        plan.description.apis.first(),
        Some(ApiDescription::WebSocket(_))
    );
    let args = args.unwrap_or_else(|| LocalArgs::from_env(if first_is_http { 3000 } else { 3001 }));
    if first_is_http
        || !plan
            .description
            .apis
            .iter()
            .any(|api| matches!(api, ApiDescription::WebSocket(_)))
    {
        args.init_logging();
    } else {
        // The gateway writes one line per event; the adapter's own lines would repeat it.
        crate::logging::init_with("info,fabric::websocket::dispatch=warn");
    }
    let several = plan.functions.len() > 1;
    if let Some(function) = &pinned {
        if plan.description.function(function).is_none() {
            fatal(&format!(
                "the app `{}` has no function `{function}`",
                plan.description.name
            ));
        }
        tracing::info!(
            target: "fabric::local",
            "{function} is one function of the app `{}`: serving the whole app",
            plan.description.name
        );
    }
    #[cfg(feature = "websocket")]
    if let Err(err) = plan.share_app_store() {
        fatal(&err.to_string());
    }
    // A broken setup fails at start, as a Lambda cold start would.
    for function in &plan.functions {
        let ready = match &function.adapter {
            #[cfg(feature = "websocket")]
            FunctionAdapter::WebSocket(adapter) => adapter.ready().await.map(drop),
            #[cfg(feature = "http")]
            FunctionAdapter::Http(router) => router.settings().ready().await.map(drop),
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        };
        if let Err(err) = ready {
            return Err(if several {
                format!("function `{}`: setup failed: {err}", function.name).into()
            } else {
                err
            });
        }
    }
    // Listening for the stop signal before any ready line: a signal sent as soon as
    // the server says it is ready must stop it cleanly.
    let stopped = stop_signal();
    let sweeps = sweeps(&plan);
    let servers = start(plan, &args).await;
    // On stdout, after the ready lines, which stay first.
    for note in sweeps {
        println!("{note}");
    }
    stopped.await;
    tokio::select! {
        () = stop(servers) => Ok(()),
        () = stop_signal() => fatal("stopped at a second Ctrl-C, without waiting for $disconnect"),
    }
}

/// One line per sweep of the app, which the local gateway does not run: here
/// every close runs `$disconnect`, so no connection goes stale, and a store shared
/// with a deployed API would lose its live connections to a sweep asking this
/// gateway about them.
fn sweeps(plan: &Plan) -> Vec<String> {
    plan.description
        .functions
        .iter()
        .filter_map(|function| match &function.serves {
            crate::describe::Serves::Sweep(sweep) => Some(format!(
                "Not run here: {name}, the sweep of API `{api}` ({schedule} on Lambda); `FABRIC_FUNCTION={name}` or its own binary runs it once",
                name = function.name,
                api = sweep.api,
                schedule = sweep.schedule(),
            )),
            _ => None,
        })
        .collect()
}

/// A running API of the app.
enum Server {
    #[cfg(feature = "websocket")]
    WebSocket(RunningGateway),
    #[cfg(feature = "http")]
    Http(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), BoxError>>,
    ),
}

/// Binds every API of the app on consecutive ports from `--port` and prints each
/// one's ready line.
async fn start(plan: Plan, args: &LocalArgs) -> Vec<Server> {
    let description = plan.description.clone();
    #[cfg(feature = "http")]
    let routers = http_routers(&plan);
    #[cfg(feature = "http")]
    let alone = lone_routers(&plan);
    #[cfg(feature = "websocket")]
    let mut gateways = websocket::gateways(plan).unwrap_or_else(|err| fatal(&err.to_string()));
    #[cfg(not(feature = "websocket"))]
    let _ = plan;
    let mut servers = Vec::new();
    for (offset, api) in description.apis.iter().enumerate() {
        let port = u16::try_from(usize::from(args.port) + offset)
            .unwrap_or_else(|_| fatal("too many APIs for the ports above --port"));
        let port_args = LocalArgs {
            port,
            ..args.clone()
        };
        match api {
            #[cfg(feature = "websocket")]
            ApiDescription::WebSocket(api) => {
                let at = gateways
                    .iter()
                    .position(|(name, _)| *name == api.name)
                    .expect("a gateway per API");
                let (_, gateway) = gateways.swap_remove(at);
                servers.push(Server::WebSocket(
                    websocket::serve(gateway, &port_args).await,
                ));
            }
            #[cfg(feature = "http")]
            ApiDescription::Http(api) => {
                let routers = routers
                    .iter()
                    .filter(|(of, _)| *of == api.name)
                    .map(|(_, r)| r.clone())
                    .collect();
                servers.push(serve_http(http::HttpApiServer::new(routers), &port_args).await);
            }
            #[allow(unreachable_patterns)]
            _ => fatal(&format!(
                "API `{}` needs a fabric feature this build lacks",
                api.name()
            )),
        }
    }
    // A function on its own function URL (outside every API) gets a port of its own.
    #[cfg(feature = "http")]
    for (offset, router) in alone.into_iter().enumerate() {
        let port = u16::try_from(usize::from(args.port) + description.apis.len() + offset)
            .unwrap_or_else(|_| fatal("too many APIs for the ports above --port"));
        let port_args = LocalArgs {
            port,
            ..args.clone()
        };
        servers.push(serve_http(http::HttpApiServer::new(vec![router]), &port_args).await);
    }
    if servers.is_empty() {
        fatal("this app has no API to serve locally");
    }
    servers
}

/// Every HTTP function outside every API: on Lambda each answers its own function
/// URL.
#[cfg(feature = "http")]
fn lone_routers(plan: &Plan) -> Vec<crate::http::HttpRouter> {
    plan.functions
        .iter()
        .filter(|function| {
            plan.description
                .function(&function.name)
                .is_some_and(|described| described.api.is_none())
        })
        .filter_map(|function| match &function.adapter {
            FunctionAdapter::Http(router) => Some(router.clone()),
            #[allow(unreachable_patterns)]
            _ => None,
        })
        .collect()
}

/// Every HTTP function's router, with the API it belongs to.
#[cfg(feature = "http")]
fn http_routers(plan: &Plan) -> Vec<(String, crate::http::HttpRouter)> {
    plan.functions
        .iter()
        .filter_map(|function| {
            let api = plan.description.function(&function.name)?.api.clone()?;
            match &function.adapter {
                FunctionAdapter::Http(router) => Some((api, router.clone())),
                #[allow(unreachable_patterns)]
                _ => None,
            }
        })
        .collect()
}

#[cfg(feature = "http")]
async fn serve_http(server: http::HttpApiServer, args: &LocalArgs) -> Server {
    let listener = args
        .bind()
        .await
        .unwrap_or_else(|err| fatal(&err.to_string()));
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("Serving HTTP on http://{address} (Ctrl-C to stop)");
    for route in server.routes() {
        tracing::debug!("route {route}");
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_on(listener, async {
        let _ = stopped.await;
        tracing::info!("shutting down");
    }));
    Server::Http(stop, task)
}

/// Stops every API: gateways close their connections (running `$disconnect`),
/// HTTP servers let open requests finish.
async fn stop(servers: Vec<Server>) {
    for server in servers {
        match server {
            #[cfg(feature = "websocket")]
            Server::WebSocket(running) => {
                tracing::info!(
                    target: "fabric::local",
                    "stopping: closing {} connection(s)",
                    running.connection_count()
                );
                running.shutdown().await;
            }
            #[cfg(feature = "http")]
            Server::Http(stop, task) => {
                let _ = stop.send(());
                let _ = task.await;
            }
        }
    }
}
