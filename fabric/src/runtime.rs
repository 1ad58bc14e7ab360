//! Where an adapter runs: on AWS Lambda, or on a laptop.
//!
//! [`run`] picks Lambda when `AWS_LAMBDA_RUNTIME_API` is set (the Lambda runtime
//! sets it), and the adapter's local form otherwise: the local WebSocket gateway,
//! the local HTTP server, or the command line.

use std::future::Future;

use crate::BoxError;

/// Something [`run`] can serve: an adapter built with `fabric_websocket`,
/// `fabric_http` or `fabric_cli`.
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
}

/// Whether this process runs inside AWS Lambda.
///
/// ```
/// // Tests do not run on Lambda.
/// assert!(!fabric::runtime::on_lambda() || std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some());
/// ```
pub fn on_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serves `adapter` on Lambda when `AWS_LAMBDA_RUNTIME_API` is set, and locally
/// otherwise. One binary, both places.
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
    if on_lambda() {
        adapter.serve_lambda().await
    } else {
        adapter.serve_local().await
    }
}

/// Installs Fabric's log output once per process: JSON lines on Lambda (one object per
/// event, with the request id, connection id and route key as fields), and short
/// human lines on a terminal elsewhere. `RUST_LOG` filters (default `info`). A
/// subscriber installed earlier by the application wins.
///
/// ```
/// fabric::runtime::init_logging();
/// fabric::runtime::init_logging(); // a second call changes nothing
/// ```
pub fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = if on_lambda() {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_ansi(false)
            .try_init()
    } else {
        builder
            .compact()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    // An application that set up its own subscriber keeps it.
    let _ = installed;
}
