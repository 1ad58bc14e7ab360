//! The names a type is deserialized under, asked of its own `Deserialize`.
//!
//! serde's renames (`rename`, `rename_all` with every rule, acronyms and all) are
//! applied by serde_derive, and Fabric must match them exactly, so it does not
//! re-implement them: `#[derive(Input)]` asks the type instead. A derived
//! `Deserialize` hands its deserializer the names it accepts, renames applied:
//! `deserialize_struct(name, FIELDS, visitor)` for a struct, with the names of the
//! fields that are not skipped, in declaration order, and
//! `deserialize_enum(name, VARIANTS, visitor)` for an enum. The [`Introspector`]
//! below records that list and stops.
//!
//! serde lists each `#[serde(alias)]` beside the name it stands for; the derive
//! passes the aliases so they can be left out.
//!
//! A type whose `Deserialize` does not call `deserialize_struct` or
//! `deserialize_enum` (a hand-written impl, `#[serde(from, try_from, transparent,
//! untagged)]`, an internally tagged enum), or calls it with a list that does not
//! fit, keeps its Rust names (without `r#`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// What a type's `Deserialize` told the [`Introspector`].
#[derive(Debug)]
enum Told {
    Fields(&'static [&'static str]),
    Variants(&'static [&'static str]),
    Nothing,
}

/// The error that ends the introspection, carrying what was told.
#[derive(Debug)]
struct Stop(Told);

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("introspection only")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_message: T) -> Self {
        Stop(Told::Nothing)
    }
}

/// A deserializer that records the names a struct's or an enum's `Deserialize`
/// gives it and refuses everything else.
struct Introspector;

impl<'de> Deserializer<'de> for Introspector {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop(Told::Nothing))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop(Told::Fields(fields)))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop(Told::Variants(variants)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        identifier ignored_any
    }
}

fn told<'de, T: Deserialize<'de>>() -> Told {
    match T::deserialize(Introspector) {
        Err(Stop(told)) => told,
        // A type that deserializes from nothing at all names nothing.
        Ok(_) => Told::Nothing,
    }
}

/// The names in `told` less `aliases`, when there is one for each of `rust_names`;
/// else `rust_names`.
fn pick(
    told: Option<&'static [&'static str]>,
    rust_names: &[&'static str],
    aliases: &[&str],
) -> Vec<&'static str> {
    if let Some(told) = told {
        let names: Vec<&'static str> = told
            .iter()
            .copied()
            .filter(|name| !aliases.contains(name))
            .collect();
        if names.len() == rust_names.len() {
            return names;
        }
    }
    rust_names.to_vec()
}

/// The wire names of a struct's deserialized fields, in declaration order.
/// `rust_names` are the fields' Rust names (the fallback), `aliases` every
/// `#[serde(alias)]` of those fields.
pub fn field_names<'de, T: Deserialize<'de>>(
    rust_names: &[&'static str],
    aliases: &[&str],
) -> Vec<&'static str> {
    let told = match told::<T>() {
        Told::Fields(fields) => Some(fields),
        _ => None,
    };
    pick(told, rust_names, aliases)
}

