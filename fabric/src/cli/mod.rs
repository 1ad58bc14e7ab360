//! Serving services from a command line: flags from the input's fields, the result
//! as JSON on stdout, messages and errors on stderr, and an exit code.
//!
//! ```no_run
//! use fabric::prelude::*;
//!
//! /// Two numbers to divide.
//! #[derive(Deserialize, Input)]
//! struct DivisionInput {
//!     /// The number to divide
//!     #[input(default = 12, short = 'n')]
//!     numerator: f64,
//!     /// The number to divide by
//!     #[input(default = 3)]
//!     denominator: f64,
//! }
//!
//! #[fabric_service(alias = "division", description = "Divide two numbers")]
//! async fn division(input: DivisionInput, _ctx: Context) -> Result<f64, Error> {
//!     Ok(input.numerator / input.denominator)
//! }
//!
//! // division --numerator 14 --denominator 7   → 2.0
//! // division --json '{"numerator": 14}'       → 4.666…
//! // echo '{"denominator": 2}' | division -    → 6.0
//! #[tokio::main]
//! async fn main() -> Result<(), fabric::BoxError> {
//!     fabric::run(fabric_cli(division)).await
//! }
//! ```
//!
//! # Flags
//!
//! Each input field is a `--kebab-case` flag (or the field's `#[input(long = ..)]`),
//! with its `#[input(short = ..)]` letter, its doc comment as help and its default
//! shown. Required fields read `--name <text>`, optional ones `--name [<text>]` (given
//! empty, an optional flag means "no value"). Booleans are switches, `--shout` and
//! `--no-shout`; a `bool` that is given neither way is `false`, an `Option<bool>`
//! stays unset. Lists take repeated flags, comma-separated values, or both
//! (`--tag a --tag b,c`). Choices are listed in the help and checked.
//!
//! The input can also come whole, as `--json '{...}'` or as JSON on standard input
//! (`-`, or `--json -`); flags override its fields. The values go through the same
//! coercion and validation as on every transport.
//!
//! # Output
//!
//! The result is printed to stdout as JSON (pretty on a terminal, compact
//! otherwise; nothing for `()`). Messages from `send_message` are JSON lines on
//! stderr. An error prints `error: <title>: <detail>` lines on stderr and exits with
//! 2 for a 4xx and 1 for a 5xx; usage errors exit with 2, as clap's do. The person
//! running a command owns the process, so server error details are shown in full
//! unless [`Cli::scrub_errors`] says otherwise.
//!
//! `--verbose` logs at debug level on stderr (unless a field takes the name), where a
//! command with [metrics](Cli::metrics) on shows them, one line per command.

mod flags;

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;

use clap::{Arg, ArgMatches, Command};
use serde_json::{Map, Value};

use crate::layer::Transport;
use crate::metrics::{Invocation, Metrics, Stream};
use crate::settings::{AdapterSettings, Ready, adapter_settings_methods};
use crate::{BoxError, Context, Error, MessageSink, Output, Service, State};

/// A command line for one service (flags only) or several (one subcommand each).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// struct Name {
///     /// Who to greet
///     name: String,
/// }
///
/// /// Says hello.
/// #[fabric_service(alias = "hello")]
/// async fn hello(input: Name, _ctx: Context) -> Result<String, Error> {
///     Ok(format!("Hello, {}!", input.name))
/// }
///
/// /// Says goodbye.
/// #[fabric_service(alias = "bye")]
/// async fn bye(input: Name, _ctx: Context) -> Result<String, Error> {
///     Ok(format!("Goodbye, {}!", input.name))
/// }
///
/// let cli = Cli::new("greetings").about("Greets people").service(hello).service(bye);
/// let help = cli.command().render_help().to_string();
/// assert!(help.contains("hello") && help.contains("Says goodbye."));
/// assert_eq!(cli.run_from(["greetings", "hello", "--name", "Ada"]).await, 0);
/// assert_eq!(cli.run_from(["greetings", "bye"]).await, 2); // Missing required field "name"
/// # })
/// ```
#[derive(Clone)]
pub struct Cli {
    name: Option<String>,
    about: Option<String>,
    version: Option<String>,
    services: Vec<Arc<dyn Service>>,
    subcommands: bool,
    settings: AdapterSettings,
}

adapter_settings_methods!(Cli, "fabric_cli(svc)");

