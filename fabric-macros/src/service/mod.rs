//! `#[fabric_service]`: [parse] the attribute's arguments, [validate] them with the
//! function, [expand] into a unit struct that implements `fabric::Service`.
//!
//! A rejected service still expands, to [`expand::fallback`]: the function and a
//! stand-in struct of its name, so the `compile_error!` at the user's span is the
//! only error, and the function's body is still type-checked.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

pub(crate) fn fabric_service(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(err) => {
            // Not a function at all: keep the item as written next to the error.
            let err = err.into_compile_error();
            return quote!(#err #item);
        }
    };
    let service =
        parse::parse(args).and_then(|attributes| validate::validate(attributes, &function));
    match service {
        Ok(service) => expand::expand(&service),
        Err(err) => expand::fallback(&function, err),
    }
}
