//! The attribute's arguments: `alias = "..."`, `description = "..."`.

use proc_macro2::TokenStream;
use syn::LitStr;

/// What `#[fabric_service(..)]` says, unchecked.
#[derive(Default)]
pub(super) struct Attributes {
    pub alias: Option<LitStr>,
    pub description: Option<LitStr>,
}

pub(super) fn parse(args: TokenStream) -> syn::Result<Attributes> {
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
