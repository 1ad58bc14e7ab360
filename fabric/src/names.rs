//! The one rule for names people type and Fabric turns into routes, paths, flags,
//! subcommands and resource names: service aliases, `long` flags, stages, function
//! and API names, WebSocket route keys.

// The rule's source lives in `fabric-macros/src/names.rs`, which the macros also
// compile to check aliases and `long` flags at compile time; this pastes the same
// text here, so the compile-time and the run-time checks are one rule.
fabric_macros::__name_rule!();
