//! The model `#[derive(Input)]` works from, read from the item and its attributes,
//! with every misuse reported at the user's span.

use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, Fields, Ident, LitChar, LitStr, Type};

use crate::attrs::{self, RenameRule};

pub enum Model {
    Struct(InputStruct),
    Enum(InputEnum),
}

pub struct InputStruct {
    pub ident: Ident,
    pub description: Option<String>,
    pub fields: Vec<InputField>,
    /// Whether any `#[validate]` rule exists, so `Validate` must be called.
    pub validates: bool,
}

pub struct InputField {
    pub ident: Ident,
    pub wire_name: String,
    pub ty: Type,
    pub description: Option<String>,
    pub default: DefaultSource,
    pub long: Option<LitStr>,
    pub short: Option<LitChar>,
    pub rules: Rules,
}

pub enum DefaultSource {
    None,
    /// `#[input(default = expr)]`: coercion inserts it.
    Input(Expr),
    /// `#[serde(default)]` on the field: serde fills `Default::default()`.
    SerdeTrait,
    /// `#[serde(default = "path")]` on the field.
    SerdePath(syn::ExprPath),
    /// `#[serde(default)]` on the struct: the struct's `Default` value of the field.
    SerdeStruct,
}

/// The `validator` rules that map to JSON Schema keywords.
#[derive(Default)]
pub struct Rules {
    pub min_length: Option<Expr>,
    pub max_length: Option<Expr>,
    pub minimum: Option<Expr>,
    pub maximum: Option<Expr>,
    pub exclusive_minimum: Option<Expr>,
    pub exclusive_maximum: Option<Expr>,
    pub pattern: Option<Expr>,
    pub format: Option<&'static str>,
}

pub struct InputEnum {
    pub ident: Ident,
    pub choices: Vec<(String, Option<String>)>,
}

pub fn parse(item: DeriveInput) -> syn::Result<Model> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "`Input` cannot be derived for a generic type; use a concrete struct",
        ));
    }
    let container = Container::parse(&item.attrs)?;
    match &item.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => {
                let mut fields = Vec::new();
                let mut validates = has_validate(&item.attrs);
                for field in &named.named {
                    validates |= has_validate(&field.attrs);
                    if let Some(parsed) = parse_field(field, &container)? {
                        fields.push(parsed);
                    }
                }
                check_flags(&fields)?;
                Ok(Model::Struct(InputStruct {
                    ident: item.ident.clone(),
                    description: attrs::doc_comment(&item.attrs),
                    fields,
                    validates,
                }))
            }
            _ => Err(syn::Error::new(
                item.ident.span(),
                "`Input` needs a struct with named fields (write `struct Ping {}` for an input without fields)",
            )),
        },
        Data::Enum(data) => {
            let mut choices = Vec::new();
            for variant in &data.variants {
                if !matches!(variant.fields, Fields::Unit) {
                    return Err(syn::Error::new(
                        variant.span(),
                        "an `Input` enum is a list of choices: every variant must be a unit variant",
                    ));
                }
                let mut name = container
                    .rename_all
                    .apply_to_variant(&variant.ident.unraw().to_string());
                let mut skipped = false;
                for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
                    attr.parse_nested_meta(|meta| {
                        if meta.path.is_ident("rename") {
                            if let Some(lit) = attrs::deserialize_name(&meta)? {
                                name = lit.value();
                            }
                            Ok(())
                        } else if meta.path.is_ident("skip")
                            || meta.path.is_ident("skip_deserializing")
                        {
                            skipped = true;
                            Ok(())
                        } else {
                            attrs::skip_meta(&meta)
                        }
                    })?;
                }
                if !skipped {
                    choices.push((name, attrs::doc_comment(&variant.attrs)));
                }
            }
            if choices.is_empty() {
                return Err(syn::Error::new(
                    item.ident.span(),
                    "an `Input` enum needs at least one variant to choose from",
                ));
            }
            Ok(Model::Enum(InputEnum {
                ident: item.ident.clone(),
                choices,
            }))
        }
        Data::Union(data) => Err(syn::Error::new(
            data.union_token.span,
            "`Input` cannot be derived for a union",
        )),
    }
}

/// serde's container attributes that change names and defaults.
#[derive(Default)]
struct Container {
    rename_all: RenameRule,
    default: bool,
}

impl Container {
    fn parse(attrs: &[Attribute]) -> syn::Result<Container> {
        let mut container = Container::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    container.rename_all = attrs::rename_rule(&meta)?;
                    Ok(())
                } else if meta.path.is_ident("default") {
                    container.default = true;
                    attrs::skip_meta(&meta)
                } else {
                    attrs::skip_meta(&meta)
                }
            })?;
        }
        Ok(container)
    }
}

