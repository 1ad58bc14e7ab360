//! The process environment, read one way everywhere: a variable counts when it is
//! set and not blank, and its value is trimmed.
//!
//! ```
//! assert_eq!(fabric::env::var("FABRIC_SURELY_UNSET_FOR_THIS_EXAMPLE"), None);
//! ```

/// Whether this process runs inside AWS Lambda (`AWS_LAMBDA_RUNTIME_API` is set, as
/// the Lambda runtime sets it).
///
/// ```
/// // Tests do not run on Lambda.
/// assert_eq!(fabric::env::on_lambda(), fabric::env::var("AWS_LAMBDA_RUNTIME_API").is_some());
/// ```
pub fn on_lambda() -> bool {
    var("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// The variable `name`, trimmed; `None` when it is unset, blank or not Unicode.
///
/// ```
/// assert_eq!(fabric::env::var("FABRIC_SURELY_UNSET_FOR_THIS_EXAMPLE"), None);
/// ```
pub fn var(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The first of `names` that is set (see [`var`]).
///
/// ```
/// let region = fabric::env::first(&["AWS_REGION", "AWS_DEFAULT_REGION"]);
/// # let _ = region;
/// ```
pub fn first(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| var(name))
}

/// Whether the switch `name` is on: `1`, `true`, `yes` or `on`, in any case.
///
/// ```
/// assert!(!fabric::env::flag("FABRIC_SURELY_UNSET_FOR_THIS_EXAMPLE"));
/// ```
pub fn flag(name: &str) -> bool {
    var(name).is_some_and(|value| {
        ["1", "true", "yes", "on"]
            .iter()
            .any(|on| value.eq_ignore_ascii_case(on))
    })
}

/// The running binary's name (the file stem of the program's path, `fabric` when
/// there is none): the function a single adapter deploys as, an MCP server's
/// default name.
///
/// ```
/// assert!(!fabric::env::program_name().is_empty());
/// ```
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|first| {
            std::path::Path::new(&first)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "fabric".to_owned())
}
