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

    /// The SAM template of the Lambda function serving this adapter, for
    /// `--print-template`; `None` for adapters that do not run on Lambda.
    #[cfg(feature = "deploy")]
    fn template(&self, function: &crate::deploy::Function) -> Option<crate::deploy::Template> {
        let _ = function;
        None
    }
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
    #[cfg(feature = "deploy")]
    if let Some(request) =
        crate::deploy::print_request(std::env::args_os()).unwrap_or_else(|err| err.exit())
    {
        let template = adapter
            .template(&request.function)
            .ok_or("this adapter does not run on Lambda, so it has no template")?;
        // A closed pipe (`| head`) is the reader's choice, not an error.
        let mut stdout = std::io::stdout();
        let _ = std::io::Write::write_all(&mut stdout, template.render(request.format).as_bytes());
        return Ok(());
    }
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
    init_logging_with("info");
}

/// [`init_logging`] with `default_filter` when `RUST_LOG` is not set: the local
/// gateway uses it to keep to its own one line per event.
pub(crate) fn init_logging_with(default_filter: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
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

/// The command line of a local server: `--port` (or `FABRIC_PORT`) and `--verbose`.
/// Shared by the local HTTP server (default port 3000) and the local WebSocket
/// gateway (default port 3001), so both binaries take the same flags.
///
/// ```
/// use fabric::runtime::LocalArgs;
///
/// let args = LocalArgs::parse_from(3000, ["division-http", "--port", "8080", "-v"]).unwrap();
/// assert_eq!(args.port, 8080);
/// assert!(args.verbose);
/// let args = LocalArgs::parse_from(3001, ["chat-ws"]).unwrap();
/// assert_eq!(args.port, 3001);
/// assert!(LocalArgs::parse_from(3000, ["x", "--port", "http"]).is_err());
/// ```
#[cfg(feature = "local")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArgs {
    /// The port to listen on, on 127.0.0.1.
    pub port: u16,
    /// Whether to log at debug level (when `RUST_LOG` is not set).
    pub verbose: bool,
}

#[cfg(feature = "local")]
impl LocalArgs {
    /// The arguments of this process; prints help or a usage error and exits as clap
    /// does (code 2) when they are wrong.
    pub fn from_env(default_port: u16) -> LocalArgs {
        match LocalArgs::parse_from(default_port, std::env::args_os()) {
            Ok(args) => args,
            Err(err) => err.exit(),
        }
    }

    /// Parses `args` (the first is the program name).
    pub fn parse_from<I, T>(default_port: u16, args: I) -> Result<LocalArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{Arg, ArgAction, Command, value_parser};

        let mut args = args.into_iter().map(Into::into).peekable();
        let name = args
            .peek()
            .and_then(|first| {
                std::path::Path::new(first)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "fabric".to_owned());
        let command = Command::new(name)
            .about("Serves locally on 127.0.0.1 until Ctrl-C")
            .arg(
                Arg::new("port")
                    .long("port")
                    .short('p')
                    .env("FABRIC_PORT")
                    .value_name("port")
                    .value_parser(value_parser!(u16))
                    .default_value(default_port.to_string())
                    .help("The port to listen on"),
            )
            .arg(
                Arg::new("verbose")
                    .long("verbose")
                    .short('v')
                    .action(ArgAction::SetTrue)
                    .help("Log at debug level (RUST_LOG overrides)"),
            );
        let matches = command.try_get_matches_from(args)?;
        Ok(LocalArgs {
            port: *matches
                .get_one::<u16>("port")
                .expect("the port has a default"),
            verbose: matches.get_flag("verbose"),
        })
    }

    /// Installs logging as [`init_logging`] does, at debug level with `--verbose`.
    pub fn init_logging(&self) {
        init_logging_with(if self.verbose { "debug" } else { "info" });
    }

    /// Binds `127.0.0.1:{port}`. A port in use is a one-line error that says what to
    /// do, not a backtrace.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener, BoxError> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|err| -> BoxError {
                if err.kind() == std::io::ErrorKind::AddrInUse {
                    Box::new(LocalError(format!(
                        "port {} is already in use; stop the other server, or pass --port or set FABRIC_PORT",
                        self.port
                    )))
                } else {
                    Box::new(LocalError(format!("cannot listen on {address}: {err}")))
                }
            })
    }
}

/// A local-serving error whose `Debug` is its message, so that `main` returning it
/// prints one readable line.
#[cfg(feature = "local")]
struct LocalError(String);

#[cfg(feature = "local")]
impl std::fmt::Debug for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "local")]
impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "local")]
impl std::error::Error for LocalError {}

/// Ctrl-C, or SIGTERM where there is one: what stops a local server. The handlers
/// are in place when this returns, so a signal sent as soon as the server says it
/// is ready is not lost to the default action, which would kill the process without
/// a clean stop. When signals cannot be listened for, the future never completes
/// and the server runs until it is killed.
#[cfg(feature = "local")]
pub(crate) fn stop_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            return futures_util::future::Either::Left(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
        }
    }
    futures_util::future::Either::Right(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