/// A command line for `service` alone: its input's fields are the flags.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fabric::prelude::*;
///
/// #[derive(Deserialize, Input)]
/// struct Count {
///     /// Where to start
///     #[input(default = 1)]
///     from: u32,
/// }
///
/// #[fabric_service(alias = "count")]
/// async fn count(input: Count, _ctx: Context) -> Result<Vec<u32>, Error> {
///     Ok((input.from..input.from + 3).collect())
/// }
///
/// let cli = fabric_cli(count);
/// assert!(cli.command().render_help().to_string().contains("--from [<integer>]"));
/// assert_eq!(cli.run_from(["count", "--from", "7"]).await, 0);
/// assert_eq!(cli.run_from(["count", "--from", "seven"]).await, 2);
/// # })
/// ```
pub fn fabric_cli(service: impl Service) -> Cli {
    Cli {
        name: None,
        about: None,
        version: None,
        services: vec![Arc::new(service)],
        subcommands: false,
        settings: AdapterSettings::new(false),
    }
}

impl Cli {
    /// A command line named `name` with one subcommand per service; add them with
    /// [`Cli::service`].
    pub fn new(name: impl Into<String>) -> Cli {
        Cli {
            name: Some(name.into()),
            about: None,
            version: None,
            services: Vec::new(),
            subcommands: true,
            settings: AdapterSettings::new(false),
        }
    }

    /// Adds a service as the subcommand named by its alias. A command line made by
    /// [`fabric_cli`] gets subcommands from here on, its first service included.
    ///
    /// # Panics
    ///
    /// When a service with the same alias is already there.
    pub fn service(mut self, service: impl Service) -> Cli {
        assert!(
            self.services.iter().all(|s| s.alias() != service.alias()),
            "two services are named {:?}",
            service.alias()
        );
        self.services.push(Arc::new(service));
        self.subcommands = true;
        self
    }

    /// The text under the usage line (default: the service's description).
    pub fn about(mut self, about: impl Into<String>) -> Cli {
        self.about = Some(about.into());
        self
    }

    /// Adds `--version`, printing this.
    pub fn version(mut self, version: impl Into<String>) -> Cli {
        self.version = Some(version.into());
        self
    }

    /// The settings shared with the other adapters.
    pub fn settings(&self) -> &AdapterSettings {
        &self.settings
    }

    fn with_settings(mut self, change: impl FnOnce(AdapterSettings) -> AdapterSettings) -> Self {
        self.settings = change(self.settings);
        self
    }

    /// The clap command: for shell completions, man pages, or a look at the help.
    pub fn command(&self) -> Command {
        let mut command = if self.subcommands {
            let mut command = Command::new(self.name.clone().unwrap_or_else(|| "fabric".into()))
                .subcommand_required(true)
                .arg_required_else_help(true);
            for service in &self.services {
                command = command.subcommand(service_command(service.as_ref()));
            }
            command
        } else {
            let service = self.services[0].as_ref();
            let mut command = service_command(service);
            if let Some(name) = &self.name {
                command = command.name(name.clone());
            }
            command
        };
        if let Some(about) = &self.about {
            command = command.about(about.clone());
        }
        if let Some(version) = &self.version {
            command = command.version(version.clone());
        }
        command
    }

    /// Runs one command line (`args[0]` is the program name): prints the result or
    /// the error, and returns the exit code: 0, 2 for a 4xx or a usage error, 1 for a
    /// 5xx.
    pub async fn run_from<I, T>(&self, args: I) -> i32
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = match self.command().try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(err) => {
                let _ = err.print();
                return err.exit_code();
            }
        };
        let (service, matches) = if self.subcommands {
            let (alias, matches) = matches.subcommand().expect("clap requires a subcommand");
            let service = self
                .services
                .iter()
                .find(|s| s.alias() == alias)
                .expect("subcommands are the aliases");
            (service, matches)
        } else {
            (&self.services[0], &matches)
        };
        if matches.try_get_one::<bool>(VERBOSE).ok().flatten() == Some(&true) {
            crate::logging::init_with("debug");
        }
        let request_id = format!("cli-{}", std::process::id());
        let ready = self.settings.ready().await;
        let invocation = ready
            .as_ref()
            .ok()
            .and_then(|ready| ready.metrics())
            .map(|metrics| Invocation::start(metrics, service.alias(), "cli", &request_id));
        let result = match (ready, raw_input(service.input(), matches)) {
            (Err(err), _) => Err(Error::internal_message(format!("setup failed: {err}"))),
            (Ok(ready), _) if ready.unavailable() => Err(Ready::unavailable_error()),
            (Ok(ready), Ok(raw)) => {
                let metrics = invocation.as_ref().map(|i| i.metrics.clone());
                let ctx = context(request_id, ready.state(), metrics);
                let layers = self.settings.layers();
                let route = service.alias();
                layers.call(service, route, Transport::Cli, raw, ctx).await
            }
            (Ok(_), Err(err)) => Err(err),
        };
        let status = result.as_ref().map_or_else(Error::status, |_| 200);
        let code = match result {
            Ok(output) => {
                print_output(&output);
                0
            }
            Err(err) => {
                print_error(&err, self.settings.scrub_errors());
                if err.kind().is_server_error() { 1 } else { 2 }
            }
        };
        // After the output, and never on stdout: that is the command's result.
        if let Some(invocation) = invocation {
            invocation.end(status, true, Stream::Stderr);
        }
        code
    }

    /// Runs the command line of this process and exits with its code: what
    /// [`fabric::run`](crate::run) does (anywhere but on Lambda).
    pub async fn serve(self) -> Result<(), BoxError> {
        if crate::env::var("RUST_LOG").is_some() {
            crate::logging::init();
        }
        let code = self.run_from(std::env::args_os()).await;
        let _ = std::io::stdout().flush();
        if code != 0 {
            std::process::exit(code);
        }
        Ok(())
    }
}

