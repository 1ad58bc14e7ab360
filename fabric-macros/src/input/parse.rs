//! Reading the item and its attributes (`serde`, `input`, `validate`, docs) into
//! what was written, unchecked. Only malformed attributes fail here; the rules on
//! what may be written are [`validate`](super::validate)'s.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, Fields, Generics, Ident, LitChar, LitStr, Type};

use crate::attrs;

/// The item as written.
pub(super) struct Item {
    pub ident: Ident,
    pub generics: Generics,
    pub description: Option<String>,
    pub container: Container,
    /// Whether any `#[validate]` attribute exists, so `Validate` must be called.
    pub validates: bool,
    pub body: Body,
}

pub(super) enum Body {
    Struct(Vec<ParsedField>),
    /// A tuple or unit struct.
    UnnamedStruct,
    Enum(Vec<ParsedVariant>),
    Union(Span),
}

/// serde's container attributes that matter to Fabric.
#[derive(Default)]
pub(super) struct Container {
    /// `#[serde(default)]`.
    pub default: bool,
    /// `#[serde(from = ..)]`, `try_from`, `transparent` or `untagged`: the type is
    /// not deserialized under its own field or variant names.
    pub foreign: bool,
}

pub(super) struct ParsedField {
    pub ident: Ident,
    pub ty: Type,
    pub description: Option<String>,
    /// `#[serde(skip)]` or `skip_deserializing`.
    pub skipped: bool,
    /// `#[serde(flatten)]`, which Fabric cannot support.
    pub flatten: Option<Span>,
    /// `#[serde(rename = "..")]`'s deserialize name; only the CLI flag reads it, the
    /// wire name comes from serde itself.
    pub rename: Option<LitStr>,
    /// `#[serde(alias = "..")]`.
    pub aliases: Vec<LitStr>,
    pub default: DefaultSource,
    pub long: Option<LitStr>,
    pub short: Option<LitChar>,
    pub rules: Rules,
}

pub(super) enum DefaultSource {
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
pub(super) struct Rules {
    pub min_length: Option<Expr>,
    pub max_length: Option<Expr>,
    pub minimum: Option<Expr>,
    pub maximum: Option<Expr>,
    pub exclusive_minimum: Option<Expr>,
    pub exclusive_maximum: Option<Expr>,
    pub pattern: Option<Expr>,
    pub format: Option<&'static str>,
}

pub(super) struct ParsedVariant {
    pub ident: Ident,
    pub span: Span,
    pub unit: bool,
    pub description: Option<String>,
    pub skipped: bool,
    pub aliases: Vec<LitStr>,
}

pub(super) fn parse(item: &DeriveInput) -> syn::Result<Item> {
    let container = Container::parse(&item.attrs)?;
    let mut validates = has_validate(&item.attrs);
    let body = match &item.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => {
                let mut fields = Vec::new();
                for field in &named.named {
                    validates |= has_validate(&field.attrs);
                    fields.push(parse_field(field, &container)?);
                }
                Body::Struct(fields)
            }
            _ => Body::UnnamedStruct,
        },
        Data::Enum(data) => {
            let mut variants = Vec::new();
            for variant in &data.variants {
                variants.push(parse_variant(variant)?);
            }
            Body::Enum(variants)
        }
        Data::Union(data) => Body::Union(data.union_token.span),
    };
    Ok(Item {
        ident: item.ident.clone(),
        generics: item.generics.clone(),
        description: attrs::doc_comment(&item.attrs),
        container,
        validates,
        body,
    })
}

impl Container {
    fn parse(attrs: &[Attribute]) -> syn::Result<Container> {
        let mut container = Container::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("default") {
                    container.default = true;
                } else if ["from", "try_from", "transparent", "untagged"]
                    .iter()
                    .any(|key| meta.path.is_ident(key))
                {
                    container.foreign = true;
                }
                attrs::skip_meta(&meta)
            })?;
        }
        Ok(container)
    }
}

fn has_validate(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("validate"))
}

fn parse_field(field: &syn::Field, container: &Container) -> syn::Result<ParsedField> {
    let mut parsed = ParsedField {
        ident: field.ident.clone().expect("named field"),
        ty: field.ty.clone(),
        description: attrs::doc_comment(&field.attrs),
        skipped: false,
        flatten: None,
        rename: None,
        aliases: Vec::new(),
        default: if container.default {
            DefaultSource::SerdeStruct
        } else {
            DefaultSource::None
        },
        long: None,
        short: None,
        rules: parse_rules(&field.attrs)?,
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if let Some(lit) = attrs::deserialize_name(&meta)? {
                    parsed.rename = Some(lit);
                }
            } else if meta.path.is_ident("alias") {
                parsed.aliases.push(meta.value()?.parse()?);
            } else if meta.path.is_ident("default") {
                parsed.default = if meta.input.peek(syn::Token![=]) {
                    let path: LitStr = meta.value()?.parse()?;
                    DefaultSource::SerdePath(path.parse()?)
                } else {
                    DefaultSource::SerdeTrait
                };
            } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing") {
                parsed.skipped = true;
            } else if meta.path.is_ident("flatten") {
                parsed.flatten = Some(meta.path.span());
            } else {
                attrs::skip_meta(&meta)?;
            }
            Ok(())
        })?;
    }
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("input")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                if matches!(parsed.default, DefaultSource::Input(_)) {
                    return Err(meta.error("duplicate `default`"));
                }
                parsed.default = DefaultSource::Input(meta.value()?.parse()?);
            } else if meta.path.is_ident("long") {
                parsed.long = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("short") {
                parsed.short = Some(meta.value()?.parse()?);
            } else {
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                return Err(meta.error(format!(
                    "unknown `input` attribute `{key}`; expected `default`, `long` or `short`"
                )));
            }
            Ok(())
        })?;
    }
    Ok(parsed)
}

fn parse_variant(variant: &syn::Variant) -> syn::Result<ParsedVariant> {
    let mut parsed = ParsedVariant {
        ident: variant.ident.clone(),
        span: variant.span(),
        unit: matches!(variant.fields, Fields::Unit),
        description: attrs::doc_comment(&variant.attrs),
        skipped: false,
        aliases: Vec::new(),
    };
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing") {
                parsed.skipped = true;
                Ok(())
            } else if meta.path.is_ident("alias") {
                parsed.aliases.push(meta.value()?.parse()?);
                Ok(())
            } else {
                attrs::skip_meta(&meta)
            }
        })?;
    }
    Ok(parsed)
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
