//! `#[fabric_service]`: parse the attribute and the function, validate them, expand
//! into a unit struct that implements `fabric::Service`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use crate::attrs;

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let attributes = parse_args(args)?;
    let function: ItemFn = syn::parse2(item)?;
    let service = validate(attributes, function)?;
    Ok(generate(&service))
}

/// `alias = "..."`, `description = "..."`.
#[derive(Default)]
struct Attributes {
    alias: Option<LitStr>,
    description: Option<LitStr>,
}

fn parse_args(args: TokenStream) -> syn::Result<Attributes> {
    let mut attributes = Attributes::default();
    let parser = syn::meta::parser(|meta| {
        let slot = if meta.path.is_ident("alias") {
            &mut attributes.alias
        } else if meta.path.is_ident("description") {
            &mut attributes.description
        } else {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            return Err(meta.error(format!(
                "unknown `fabric_service` attribute `{key}`; expected `alias` or `description`"
            )));
        };
        if slot.is_some() {
            return Err(meta.error("duplicate attribute"));
        }
        *slot = Some(meta.value()?.parse()?);
        Ok(())
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(attributes)
}

/// A checked service function.
struct ServiceFn {
    function: ItemFn,
    alias: String,
    description: String,
    input_ty: Type,
    context_ty: Option<Type>,
    return_ty: Type,
}

fn validate(attributes: Attributes, function: ItemFn) -> syn::Result<ServiceFn> {
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
    let alias = match &attributes.alias {
        Some(lit) => {
            check_alias(&lit.value(), lit.span())?;
            lit.value()
        }
        None => {
            let name = sig.ident.to_string();
            check_alias(&name, sig.ident.span())?;
            name
        }
    };
    let description = match &attributes.description {
        Some(lit) => lit.value(),
        None => attrs::doc_comment(&function.attrs).unwrap_or_default(),
    };
    let mut types = types.into_iter();
    Ok(ServiceFn {
        input_ty: types.next().expect("one parameter at least"),
        context_ty: types.next(),
        return_ty,
        alias,
        description,
        function,
    })
}

/// Aliases become route keys, URL paths and subcommands, so they stay plain.
fn check_alias(alias: &str, span: Span) -> syn::Result<()> {
    let valid = alias.len() <= 64
        && alias
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "invalid alias `{alias}`: an alias starts with a letter and has only letters, digits, `-` and `_` (at most 64)"
            ),
        ))
    }
}

fn generate(service: &ServiceFn) -> TokenStream {
    let function = &service.function;
    let vis = &function.vis;
    let name = &function.sig.ident;
    let attrs = &function.attrs;
    let docs = attrs.iter().filter(|attr| attr.path().is_ident("doc"));
    let mut handle_sig = function.sig.clone();
    handle_sig.ident = syn::Ident::new("handle", name.span());
    let body = &function.block;
    let alias = &service.alias;
    let description = &service.description;
    let input_ty = &service.input_ty;
    let return_ty = &service.return_ty;

    let input_assoc = quote_spanned!(input_ty.span()=> type Input = #input_ty;);
    let result_assoc = quote_spanned!(return_ty.span()=> type Result = #return_ty;);
    let call_handle = match &service.context_ty {
        Some(context_ty) => {
            let context = quote_spanned!(context_ty.span()=> ::fabric::__private::IsContext::from_context(ctx));
            quote!(#name::handle(input, #context))
        }
        None => quote!(#name::handle(input)),
    };

    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        impl #name {
            #(#attrs)*
            #vis #handle_sig #body
        }

        impl ::fabric::__private::ServiceFn for #name {
            #input_assoc
            #result_assoc

            fn run(
                input: Self::Input,
                ctx: ::fabric::Context,
            ) -> impl ::core::future::Future<Output = Self::Result> + ::core::marker::Send + 'static {
                #call_handle
            }
        }

        impl ::fabric::Service for #name {
            fn alias(&self) -> &str {
                #alias
            }

            fn description(&self) -> &str {
                #description
            }

            fn input(&self) -> &'static ::fabric::input::Shape {
                <<Self as ::fabric::__private::ServiceFn>::Input as ::fabric::Input>::shape()
            }

            fn serve(
                &self,
                raw: ::fabric::serde_json::Value,
                ctx: ::fabric::Context,
            ) -> ::fabric::__private::BoxFuture<'static, ::core::result::Result<::fabric::Output, ::fabric::Error>> {
                ::std::boxed::Box::pin(::fabric::__private::call_service::<Self>(raw, ctx))
            }
        }
    }
}