fn context(request_id: String, state: &State, metrics: Option<Metrics>) -> Context {
    let builder = Context::builder(request_id)
        .sink(Stderr)
        .state(state.clone());
    match metrics {
        Some(metrics) => builder.extension(metrics),
        None => builder,
    }
    .build()
}

/// The id of the `--verbose` switch, which a field named `verbose` takes over.
const VERBOSE: &str = "fabric:verbose";

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let aliases: Vec<&str> = self.services.iter().map(|s| s.alias()).collect();
        f.debug_struct("Cli")
            .field("name", &self.name)
            .field("services", &aliases)
            .field("subcommands", &self.subcommands)
            .finish_non_exhaustive()
    }
}

/// The command of one service: its flags, `--json` and `-`.
fn service_command(service: &dyn Service) -> Command {
    let command = Command::new(service.alias().to_owned())
        .about(service.description().to_owned())
        .arg(
            Arg::new("json")
                .long("json")
                .value_name("json")
                .help("The whole input as a JSON object (`-` reads it from standard input); flags override its fields"),
        )
        .arg(
            Arg::new("stdin")
                .value_name("-")
                .value_parser(["-"])
                .hide_possible_values(true)
                .conflicts_with("json")
                .help("Read the input as a JSON object from standard input"),
        );
    let verbose_taken = service
        .input()
        .fields
        .iter()
        .any(|field| field.long.unwrap_or(field.name) == "verbose");
    let command = if verbose_taken {
        command
    } else {
        command.arg(
            Arg::new(VERBOSE)
                .long("verbose")
                .action(clap::ArgAction::SetTrue)
                .help("Log more on standard error, the metrics included"),
        )
    };
    flags::add_flags(command, service.input())
}

/// `--json` or stdin, then the flags over it.
fn raw_input(shape: &crate::input::Shape, matches: &ArgMatches) -> Result<Value, Error> {
    let json = match matches.get_one::<String>("json").map(String::as_str) {
        Some("-") => Some(("standard input", read_stdin()?)),
        Some(text) => Some(("--json", text.to_owned())),
        None if matches.get_one::<String>("stdin").is_some() => {
            Some(("standard input", read_stdin()?))
        }
        None => None,
    };
    let mut input = match json {
        None => Map::new(),
        Some((from, text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => {
                return Err(Error::bad_request(format!(
                    "The input on {from} must be a JSON object"
                )));
            }
            Err(err) => {
                return Err(Error::bad_request(format!(
                    "The input on {from} is not valid JSON: {err}"
                )));
            }
        },
    };
    input.extend(flags::flag_input(shape, matches));
    flags::switches_off(shape, &mut input);
    Ok(Value::Object(input))
}

fn read_stdin() -> Result<String, Error> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|err| Error::bad_request(format!("Could not read standard input: {err}")))?;
    Ok(text)
}

fn print_output(output: &Output) {
    let Some(json) = output.json() else {
        return;
    };
    let mut stdout = std::io::stdout().lock();
    let text = if stdout.is_terminal() {
        serde_json::to_string_pretty(&output.to_value()).unwrap_or_else(|_| json.to_owned())
    } else {
        json.to_owned()
    };
    let _ = writeln!(stdout, "{text}");
}

fn print_error(err: &Error, scrub: bool) {
    if err.kind().is_server_error() {
        tracing::error!(error = %err, cause = ?std::error::Error::source(err), "command failed");
    }
    let mut stderr = std::io::stderr().lock();
    for object in err.envelope(scrub).errors {
        let _ = writeln!(stderr, "error: {}: {}", object.title, object.detail);
    }
}

/// `send_message` on a command line: one JSON line on stderr per message.
struct Stderr;

#[async_trait::async_trait]
impl MessageSink for Stderr {
    async fn send(&self, message: String) -> Result<(), Error> {
        let mut stderr = std::io::stderr().lock();
        writeln!(stderr, "{message}").map_err(Error::internal)
    }
}
