//! Command-line flags from an input [`Shape`], and the raw input they give.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Map, Value};

use crate::input::{Field, Kind, Shape};

/// The id of the flag for `field`; prefixed so no field can clash with `--json`.
fn id(field: &Field) -> String {
    format!("field:{}", field.name)
}

fn negated_id(field: &Field) -> String {
    format!("no:{}", field.name)
}

/// The field's long flag: `#[derive(Input)]` sets it (the kebab-case name, or the
/// field's `#[input(long = ..)]`); a hand-built field uses its wire name.
fn long_name(field: &Field) -> &'static str {
    field.long.unwrap_or(field.name)
}

/// What a flag's value looks like, for `--count <integer>`.
fn value_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Bool => "bool",
        Kind::Integer { .. } => "integer",
        Kind::Float => "number",
        Kind::String => "text",
        Kind::DateTime => "date-time",
        Kind::Choice(_) => "choice",
        Kind::List(item) | Kind::Optional(item) => value_name(item),
        Kind::Map(_) | Kind::Object(_) | Kind::Any => "json",
    }
}

/// A default as it reads on a command line: `12`, `general`, `a,b`.
fn default_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        // `12`, not `12.0`, for a float field's whole default.
        Value::Number(number)
            if number
                .as_f64()
                .is_some_and(|n| n.fract() == 0.0 && n.abs() < 1e15) =>
        {
            format!("{}", number.as_f64().unwrap_or_default() as i64)
        }
        Value::Array(items) => items.iter().map(default_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn help_text(field: &Field) -> String {
    let mut help = field.description.unwrap_or_default().replace('\n', " ");
    let shown = |default: &&Value| match default {
        Value::Array(items) => !items.is_empty(),
        Value::String(text) => !text.is_empty(),
        Value::Null => false,
        _ => true,
    };
    if let Some(default) = field.default.as_ref().filter(shown) {
        if !help.is_empty() {
            help.push(' ');
        }
        help.push_str(&format!("[default: {}]", default_text(default)));
    }
    help
}

/// Flags the command line has itself.
const RESERVED_LONG: [&str; 3] = ["json", "help", "version"];

/// The flags of every field of `shape`, added to `command`.
pub(super) fn add_flags(mut command: Command, shape: &Shape) -> Command {
    for field in &shape.fields {
        let long = long_name(field);
        assert!(
            !RESERVED_LONG.contains(&long) && field.short != Some('h'),
            "the field `{}` of `{}` would take the command line's own --{long} or -h; \
             name its flag with #[input(long = \"..\", short = '..')]",
            field.name,
            shape.name,
        );
        let mut arg = Arg::new(id(field)).long(long).help(help_text(field));
        if let Some(short) = field.short {
            arg = arg.short(short);
        }
        let kind = field.kind.inner();
        if matches!(kind, Kind::Bool) {
            command = command.arg(
                arg.action(ArgAction::SetTrue)
                    .overrides_with(negated_id(field)),
            );
            command = command.arg(
                Arg::new(negated_id(field))
                    .long(format!("no-{long}"))
                    .action(ArgAction::SetTrue)
                    .overrides_with(id(field))
                    .help(format!("Sets --{long} to false")),
            );
            continue;
        }
        arg = arg.value_name(value_name(kind));
        if let Kind::List(_) = kind {
            arg = arg.action(ArgAction::Append).value_delimiter(',');
        } else {
            arg = arg.action(ArgAction::Set);
        }
        let scalar = match kind {
            Kind::List(item) => item.inner(),
            other => other,
        };
        match scalar {
            Kind::Choice(choices) => {
                let values = choices.iter().map(|choice| {
                    let value = PossibleValue::new(choice.name);
                    match choice.description {
                        Some(description) => value.help(description),
                        None => value,
                    }
                });
                arg = arg.value_parser(PossibleValuesParser::new(values));
            }
            Kind::Integer { .. } | Kind::Float => arg = arg.allow_negative_numbers(true),
            _ => {}
        }
        if !field.required {
            // `--nickname [<text>]`: an optional field may be given empty, which means
            // "no value", as "" does everywhere else.
            arg = arg.num_args(0..=1).default_missing_value("");
        }
        command = command.arg(arg);
    }
    command
}

/// The fields given as flags, as raw input.
pub(super) fn flag_input(shape: &Shape, matches: &ArgMatches) -> Map<String, Value> {
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut input = Map::new();
    for field in &shape.fields {
        let id = id(field);
        let value = match field.kind.inner() {
            Kind::Bool => {
                if given(&id) {
                    Value::Bool(true)
                } else if given(&negated_id(field)) {
                    Value::Bool(false)
                } else {
                    continue;
                }
            }
            _ if !given(&id) => continue,
            Kind::List(item) => {
                let values = matches.get_many::<String>(&id).into_iter().flatten();
                Value::Array(
                    values
                        .filter(|value| !value.is_empty())
                        .map(|value| text_value(item, value))
                        .collect(),
                )
            }
            kind => match matches.get_one::<String>(&id) {
                Some(value) => text_value(kind, value),
                None => continue,
            },
        };
        input.insert(field.name.to_owned(), value);
    }
    input
}

/// A flag's text as raw input: JSON for structured kinds, text for the rest (which
/// coercion turns into numbers, dates, ...).
fn text_value(kind: &Kind, text: &str) -> Value {
    match kind.inner() {
        Kind::Map(_) | Kind::Object(_) | Kind::Any => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

/// Switches that were not given are off: a required `bool` absent from the flags and
/// from `--json` is `false`, as a command line reads.
pub(super) fn switches_off(shape: &Shape, input: &mut Map<String, Value>) {
    for field in &shape.fields {
        if field.required && matches!(field.kind, Kind::Bool) && !input.contains_key(field.name) {
            input.insert(field.name.to_owned(), Value::Bool(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "the field `json` of `Odd` would take the command line's own --json")]
    fn a_field_named_like_a_built_in_flag_is_refused_clearly() {
        let shape = Shape {
            name: "Odd",
            description: None,
            fields: vec![Field::new("json", Kind::String)],
        };
        add_flags(Command::new("odd"), &shape);
    }

    #[test]
    fn defaults_read_as_command_line_text() {
        assert_eq!(default_text(&serde_json::json!("general")), "general");
        assert_eq!(default_text(&serde_json::json!(12)), "12");
        assert_eq!(default_text(&serde_json::json!(12.0)), "12");
        assert_eq!(default_text(&serde_json::json!(0.5)), "0.5");
        assert_eq!(default_text(&serde_json::json!(["a", 2])), "a,2");
    }
}
