// The one rule for names, written once for both crates. fabric-macros compiles this
// file as its own module (compile-time checks of aliases and `long` flags), and its
// hidden `__name_rule!()` macro pastes the same text into `fabric::names` (run-time
// checks of stages, API names, route keys). A proc-macro crate cannot export
// functions and the rule is too small for a crate of its own; this way the two can
// never drift apart. Keep it plain Rust with no dependencies and no inner (`//!`)
// docs; the `///` docs below are what fabric's rustdoc shows, and their examples run
// as fabric's doctests.

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
