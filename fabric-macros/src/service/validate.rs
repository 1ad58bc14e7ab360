//! The checks on a service function and its attribute, each failing at the user's
//! span; what passes is a [`ServiceFn`] ready to expand.

use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

use super::parse::Attributes;
use crate::{attrs, check_name};

/// A checked service function.
pub(super) struct ServiceFn<'a> {
    pub function: &'a ItemFn,
    pub alias: String,
    pub description: String,
    pub input_ty: Type,
    pub context_ty: Option<Type>,
    pub return_ty: Type,
    pub hints: Hints,
}

/// The checked hints: what `fabric::service::Hints` is built from.
pub(super) struct Hints {
    pub read_only: bool,
    pub idempotent: bool,
    pub destructive: Option<bool>,
}

pub(super) fn validate(attributes: Attributes, function: &ItemFn) -> syn::Result<ServiceFn<'_>> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            "a Fabric service must be an `async fn`",
        ));
    }
    if let Some(unsafety) = sig.unsafety {
        return Err(syn::Error::new(
            unsafety.span,
            "a Fabric service cannot be `unsafe`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a Fabric service cannot be generic; its input type must be concrete",
        ));
    }
    let mut types = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => {
                return Err(syn::Error::new(
                    receiver.span(),
                    "a Fabric service is a free function, not a method",
                ));
            }
            FnArg::Typed(typed) => types.push((*typed.ty).clone()),
        }
    }
    if types.is_empty() || types.len() > 2 {
        let span = if types.is_empty() {
            sig.paren_token.span.join()
        } else {
            sig.inputs.span()
        };
        return Err(syn::Error::new(
            span,
            "a Fabric service takes `(input: T, ctx: fabric::Context)`, where `T` derives `fabric::Input`",
        ));
    }
    let return_ty = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            return Err(syn::Error::new(
                sig.ident.span(),
                "a Fabric service must return `Result<T, fabric::Error>`",
            ));
        }
    };
    // Aliases become route keys, URL paths and subcommands: the shared name rule.
    let (alias, span) = match &attributes.alias {
        Some(lit) => (lit.value(), lit.span()),
        None => (sig.ident.unraw().to_string(), sig.ident.span()),
    };
    check_name("alias", &alias, span)?;
    let description = match &attributes.description {
        Some(lit) => lit.value(),
        None => attrs::doc_comment(&function.attrs).unwrap_or_default(),
    };
    // MCP reads `destructiveHint` only where `readOnlyHint` is false: a service
    // cannot say both.
    if let (Some(read_only), Some(destructive)) = (attributes.read_only, attributes.destructive) {
        if read_only.value && destructive.value {
            return Err(syn::Error::new(
                destructive.span,
                "a `read_only` service changes nothing, so it cannot be `destructive`",
            ));
        }
    }
    let hints = Hints {
        read_only: attributes.read_only.is_some_and(|hint| hint.value),
        idempotent: attributes.idempotent.is_some_and(|hint| hint.value),
        destructive: attributes.destructive.map(|hint| hint.value),
    };
    let mut types = types.into_iter();
    Ok(ServiceFn {
        hints,
        input_ty: types.next().expect("one parameter at least"),
        context_ty: types.next(),
        return_ty,
        alias,
        description,
        function,
    })
}
