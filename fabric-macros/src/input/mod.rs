//! `#[derive(Input)]`: [parse] the item into what was written, [validate] it into a
//! model, [expand] the model. A rejected item expands to its error and
//! [`expand::fallback`].

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) fn derive(item: DeriveInput) -> TokenStream {
    match parse::parse(&item).and_then(validate::validate) {
        Ok(model) => expand::expand(&model),
        Err(err) => {
            let err = err.into_compile_error();
            let fallback = expand::fallback(&item);
            quote::quote!(#err #fallback)
        }
    }
}
