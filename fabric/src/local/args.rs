//! What every local server shares: the command line (`--port`, `--verbose`),
//! binding, and the signal that stops it.

use std::future::Future;

use crate::BoxError;

/// The command line of a local server: `--port` (or `FABRIC_PORT`) and `--verbose`.
/// Shared by the local HTTP server (default port 3000) and the local WebSocket
/// gateway (default port 3001), so both binaries take the same flags.
///
/// ```
/// use fabric::local::LocalArgs;
///
/// let args = LocalArgs::parse_from(3000, ["division-http", "--port", "8080", "-v"]).unwrap();
/// assert_eq!(args.port, 8080);
/// assert!(args.verbose);
/// let args = LocalArgs::parse_from(3001, ["chat-ws"]).unwrap();
/// assert_eq!(args.port, 3001);
/// assert!(LocalArgs::parse_from(3000, ["x", "--port", "http"]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArgs {
    /// The port to listen on, on 127.0.0.1.
    pub port: u16,
    /// Whether to log at debug level (when `RUST_LOG` is not set).
    pub verbose: bool,
}

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
        let (command, args) = LocalArgs::command(default_port, args);
        let matches = command
            .about("Serves locally on 127.0.0.1 until Ctrl-C")
            .try_get_matches_from(args)?;
        Ok(LocalArgs::from_matches(&matches))
    }

    /// The command with `--port` and `--verbose`, named after the program, and the
    /// arguments to parse with it.
    fn command<I, T>(default_port: u16, args: I) -> (clap::Command, Vec<std::ffi::OsString>)
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{Arg, ArgAction, Command, value_parser};

        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let name = crate::env::program_name(args.first().map(|first| first.as_os_str()));
        let command = Command::new(name)
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
        (command, args)
    }

    fn from_matches(matches: &clap::ArgMatches) -> LocalArgs {
        LocalArgs {
            port: *matches
                .get_one::<u16>("port")
                .expect("the port has a default"),
            verbose: matches.get_flag("verbose"),
        }
    }

    /// Installs logging as [`crate::logging::init`] does, at debug level with
    /// `--verbose`.
    pub fn init_logging(&self) {
        crate::logging::init_with(if self.verbose { "debug" } else { "info" });
    }

    /// Binds `127.0.0.1:{port}`. A port in use is a one-line error that says what to
    /// do, not a backtrace.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener, BoxError> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|err| -> BoxError { Box::new(LocalError(bind_error(self.port, &err))) })
    }
}

/// The command line of an MCP server off Lambda: stdio by default, as MCP clients
/// launch it; `--http` serves streamable HTTP on 127.0.0.1 instead, with
/// [`LocalArgs`]' `--port` (default 3000) and `--verbose`.
///
/// ```
/// use fabric::local::McpArgs;
///
/// assert!(!McpArgs::parse_from(["division-mcp"]).unwrap().http);
/// let args = McpArgs::parse_from(["division-mcp", "--http", "--port", "8080"]).unwrap();
/// assert!(args.http);
/// assert_eq!(args.local.port, 8080);
/// assert!(McpArgs::parse_from(["division-mcp", "--stdio"]).is_err());
/// ```
#[cfg(feature = "mcp")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpArgs {
    /// Whether to serve streamable HTTP rather than stdio.
    pub http: bool,
    /// The local server's flags, for `--http`.
    pub local: LocalArgs,
}

#[cfg(feature = "mcp")]
impl McpArgs {
    /// The arguments of this process; prints help or a usage error and exits as clap
    /// does (code 2) when they are wrong.
    pub fn from_env() -> McpArgs {
        McpArgs::parse_from(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// Parses `args` (the first is the program name).
    pub fn parse_from<I, T>(args: I) -> Result<McpArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let (command, args) = LocalArgs::command(super::http::DEFAULT_HTTP_PORT, args);
        let matches = command
            .about("An MCP server: over stdio, as MCP clients launch it, or with --http on 127.0.0.1 until Ctrl-C")
            .arg(
                clap::Arg::new("http")
                    .long("http")
                    .action(clap::ArgAction::SetTrue)
                    .help("Serve streamable HTTP (at /mcp) instead of stdio"),
            )
            .try_get_matches_from(args)?;
        Ok(McpArgs {
            http: matches.get_flag("http"),
            local: LocalArgs::from_matches(&matches),
        })
    }
}

/// What a person reads when a local server cannot listen on `port`.
pub(crate) fn bind_error(port: u16, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        format!("port {port} is in use: stop the other process or pass --port / FABRIC_PORT")
    } else {
        format!("cannot listen on port {port}: {err}")
    }
}

/// A local-serving error whose `Debug` is its message, so that `main` returning it
/// prints one readable line.
struct LocalError(String);

impl std::fmt::Debug for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LocalError {}

/// Ctrl-C, or SIGTERM where there is one: what stops a local server. The handlers
/// are in place when this returns, so a signal sent as soon as the server says it
/// is ready is not lost to the default action, which would kill the process without
/// a clean stop. When signals cannot be listened for, the future never completes
/// and the server runs until it is killed.
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
