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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt, registry};

    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| value.parse::<tracing_subscriber::filter::Targets>().is_ok())
        .unwrap_or_else(|| default_filter.to_owned());
    let installed = if crate::env::on_lambda() {
        let layer = fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .with_filter(filter(&directives));
        registry().with(layer).try_init()
    } else {
        let layer = fmt::layer()
            .compact()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .with_filter(filter(&directives));
        registry().with(layer).try_init()
    };
    // An application that set up its own subscriber keeps it.
    let _ = installed;
}

/// The AWS SDK's own targets, capped at DEBUG: at TRACE they print request and
/// response bodies, and a `GetSecretValue` body holds the secret's value.
/// Prefixes: `aws_smithy_` covers `aws_smithy_runtime` and `aws_smithy_http_client`.
const SDK_TARGETS: [&str; 3] = ["aws_smithy_", "aws_sdk_", "aws_config"];

/// Fabric's log filter: `directives` as `RUST_LOG` reads them (`info`,
/// `fabric=trace`, ...), with the AWS SDK's own logs (`aws_smithy_runtime`,
/// `aws_smithy_http_client`, `aws_sdk_*`) never above DEBUG, whatever the directives
/// ask. A directive that does not parse is left out, as `RUST_LOG` would.
///
/// The directives are targets and levels; a span or field filter
/// (`target[span{field=value}]=level`) selects nothing: reading those takes a
/// regular-expression engine, 150 KB in every Lambda function for a filter nobody
/// sets there.
///
/// Use it on a layer of your own subscriber to keep the same guarantee:
///
/// ```
/// use tracing_subscriber::{Layer, fmt, layer::SubscriberExt};
/// let subscriber = tracing_subscriber::registry()
///     .with(fmt::layer().with_filter(fabric::logging::filter("trace")));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::trace!(target: "aws_smithy_runtime::client", "not written");
///     tracing::trace!("written");
/// });
/// ```
pub fn filter<S>(
    directives: &str,
) -> impl tracing_subscriber::layer::Filter<S> + Send + Sync + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};

    let requested = requested(directives);
    let cap = SDK_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |cap, target| cap.with_target(*target, LevelFilter::DEBUG),
    );
    requested.and(cap)
}

/// The targets and levels `directives` ask for, ERROR when they name no level; each
/// directive is read alone, so one that does not parse is left out.
fn requested(directives: &str) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};

    let mut requested = Targets::new().with_default(LevelFilter::ERROR);
    for directive in directives.split(',').map(str::trim) {
        let Ok(parsed) = directive.parse::<Targets>() else {
            continue;
        };
        if let Some(level) = parsed.default_level() {
            requested = requested.with_default(level);
        }
        requested = requested.with_targets(
            parsed
                .iter()
                .map(|(target, level)| (target.to_owned(), level)),
        );
    }
    requested
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

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::requested;

    #[test]
    fn directives_read_as_rust_log_reads_them() {
        let filter = requested("warn,fabric=debug,fabric::local=trace");
        assert!(filter.would_enable("fabric::websocket", &Level::DEBUG));
        assert!(!filter.would_enable("fabric::websocket", &Level::TRACE));
        assert!(filter.would_enable("fabric::local::serve", &Level::TRACE));
        assert!(filter.would_enable("hyper", &Level::WARN));
        assert!(!filter.would_enable("hyper", &Level::INFO));
    }

    #[test]
    fn a_directive_that_does_not_parse_is_left_out() {
        // `fabric=loud` does not parse; a span filter selects nothing.
        let filter = requested("fabric=loud,fabric[span]=debug,info");
        assert!(filter.would_enable("fabric", &Level::INFO));
        assert!(!filter.would_enable("fabric", &Level::DEBUG));
        let nothing = requested("");
        assert!(nothing.would_enable("fabric", &Level::ERROR));
        assert!(!nothing.would_enable("fabric", &Level::WARN));
    }
}
