//! The attribute's arguments: `alias = "..."`, `description = "..."`, and the hints
//! `read_only`, `idempotent` and `destructive` (each alone, or `= true`/`= false`).

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Lit, LitStr};

/// A hint as written: its value and where it was written.
#[derive(Clone, Copy)]
pub(super) struct Hint {
    pub value: bool,
    pub span: Span,
}

/// What `#[fabric_service(..)]` says, unchecked.
#[derive(Default)]
pub(super) struct Attributes {
    pub alias: Option<LitStr>,
    pub description: Option<LitStr>,
    pub read_only: Option<Hint>,
    pub idempotent: Option<Hint>,
    pub destructive: Option<Hint>,
}

pub(super) fn parse(args: TokenStream) -> syn::Result<Attributes> {
    let mut attributes = Attributes::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let duplicate = || meta.error("duplicate attribute");
        match key.as_str() {
            "alias" | "description" => {
                let slot = if key == "alias" {
                    &mut attributes.alias
                } else {
                    &mut attributes.description
                };
                if slot.is_some() {
                    return Err(duplicate());
                }
                *slot = Some(meta.value()?.parse()?);
            }
            "read_only" | "idempotent" | "destructive" => {
                let slot = match key.as_str() {
                    "read_only" => &mut attributes.read_only,
                    "idempotent" => &mut attributes.idempotent,
                    _ => &mut attributes.destructive,
                };
                if slot.is_some() {
                    return Err(duplicate());
                }
                *slot = Some(hint(&meta, &key)?);
            }
            _ => {
                return Err(meta.error(format!(
                    "unknown `fabric_service` attribute `{key}`; expected `alias`, `description`, `read_only`, `idempotent` or `destructive`"
                )));
            }
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(attributes)
}

/// `read_only` alone is `true`; `read_only = false` says so; anything else is an
/// error at the value.
fn hint(meta: &ParseNestedMeta, key: &str) -> syn::Result<Hint> {
    let span = meta
        .path
        .get_ident()
        .map_or_else(Span::call_site, |i| i.span());
    if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
        return Ok(Hint { value: true, span });
    }
    let value: Expr = meta.value()?.parse()?;
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(flag),
            ..
        }) => Ok(Hint {
            value: flag.value,
            span,
        }),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` is a hint: write `{key}`, `{key} = true` or `{key} = false`"),
        )),
    }
}
