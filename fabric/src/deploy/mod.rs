//! Infrastructure from code: an AWS SAM template written from the application's
//! description (see [`crate::describe`]), so the API Gateway routes, the route
//! selection expression, the `ManageConnections` permission and the connection
//! tables always match what the code serves. This module reads only that plain
//! data, never the adapters.
//!
//! Every binary served with [`fabric::run`](crate::run) prints its own template:
//!
//! ```sh
//! cargo run --bin chat -- --print-template > template.yaml
//! cargo run --bin chat -- --print-template --format json
//! ```
//!
//! Several functions go into one template as one [app](crate::app::App):
//!
//! ```
//! use fabric::app::App;
//! use fabric::deploy::{BuildOptions, Template};
//! use fabric::prelude::*;
//! # #[derive(Deserialize, Input)] struct In {}
//! # #[fabric_service] async fn chat(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
//! # #[fabric_service] async fn division(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
//!
//! let app = App::new("ChatAndDivision")
//!     .websocket_api("Chat", |api| api.handler("chat"))
//!     .http_api("Division", |api| api.handler("division-http"))
//!     .function("chat", fabric_websocket(chat))
//!     .function("division-http", fabric::fabric_http(division));
//! let template = Template::from_app(&app.describe().unwrap(), &BuildOptions::default());
//! let yaml = template.to_yaml();
//! assert!(yaml.contains("ProtocolType: WEBSOCKET"));
//! assert!(yaml.contains("AWS::Serverless::HttpApi"));
//! ```

// Without a transport there is nothing to deploy, and the WebSocket parts go
// unused in an HTTP-only build; the builders stay for the API.
#![cfg_attr(
    not(all(feature = "websocket", feature = "http")),
    allow(dead_code, unused_imports)
)]

mod function;
mod http;
mod resource;
mod secrets;
#[cfg(feature = "websocket")]
mod sweep;
#[cfg(feature = "websocket")]
mod tables;
mod template;
#[cfg(feature = "websocket")]
mod websocket;

pub use function::{Architecture, BuildOptions};
#[cfg(feature = "websocket")]
pub use sweep::SweepFunction;
pub use template::{Format, Template};

/// What `--print-template` asked for: the format, the running binary (the function
/// a single adapter is deployed as) and how the functions are built.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintRequest {
    /// YAML (default) or JSON.
    pub format: Format,
    /// The running binary's name.
    pub binary: String,
    /// Where the code is and which processor it runs on.
    pub build: BuildOptions,
}

/// Reads `--print-template [--format yaml|json] [--code-uri DIR] [--architecture
/// arm64|x86_64]` from a command line; `None` when `--print-template` is absent.
///
/// ```
/// use fabric::deploy::{Architecture, Format, print_request};
/// let request = print_request(["/target/debug/chat", "--print-template", "--format", "json"]).unwrap().unwrap();
/// assert_eq!(request.format, Format::Json);
/// assert_eq!(request.binary, "chat");
/// assert_eq!(request.build.architecture, Architecture::Arm64);
/// assert!(print_request(["chat", "--port", "4000"]).unwrap().is_none());
/// assert!(print_request(["chat", "--print-template", "--format", "toml"]).is_err());
/// ```
pub fn print_request<I, T>(args: I) -> Result<Option<PrintRequest>, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{Arg, ArgAction, Command, value_parser};

    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    if !args.iter().any(|arg| arg == "--print-template") {
        return Ok(None);
    }
    let binary = crate::env::program_name(args.first().map(|first| first.as_os_str()));
    let matches = Command::new(binary.clone())
        .about("Prints the AWS SAM template of this function's application")
        .arg(Arg::new("print-template").long("print-template").action(ArgAction::SetTrue))
        .arg(
            Arg::new("format")
                .long("format")
                .value_parser(["yaml", "json"])
                .default_value("yaml")
                .help("Template format"),
        )
        .arg(
            Arg::new("code-uri")
                .long("code-uri")
                .default_value(".")
                .help("The directory with the Cargo.toml that builds this binary, relative to the template"),
        )
        .arg(
            Arg::new("architecture")
                .long("architecture")
                .value_parser(value_parser!(Architecture))
                .default_value("arm64")
                .help("The Lambda architecture"),
        )
        .try_get_matches_from(args)?;
    let format = match matches.get_one::<String>("format").map(String::as_str) {
        Some("json") => Format::Json,
        _ => Format::Yaml,
    };
    let build = BuildOptions::default()
        .code_uri(
            matches
                .get_one::<String>("code-uri")
                .expect("has a default"),
        )
        .architecture(
            *matches
                .get_one::<Architecture>("architecture")
                .expect("has a default"),
        );
    Ok(Some(PrintRequest {
        format,
        binary,
        build,
    }))
}
