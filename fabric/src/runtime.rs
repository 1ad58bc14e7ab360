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

/// The command line of a local server (the WebSocket gateway, the HTTP server):
/// `--port` (or `FABRIC_PORT`) and `--verbose`.
///
/// ```
/// use fabric::runtime::LocalArgs;
/// let args = LocalArgs::parse_from(["chat", "--port", "4000", "--verbose"], 3001).unwrap();
/// assert_eq!(args.port, 4000);
/// assert!(args.verbose);
/// let defaults = LocalArgs::parse_from(["chat"], 3001).unwrap();
/// assert_eq!(defaults.port, std::env::var("FABRIC_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001));
/// assert!(LocalArgs::parse_from(["chat", "--port", "eighty"], 3001).is_err());
/// ```
#[cfg(feature = "websocket")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArgs {
    /// The port to listen on, on 127.0.0.1.
    pub port: u16,
    /// Print each event's JSON as well as its log line.
    pub verbose: bool,
}

#[cfg(feature = "websocket")]
impl LocalArgs {
    /// Parses the process' own arguments; prints help or an error and exits on
    /// `--help` or a bad flag, as command lines do.
    pub fn parse(default_port: u16) -> LocalArgs {
        Self::command(default_port)
            .get_matches()
            .try_into()
            .unwrap_or_else(|err: clap::Error| err.exit())
    }

    /// Parses `args` (the first is the program name).
    pub fn parse_from<I, T>(args: I, default_port: u16) -> Result<LocalArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::command(default_port)
            .try_get_matches_from(args)?
            .try_into()
    }

    fn command(default_port: u16) -> clap::Command {
        use clap::{Arg, ArgAction, Command, value_parser};
        let program = std::env::args()
            .next()
            .and_then(|path| {
                std::path::Path::new(&path)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "fabric".to_owned());
        Command::new(program)
            .about("Serves a Fabric adapter on this machine")
            .arg(
                Arg::new("port")
                    .long("port")
                    .short('p')
                    .env("FABRIC_PORT")
                    .value_parser(value_parser!(u16))
                    .default_value(default_port.to_string())
                    .help("Port to listen on, on 127.0.0.1"),
            )
            .arg(
                Arg::new("verbose")
                    .long("verbose")
                    .short('v')
                    .action(ArgAction::SetTrue)
                    .help("Print each event's JSON"),
            )
    }
}

#[cfg(feature = "websocket")]
impl TryFrom<clap::ArgMatches> for LocalArgs {
    type Error = clap::Error;

    fn try_from(matches: clap::ArgMatches) -> Result<LocalArgs, clap::Error> {
        Ok(LocalArgs {
            port: *matches
                .get_one::<u16>("port")
                .expect("the port has a default"),
            verbose: matches.get_flag("verbose"),
        })
    }
}
