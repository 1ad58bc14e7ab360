//! Procedural macros for Fabric. Use them through the `fabric` crate:
//! `#[derive(fabric::Input)]` and `#[fabric::fabric_service]`.
//!
//! Each macro is parse → validate → expand; every error is a `syn::Error` at the
//! user's span.

mod attrs;
mod input;
mod service;

use proc_macro::TokenStream;

/// Derives `fabric::Input` for a struct with named fields, or `fabric::InputType`
/// (a choice) for an enum of unit variants.
#[proc_macro_derive(Input, attributes(input))]
pub fn derive_input(item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::DeriveInput);
    input::derive(item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an `async fn name(input: T, ctx: Context) -> Result<O, Error>` into a
/// `fabric::Service` value named `name`.
#[proc_macro_attribute]
pub fn fabric_service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
