//! Procedural macros for Fabric. Use them through the `fabric` crate:
//! `#[derive(fabric::Input)]` and `#[fabric::fabric_service]`.
//!
//! Each macro is parse → validate → expand; every error is a `syn::Error` at the
//! user's span. As in thiserror, a rejected item still expands to a stand-in (the
//! service's unit struct, the input's trait impls) next to the error, so the one
//! error is all the user sees, not a cascade of "cannot find value" errors where the
//! item is used.

mod attrs;
mod input;
// The shared name rule. Its doc examples are fabric's (`fabric::names`) and run
// there, so rustdoc leaves the module out when collecting doctests here; only
// `check_name` below refers to it, from a function body, which doctest collection
// does not resolve.
#[cfg(not(doctest))]
#[allow(dead_code)] // `MAX_NAME_BYTES` is for fabric.
// Public in `fabric::names`, where the same source is emitted.
#[allow(unreachable_pub)]
mod names;
mod service;

use proc_macro::TokenStream;

/// The shared name rule (`names.rs`), failing as a `syn::Error` at `span`.
fn check_name(what: &str, name: &str, span: proc_macro2::Span) -> syn::Result<()> {
    names::check_name(what, name).map_err(|message| syn::Error::new(span, message))
}

/// Derives `fabric::Input` for a struct with named fields, or `fabric::InputType`
/// (a choice) for an enum of unit variants.
#[proc_macro_derive(Input, attributes(input))]
pub fn derive_input(item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::DeriveInput);
    input::derive(item).into()
}

/// Turns an `async fn name(input: T, ctx: Context) -> Result<O, Error>` into a
/// `fabric::Service` value named `name`.
#[proc_macro_attribute]
pub fn fabric_service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::fabric_service(args.into(), item.into()).into()
}

/// Emits the source of the shared name rule (`src/names.rs`) as items, for
/// `fabric::names`. Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __name_rule(input: TokenStream) -> TokenStream {
    if let Some(token) = input.into_iter().next() {
        return syn::Error::new(token.span().into(), "`__name_rule!()` takes no input")
            .into_compile_error()
            .into();
    }
    include_str!("names.rs")
        .parse()
        .expect("the name rule is valid Rust")
}
