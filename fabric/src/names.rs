//! The one rule for names people type and Fabric turns into routes, paths, flags,
//! subcommands and resource names: service aliases, `long` flags, stages, function
//! and API names, WebSocket route keys.

/// The longest name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Checks `name` against the rule: 1 to 64 ASCII letters, digits, `-` and `_`,
/// starting with a letter or a digit. `what` names the thing in the message.
///
/// ```
/// use fabric::names::check_name;
/// assert!(check_name("alias", "send-message").is_ok());
/// assert_eq!(
///     check_name("stage", "my stage").unwrap_err(),
///     "the stage `my stage` must be letters, digits, `-` and `_`, starting with a letter or digit (at most 64)"
/// );
/// ```
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let valid = name.len() <= MAX_NAME_BYTES
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the {what} `{name}` must be letters, digits, `-` and `_`, starting with a letter or digit (at most {MAX_NAME_BYTES})"
        ))
    }
}
