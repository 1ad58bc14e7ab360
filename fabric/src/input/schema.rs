//! JSON Schema (draft 2020-12) of an input, from its [`Shape`].

use serde_json::{Map, Value, json};

use super::{Field, Kind, Rules, Shape};

/// Integers beyond this lose precision in JavaScript clients, so their type bounds
/// are left out of the schema.
const SAFE_INTEGER: i128 = (1 << 53) - 1;

impl Shape {
    /// The JSON Schema of the input: types, required fields, choices, defaults,
    /// descriptions and the limits of `validator` rules.
    ///
    /// ```
    /// use fabric::prelude::*;
    ///
    /// #[derive(Deserialize, Validate, Input)]
    /// struct Search {
    ///     /// Words to look for
    ///     #[validate(length(min = 1, max = 64))]
    ///     query: String,
    ///     #[input(default = 10)]
    ///     #[validate(range(max = 50))]
    ///     limit: u16,
    /// }
    ///
    /// let schema = Search::shape().json_schema();
    /// assert_eq!(schema["required"], json!(["query"]));
    /// assert_eq!(schema["properties"]["query"]["maxLength"], json!(64));
    /// assert_eq!(schema["properties"]["query"]["description"], json!("Words to look for"));
    /// assert_eq!(schema["properties"]["limit"]["default"], json!(10));
    /// assert_eq!(schema["properties"]["limit"]["maximum"], json!(50.0));
    /// ```
    pub fn json_schema(&self) -> Value {
        let mut schema = Map::new();
        schema.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        schema.insert("title".into(), json!(self.name));
        schema.extend(object_schema(self, Limits::Kept));
        Value::Object(schema)
    }
}

impl Kind {
    /// The JSON Schema of a service's result of this kind: its types, fields and
    /// descriptions, without the input's `validator` limits (a service's output is
    /// never validated, so a limit would be a promise nothing keeps). `None` for
    /// [`Kind::Any`], which says nothing.
    ///
    /// ```
    /// use fabric::input::{InputType, Kind};
    /// use serde_json::json;
    /// assert_eq!(<f64 as InputType>::kind().output_schema(), Some(json!({"type": "number"})));
    /// assert_eq!(Kind::Any.output_schema(), None);
    /// ```
    pub fn output_schema(&self) -> Option<Value> {
        match self {
            Kind::Any => None,
            kind => Some(Value::Object(kind_schema(kind, Limits::Dropped))),
        }
    }
}

/// Whether a schema carries the `validator` limits: inputs do, outputs do not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limits {
    Kept,
    Dropped,
}

fn object_schema(shape: &Shape, limits: Limits) -> Map<String, Value> {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    if let Some(description) = shape.description {
        schema.insert("description".into(), json!(description));
    }
    let properties: Map<String, Value> = shape
        .fields
        .iter()
        .map(|field| {
            (
                field.name.to_owned(),
                Value::Object(field_schema(field, limits)),
            )
        })
        .collect();
    schema.insert("properties".into(), Value::Object(properties));
    let required: Vec<&str> = shape
        .fields
        .iter()
        .filter(|field| field.required)
        .map(|field| field.name)
        .collect();
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema
}

fn field_schema(field: &Field, limits: Limits) -> Map<String, Value> {
    let mut schema = kind_schema(&field.kind, limits);
    if limits == Limits::Kept {
        apply_rules(&mut schema, &field.rules, field.kind.inner());
    }
    if let Some(description) = field.description {
        schema.insert("description".into(), json!(description));
    }
    if let Some(default) = &field.default {
        schema.insert("default".into(), default.clone());
    }
    schema
}