fn has_validate(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("validate"))
}

fn parse_field(field: &syn::Field, container: &Container) -> syn::Result<Option<InputField>> {
    let ident = field.ident.clone().expect("named field");
    let mut wire_name = container
        .rename_all
        .apply_to_field(&ident.unraw().to_string());
    let mut default = if container.default {
        DefaultSource::SerdeStruct
    } else {
        DefaultSource::None
    };
    let mut skipped = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if let Some(lit) = attrs::deserialize_name(&meta)? {
                    wire_name = lit.value();
                }
                Ok(())
            } else if meta.path.is_ident("default") {
                default = if meta.input.peek(syn::Token![=]) {
                    let path: LitStr = meta.value()?.parse()?;
                    DefaultSource::SerdePath(path.parse()?)
                } else {
                    DefaultSource::SerdeTrait
                };
                Ok(())
            } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing") {
                skipped = true;
                Ok(())
            } else if meta.path.is_ident("flatten") {
                Err(meta.error(
                    "`#[serde(flatten)]` is not supported on an `Input` field; declare the fields in the struct, or nest the struct as a field",
                ))
            } else {
                attrs::skip_meta(&meta)
            }
        })?;
    }
    if skipped {
        return Ok(None);
    }

    let mut long = None;
    let mut short = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("input")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                if matches!(default, DefaultSource::Input(_)) {
                    return Err(meta.error("duplicate `default`"));
                }
                default = DefaultSource::Input(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("long") {
                let lit: LitStr = meta.value()?.parse()?;
                check_long(&lit)?;
                long = Some(lit);
                Ok(())
            } else if meta.path.is_ident("short") {
                let lit: LitChar = meta.value()?.parse()?;
                check_short(&lit)?;
                short = Some(lit);
                Ok(())
            } else {
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                Err(meta.error(format!(
                    "unknown `input` attribute `{key}`; expected `default`, `long` or `short`"
                )))
            }
        })?;
    }

    Ok(Some(InputField {
        ident,
        wire_name,
        ty: field.ty.clone(),
        description: attrs::doc_comment(&field.attrs),
        default,
        long,
        short,
        rules: parse_rules(&field.attrs)?,
    }))
}

fn check_long(lit: &LitStr) -> syn::Result<()> {
    let value = lit.value();
    let valid = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            "`long` must be a flag name without dashes in front, like \"max-count\"",
        ))
    }
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

/// Reads the `validator` rules that have a JSON Schema counterpart; the rest are
/// left to `validator`.
fn parse_rules(attrs: &[Attribute]) -> syn::Result<Rules> {
    let mut rules = Rules::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("validate")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("length") {
                meta.parse_nested_meta(|arg| {
                    if arg.path.is_ident("min") {
                        rules.min_length = Some(arg.value()?.parse()?);
                    } else if arg.path.is_ident("max") {
                        rules.max_length = Some(arg.value()?.parse()?);
                    } else if arg.path.is_ident("equal") {
                        let equal: Expr = arg.value()?.parse()?;
                        rules.min_length = Some(equal.clone());
                        rules.max_length = Some(equal);
                    } else {
                        attrs::skip_meta(&arg)?;
                    }
                    Ok(())
                })
            } else if meta.path.is_ident("range") {
                meta.parse_nested_meta(|arg| {
                    let slot = if arg.path.is_ident("min") {
                        &mut rules.minimum
                    } else if arg.path.is_ident("max") {
                        &mut rules.maximum
                    } else if arg.path.is_ident("exclusive_min") {
                        &mut rules.exclusive_minimum
                    } else if arg.path.is_ident("exclusive_max") {
                        &mut rules.exclusive_maximum
                    } else {
                        return attrs::skip_meta(&arg);
                    };
                    *slot = Some(arg.value()?.parse()?);
                    Ok(())
                })
            } else if meta.path.is_ident("regex") {
                meta.parse_nested_meta(|arg| {
                    if arg.path.is_ident("path") {
                        let path: Expr = arg.value()?.parse()?;
                        // The older string form names the regex; it has no source to show.
                        if !matches!(path, Expr::Lit(_)) {
                            rules.pattern = Some(path);
                        }
                        Ok(())
                    } else {
                        attrs::skip_meta(&arg)
                    }
                })
            } else if meta.path.is_ident("email") {
                rules.format = Some("email");
                attrs::skip_meta(&meta)
            } else if meta.path.is_ident("url") {
                rules.format = Some("uri");
                attrs::skip_meta(&meta)
            } else {
                attrs::skip_meta(&meta)
            }
        })?;
    }
    Ok(rules)
}