/// The wire names of an enum's deserialized variants, in declaration order; as
/// [`field_names`].
pub fn variant_names<'de, T: Deserialize<'de>>(
    rust_names: &[&'static str],
    aliases: &[&str],
) -> Vec<&'static str> {
    let told = match told::<T>() {
        Told::Variants(variants) => Some(variants),
        _ => None,
    };
    pick(told, rust_names, aliases)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value, json};

    use crate::input::{Input, InputType, Kind};

    /// Deserializes `T` from an object with each of `names` as a key (and `value`
    /// for each), so a name serde does not accept fails the test.
    fn accepts_fields<T: DeserializeOwned>(names: &[&str], value: Value) {
        let object: Map<String, Value> = names
            .iter()
            .map(|name| ((*name).to_owned(), value.clone()))
            .collect();
        if let Err(err) = serde_json::from_value::<T>(Value::Object(object)) {
            panic!("serde refuses the names {names:?}: {err}");
        }
    }

    /// Deserializes `T` from each of `names` as a string.
    fn accepts_variants<T: DeserializeOwned>(names: &[&str]) {
        for name in names {
            if let Err(err) = serde_json::from_value::<T>(json!(name)) {
                panic!("serde refuses the variant {name:?}: {err}");
            }
        }
    }

    fn field_names<T: Input>() -> Vec<&'static str> {
        T::shape().fields.iter().map(|field| field.name).collect()
    }

    fn choice_names<T: InputType>() -> Vec<&'static str> {
        match T::kind() {
            Kind::Choice(choices) => choices.iter().map(|choice| choice.name).collect(),
            other => panic!("not a choice: {other:?}"),
        }
    }

    macro_rules! rules {
        ($($test:ident, $fields:ident, $variants:ident, $rule:literal, [$($field:literal),*], [$($variant:literal),*];)*) => {$(
            #[derive(Deserialize, crate::Input)]
            #[serde(rename_all = $rule, deny_unknown_fields)]
            #[allow(dead_code)]
            struct $fields {
                page_size: u8,
                max_retries2: u8,
                url: u8,
                #[serde(rename = "Explicit name")]
                renamed: u8,
                #[serde(skip)]
                skipped: u8,
                r#type: u8,
            }

            #[derive(Deserialize, crate::Input)]
            #[serde(rename_all = $rule)]
            #[allow(dead_code, clippy::upper_case_acronyms)]
            enum $variants {
                PageSize,
                HTTPServer,
                Url,
                #[serde(rename = "explicit-name")]
                Renamed,
                #[serde(skip)]
                Skipped,
                A,
            }

            #[test]
            fn $test() {
                let names = field_names::<$fields>();
                assert_eq!(names, [$($field),*]);
                accepts_fields::<$fields>(&names, json!(1));
                let choices = choice_names::<$variants>();
                assert_eq!(choices, [$($variant),*]);
                accepts_variants::<$variants>(&choices);
            }
        )*};
    }

    rules! {
        lowercase, Lower, LowerV, "lowercase",
            ["page_size", "max_retries2", "url", "Explicit name", "type"],
            ["pagesize", "httpserver", "url", "explicit-name", "a"];
        uppercase, Upper, UpperV, "UPPERCASE",
            ["PAGE_SIZE", "MAX_RETRIES2", "URL", "Explicit name", "TYPE"],
            ["PAGESIZE", "HTTPSERVER", "URL", "explicit-name", "A"];
        pascal_case, Pascal, PascalV, "PascalCase",
            ["PageSize", "MaxRetries2", "Url", "Explicit name", "Type"],
            ["PageSize", "HTTPServer", "Url", "explicit-name", "A"];
        camel_case, Camel, CamelV, "camelCase",
            ["pageSize", "maxRetries2", "url", "Explicit name", "type"],
            ["pageSize", "hTTPServer", "url", "explicit-name", "a"];
        snake_case, Snake, SnakeV, "snake_case",
            ["page_size", "max_retries2", "url", "Explicit name", "type"],
            ["page_size", "h_t_t_p_server", "url", "explicit-name", "a"];
        screaming_snake_case, ScreamingSnake, ScreamingSnakeV, "SCREAMING_SNAKE_CASE",
            ["PAGE_SIZE", "MAX_RETRIES2", "URL", "Explicit name", "TYPE"],
            ["PAGE_SIZE", "H_T_T_P_SERVER", "URL", "explicit-name", "A"];
        kebab_case, Kebab, KebabV, "kebab-case",
            ["page-size", "max-retries2", "url", "Explicit name", "type"],
            ["page-size", "h-t-t-p-server", "url", "explicit-name", "a"];
        screaming_kebab_case, ScreamingKebab, ScreamingKebabV, "SCREAMING-KEBAB-CASE",
            ["PAGE-SIZE", "MAX-RETRIES2", "URL", "Explicit name", "TYPE"],
            ["PAGE-SIZE", "H-T-T-P-SERVER", "URL", "explicit-name", "A"];
    }

    #[derive(Deserialize, crate::Input)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Plain {
        #[serde(alias = "zzz", alias = "aaa")]
        room: u8,
        #[serde(skip_deserializing)]
        cached: u8,
        #[serde(rename(serialize = "out", deserialize = "in"))]
        both: u8,
        r#type: u8,
    }

    #[derive(Deserialize, crate::Input)]
    #[allow(dead_code)]
    enum Aliased {
        #[serde(alias = "b")]
        Join,
        #[serde(other)]
        Unknown,
    }

    #[test]
    fn without_renames_aliases_and_skips_are_left_out() {
        let names = field_names::<Plain>();
        assert_eq!(names, ["room", "in", "type"]);
        accepts_fields::<Plain>(&names, json!(1));
        assert_eq!(choice_names::<Aliased>(), ["Join", "Unknown"]);
        accepts_variants::<Aliased>(&["Join", "Unknown"]);
    }

    /// `try_from`: serde deserializes another type; the Rust names stand.
    #[derive(Deserialize, crate::Input)]
    #[serde(try_from = "Value")]
    #[allow(dead_code)]
    struct Converted {
        page_size: u8,
    }

    impl TryFrom<Value> for Converted {
        type Error = String;
        fn try_from(_: Value) -> Result<Self, String> {
            Err("no".into())
        }
    }

    /// A hand-written `Deserialize` that names nothing.
    #[derive(crate::Input)]
    #[allow(dead_code)]
    enum Manual {
        First,
        r#Second,
    }

    impl<'de> Deserialize<'de> for Manual {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            String::deserialize(deserializer).map(|_| Manual::First)
        }
    }

    #[test]
    fn a_type_that_names_nothing_keeps_its_rust_names() {
        assert_eq!(field_names::<Converted>(), ["page_size"]);
        assert_eq!(choice_names::<Manual>(), ["First", "Second"]);
        assert_eq!(
            super::field_names::<Manual>(&["first", "second"], &[]),
            ["first", "second"]
        );
    }
}