fn kind_schema(kind: &Kind, limits: Limits) -> Map<String, Value> {
    let mut schema = Map::new();
    match kind {
        Kind::Bool => {
            schema.insert("type".into(), json!("boolean"));
        }
        Kind::Integer { min, max } => {
            schema.insert("type".into(), json!("integer"));
            if min.abs() <= SAFE_INTEGER {
                schema.insert("minimum".into(), json!(*min as i64));
            }
            if *max <= SAFE_INTEGER {
                schema.insert("maximum".into(), json!(*max as i64));
            }
        }
        Kind::Float => {
            schema.insert("type".into(), json!("number"));
        }
        Kind::String => {
            schema.insert("type".into(), json!("string"));
        }
        Kind::DateTime => {
            schema.insert("type".into(), json!("string"));
            schema.insert("format".into(), json!("date-time"));
        }
        Kind::Choice(choices) => {
            schema.insert("type".into(), json!("string"));
            let names: Vec<&str> = choices.iter().map(|c| c.name).collect();
            schema.insert("enum".into(), json!(names));
        }
        Kind::List(item) => {
            schema.insert("type".into(), json!("array"));
            schema.insert("items".into(), Value::Object(kind_schema(item, limits)));
        }
        Kind::Map(value) => {
            schema.insert("type".into(), json!("object"));
            schema.insert(
                "additionalProperties".into(),
                Value::Object(kind_schema(value, limits)),
            );
        }
        Kind::Optional(inner) => {
            schema = kind_schema(inner, limits);
            // `Any` has no type; it already admits null.
            if let Some(Value::String(name)) = schema.get("type").cloned() {
                schema.insert("type".into(), json!([name, "null"]));
            }
            if let Some(Value::Array(names)) = schema.get_mut("enum") {
                names.push(Value::Null);
            }
        }
        Kind::Object(shape) => schema = object_schema(shape, limits),
        Kind::Any => {}
    }
    schema
}

fn apply_rules(schema: &mut Map<String, Value>, rules: &Rules, kind: &Kind) {
    let (min_key, max_key) = match kind {
        Kind::List(_) => ("minItems", "maxItems"),
        Kind::Map(_) | Kind::Object(_) => ("minProperties", "maxProperties"),
        _ => ("minLength", "maxLength"),
    };
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            schema.insert(key.to_owned(), value);
        }
    };
    set(min_key, rules.min_length.map(Value::from));
    set(max_key, rules.max_length.map(Value::from));
    set("minimum", rules.minimum.map(Value::from));
    set("maximum", rules.maximum.map(Value::from));
    set("exclusiveMinimum", rules.exclusive_minimum.map(Value::from));
    set("exclusiveMaximum", rules.exclusive_maximum.map(Value::from));
    set("pattern", rules.pattern.clone().map(Value::from));
    set("format", rules.format.map(Value::from));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Choice;

    #[test]
    fn optional_kinds_admit_null_and_integers_carry_their_type_range() {
        const CHOICES: &[Choice] = &[Choice {
            name: "a",
            description: None,
        }];
        let schema = kind_schema(
            &Kind::Optional(Box::new(Kind::Choice(CHOICES))),
            Limits::Kept,
        );
        assert_eq!(
            Value::Object(schema),
            json!({"type": ["string", "null"], "enum": ["a", null]})
        );
        let byte = kind_schema(&Kind::Integer { min: 0, max: 255 }, Limits::Kept);
        assert_eq!(
            Value::Object(byte),
            json!({"type": "integer", "minimum": 0, "maximum": 255})
        );
        let wide = kind_schema(
            &Kind::Integer {
                min: i64::MIN.into(),
                max: i64::MAX.into(),
            },
            Limits::Kept,
        );
        assert_eq!(Value::Object(wide), json!({"type": "integer"}));
    }

    #[test]
    fn list_length_rules_become_item_counts() {
        let mut field = Field::new("tags", Kind::List(Box::new(Kind::String)));
        field.rules.min_length = Some(1);
        field.rules.max_length = Some(5);
        let schema = Value::Object(field_schema(&field, Limits::Kept));
        assert_eq!(schema["minItems"], json!(1));
        assert_eq!(schema["maxItems"], json!(5));
        assert_eq!(schema["items"], json!({"type": "string"}));
        // An output promises types, not the input's limits.
        let output = Value::Object(field_schema(&field, Limits::Dropped));
        assert_eq!(
            output,
            json!({"type": "array", "items": {"type": "string"}})
        );
    }
}
