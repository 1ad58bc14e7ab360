//! The rules on what `#[derive(Input)]` accepts, each failing at the user's span;
//! what passes is the [`Model`] that [`expand`](super::expand) works from.

use heck::ToKebabCase;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, LitChar, Type};

use super::parse::{Body, DefaultSource, Item, ParsedField, ParsedVariant, Rules};
use crate::check_name;

pub(super) enum Model {
    Struct(InputStruct),
    Enum(InputEnum),
}

/// Where the wire names come from, at run time.
pub(super) enum Names {
    /// Asked of the type's `Deserialize` (serde's renames, exactly); `aliases` are
    /// the `#[serde(alias)]` names serde lists beside them.
    Serde { aliases: Vec<String> },
    /// `#[serde(from, try_from, transparent, untagged)]`: the type is not
    /// deserialized under names of its own, so the Rust names stand.
    Rust,
}

pub(super) struct InputStruct {
    pub ident: Ident,
    pub description: Option<String>,
    /// The deserialized fields, in declaration order.
    pub fields: Vec<InputField>,
    pub names: Names,
    /// Whether `Validate` must be called.
    pub validates: bool,
}

pub(super) struct InputField {
    pub ident: Ident,
    /// The field's name without `r#`, the wire name when serde gives none.
    pub name: String,
    pub ty: Type,
    pub description: Option<String>,
    pub default: DefaultSource,
    /// The CLI long flag, without dashes.
    pub long: String,
    pub short: Option<LitChar>,
    pub rules: Rules,
}

pub(super) struct InputEnum {
    pub ident: Ident,
    /// The deserialized variants, in declaration order.
    pub choices: Vec<InputChoice>,
    pub names: Names,
}

pub(super) struct InputChoice {
    /// The variant's name without `r#`, the wire name when serde gives none.
    pub name: String,
    pub description: Option<String>,
}

pub(super) fn validate(item: Item) -> syn::Result<Model> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "`Input` cannot be derived for a generic type; use a concrete struct",
        ));
    }
    match item.body {
        Body::Struct(parsed) => {
            let mut fields = Vec::new();
            let mut aliases = Vec::new();
            for field in parsed {
                if let Some(span) = field.flatten {
                    return Err(syn::Error::new(
                        span,
                        "`#[serde(flatten)]` is not supported on an `Input` field; declare the fields in the struct, or nest the struct as a field",
                    ));
                }
                if field.skipped {
                    continue;
                }
                aliases.extend(field.aliases.iter().map(|alias| alias.value()));
                fields.push(validate_field(field)?);
            }
            check_flags(&fields)?;
            Ok(Model::Struct(InputStruct {
                ident: item.ident,
                description: item.description,
                fields,
                names: names(item.container.foreign, aliases),
                validates: item.validates,
            }))
        }
        Body::UnnamedStruct => Err(syn::Error::new(
            item.ident.span(),
            "`Input` needs a struct with named fields (write `struct Ping {}` for an input without fields)",
        )),
        Body::Enum(variants) => {
            if let Some(variant) = variants.iter().find(|variant| !variant.unit) {
                return Err(syn::Error::new(
                    variant.span,
                    "an `Input` enum is a list of choices: every variant must be a unit variant",
                ));
            }
            let variants: Vec<ParsedVariant> =
                variants.into_iter().filter(|v| !v.skipped).collect();
            if variants.is_empty() {
                return Err(syn::Error::new(
                    item.ident.span(),
                    "an `Input` enum needs at least one variant to choose from",
                ));
            }
            let aliases = variants
                .iter()
                .flat_map(|variant| variant.aliases.iter().map(|alias| alias.value()))
                .collect();
            Ok(Model::Enum(InputEnum {
                ident: item.ident,
                choices: variants
                    .into_iter()
                    .map(|variant| InputChoice {
                        name: variant.ident.unraw().to_string(),
                        description: variant.description,
                    })
                    .collect(),
                names: names(item.container.foreign, aliases),
            }))
        }
        Body::Union(span) => Err(syn::Error::new(
            span,
            "`Input` cannot be derived for a union",
        )),
    }
}

fn names(foreign: bool, aliases: Vec<String>) -> Names {
    if foreign {
        Names::Rust
    } else {
        Names::Serde { aliases }
    }
}

fn validate_field(field: ParsedField) -> syn::Result<InputField> {
    let name = field.ident.unraw().to_string();
    let long = match &field.long {
        Some(lit) => {
            check_name("long flag", &lit.value(), lit.span())?;
            lit.value()
        }
        None => default_long(
            field
                .rename
                .as_ref()
                .map_or(name.clone(), |lit| lit.value()),
        ),
    };
    if let Some(short) = &field.short {
        check_short(short)?;
    }
    Ok(InputField {
        ident: field.ident,
        name,
        ty: field.ty,
        description: field.description,
        default: field.default,
        long,
        short: field.short,
        rules: field.rules,
    })
}

/// The long flag of a field without `#[input(long)]`: the kebab-case of its wire
/// name, `--page-size` for `page_size` or `pageSize`. The wire name is the field's
/// `#[serde(rename)]`, or else its Rust name: serde's `rename_all` rules keep a
/// snake_case name's words, so the flag is the same under all of them.
fn default_long(wire_name: String) -> String {
    wire_name.to_kebab_case()
}

fn check_short(lit: &LitChar) -> syn::Result<()> {
    match lit.value() {
        'h' => Err(syn::Error::new(lit.span(), "`-h` is reserved for `--help`")),
        c if c.is_ascii_alphanumeric() => Ok(()),
        _ => Err(syn::Error::new(
            lit.span(),
            "`short` must be an ASCII letter or digit",
        )),
    }
}

/// Two fields may not claim the same CLI flag.
fn check_flags(fields: &[InputField]) -> syn::Result<()> {
    let mut shorts: Vec<char> = Vec::new();
    for field in fields {
        if let Some(short) = &field.short {
            if shorts.contains(&short.value()) {
                return Err(syn::Error::new(
                    short.span(),
                    format!("the short flag `-{}` is used by two fields", short.value()),
                ));
            }
            shorts.push(short.value());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::default_long;

    #[test]
    fn names_become_kebab_case() {
        assert_eq!(default_long("page_size".into()), "page-size");
        assert_eq!(default_long("pageSize".into()), "page-size");
        assert_eq!(default_long("room".into()), "room");
        assert_eq!(default_long("URL".into()), "url");
        assert_eq!(default_long("maxRetries2".into()), "max-retries2");
    }
}
