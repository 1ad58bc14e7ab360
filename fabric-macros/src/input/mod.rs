//! `#[derive(Input)]`: parse the item into a model, validate it, expand it.

mod expand;
mod parse;

use proc_macro2::TokenStream;
use syn::DeriveInput;

pub fn derive(item: DeriveInput) -> syn::Result<TokenStream> {
    let model = parse::parse(item)?;
    Ok(expand::expand(&model))
}
