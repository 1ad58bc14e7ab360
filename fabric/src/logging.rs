//! Fabric's log output: JSON lines on Lambda (one object per event, with the request
//! id, connection id and route key as fields), short human lines elsewhere.
//! `RUST_LOG` filters. A subscriber the application installed first wins.

/// Installs the log output once per process (default filter `info`).
///
/// ```
/// fabric::logging::init();
/// fabric::logging::init(); // a second call changes nothing
/// ```
pub fn init() {
    init_with("info");
}

/// [`init`] with `default_filter` when `RUST_LOG` is not set: the local runtime
/// keeps to its own one line per event, and `--verbose` asks for more.
pub fn init_with(default_filter: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = if crate::env::on_lambda() {
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

/// A start that cannot go on (a port in use, a bad setting, an app with a mistake):
/// one line on stderr, no backtrace, exit status 1 — on Lambda, an init error.
#[cfg_attr(
    not(any(feature = "websocket", feature = "http", feature = "deploy")),
    allow(dead_code)
)]
pub(crate) fn fatal(message: &str) -> ! {
    eprintln!("fabric: {message}");
    std::process::exit(1)
}
