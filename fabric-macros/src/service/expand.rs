//! The code `#[fabric_service]` generates: for a checked function, the service; for
//! a rejected one, a stand-in next to the error.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::validate::ServiceFn;

/// The unit struct named like the function, with the function as its `handle`;
/// `handle_attrs` go on the `impl` block.
fn service_struct(function: &ItemFn, handle_attrs: TokenStream) -> TokenStream {
    let vis = &function.vis;
    let name = &function.sig.ident;
    let attrs = &function.attrs;
    let docs = attrs.iter().filter(|attr| attr.path().is_ident("doc"));
    let mut handle_sig = function.sig.clone();
    handle_sig.ident = syn::Ident::new("handle", name.span());
    let body = &function.block;
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        #handle_attrs
        impl #name {
            #(#attrs)*
            #vis #handle_sig #body
        }
    }
}

pub(super) fn expand(service: &ServiceFn) -> TokenStream {
    let function = service.function;
    let name = &function.sig.ident;
    let service_struct = service_struct(function, TokenStream::new());
    let alias = &service.alias;
    let description = &service.description;
    let input_ty = &service.input_ty;
    let return_ty = &service.return_ty;
    let read_only = service.hints.read_only;
    let idempotent = service.hints.idempotent;
    let destructive = match service.hints.destructive {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };

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
        #service_struct

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

            fn output_schema(&self) -> ::core::option::Option<::fabric::serde_json::Value> {
                #[allow(unused_imports)]
                use ::fabric::__private::{DescribedOutput as _, OpaqueOutput as _};
                (&::fabric::__private::TypeProbe::<<#return_ty as ::fabric::__private::ResultOk>::Ok>::new()).output_schema()
            }

            fn hints(&self) -> ::fabric::service::Hints {
                ::fabric::service::Hints::new()
                    .read_only(#read_only)
                    .idempotent(#idempotent)
                    .destructive(#destructive)
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

/// What a rejected service expands to, besides its error: the function, still
/// type-checked and callable as `name::handle`, and a unit struct of its name that
/// implements `fabric::Service` with placeholders, so that uses of the service
/// (`fabric_cli(name)`, `name.alias()`) resolve and add no errors of their own. The
/// program does not compile, so none of it ever runs.
pub(super) fn fallback(function: &ItemFn, err: syn::Error) -> TokenStream {
    let err = err.into_compile_error();
    let name = &function.sig.ident;
    let alias = name.unraw().to_string();
    // Nothing calls `handle` here, unlike in a service.
    let service_struct = service_struct(function, quote!(#[allow(dead_code)]));
    quote! {
        #err

        #service_struct

        impl ::fabric::Service for #name {
            fn alias(&self) -> &str {
                #alias
            }

            fn description(&self) -> &str {
                ""
            }

            fn input(&self) -> &'static ::fabric::input::Shape {
                ::core::unreachable!("a rejected `#[fabric_service]` does not compile")
            }

            fn serve(
                &self,
                _raw: ::fabric::serde_json::Value,
                _ctx: ::fabric::Context,
            ) -> ::fabric::__private::BoxFuture<'static, ::core::result::Result<::fabric::Output, ::fabric::Error>> {
                ::core::unreachable!("a rejected `#[fabric_service]` does not compile")
            }
        }
    }
}
