//! The code `#[derive(Input)]` generates from its model, and the stand-in for an
//! item it rejects.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr};

use super::parse::{DefaultSource, Rules};
use super::validate::{InputEnum, InputField, InputStruct, Model, Names};

pub(super) fn expand(model: &Model) -> TokenStream {
    match model {
        Model::Struct(input) => expand_struct(input),
        Model::Enum(choices) => expand_enum(choices),
    }
}

fn option_str(text: &Option<String>) -> TokenStream {
    match text {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// The wire names, at run time: serde's own (see `fabric::__private::field_names`),
/// or the Rust names.
fn wire_names<'a>(
    names: &Names,
    rust_names: impl Iterator<Item = &'a String>,
    helper: TokenStream,
) -> TokenStream {
    let rust_names: Vec<&String> = rust_names.collect();
    match names {
        Names::Serde { aliases } => quote! {
            ::fabric::__private::#helper::<Self>(&[#(#rust_names),*], &[#(#aliases),*])
        },
        Names::Rust => quote!(::std::vec![#(#rust_names),*]),
    }
}

fn expand_struct(input: &InputStruct) -> TokenStream {
    let ident = &input.ident;
    let name = ident.to_string();
    let description = option_str(&input.description);
    let names = wire_names(
        &input.names,
        input.fields.iter().map(|field| &field.name),
        quote!(field_names),
    );
    let fields = input
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| expand_field(ident, index, field));
    let validate = if input.validates {
        quote!(::fabric::validator::Validate::validate(self))
    } else {
        quote!(::core::result::Result::Ok(()))
    };
    quote! {
        impl ::fabric::Input for #ident {
            fn shape() -> &'static ::fabric::input::Shape {
                static SHAPE: ::std::sync::OnceLock<::fabric::input::Shape> = ::std::sync::OnceLock::new();
                SHAPE.get_or_init(|| {
                    let names: ::std::vec::Vec<&'static str> = #names;
                    ::fabric::input::Shape {
                        name: #name,
                        description: #description,
                        fields: ::std::vec![#(#fields),*],
                    }
                })
            }

            fn validate(&self) -> ::core::result::Result<(), ::fabric::validator::ValidationErrors> {
                #validate
            }
        }

        impl ::fabric::input::InputType for #ident {
            fn kind() -> ::fabric::input::Kind {
                ::fabric::input::Kind::Object(<Self as ::fabric::Input>::shape())
            }
        }
    }
}

fn expand_field(container: &syn::Ident, index: usize, field: &InputField) -> TokenStream {
    let ty = &field.ty;
    let ident = &field.ident;
    let rust_name = ident.to_string();
    let description = option_str(&field.description);
    let kind = quote_spanned!(ty.span()=> <#ty as ::fabric::input::InputType>::kind());
    let default = match &field.default {
        DefaultSource::None => quote!(::core::option::Option::None),
        DefaultSource::Input(expr) => quote_spanned! {expr.span()=>
            ::core::option::Option::Some(::fabric::__private::default_json::<#ty>(
                ::fabric::__private::IntoDefault::<#ty>::into_default(#expr),
            ))
        },
        DefaultSource::SerdeTrait => quote! {{
            use ::fabric::__private::{OpaqueDefault as _, SerializableDefault as _};
            (&::fabric::__private::TypeProbe::<#ty>::new()).default_json()
        }},
        DefaultSource::SerdePath(path) => quote! {{
            use ::fabric::__private::{OpaqueValue as _, SerializableValue as _};
            (&::fabric::__private::ValueProbe::<#ty>(#path())).value_json()
        }},
        DefaultSource::SerdeStruct => quote! {{
            use ::fabric::__private::{OpaqueValue as _, SerializableValue as _};
            (&::fabric::__private::ValueProbe::<#ty>(
                <#container as ::core::default::Default>::default().#ident,
            ))
            .value_json()
        }},
    };
    let required = match field.default {
        DefaultSource::None => {
            quote!(!::core::matches!(kind, ::fabric::input::Kind::Optional(_)))
        }
        _ => quote!(false),
    };
    let long = &field.long;
    let short = match &field.short {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let rules = expand_rules(&field.rules);
    quote! {{
        let kind = #kind;
        ::fabric::input::Field {
            name: names[#index],
            rust_name: #rust_name,
            required: #required,
            default: #default,
            description: #description,
            long: ::core::option::Option::Some(#long),
            short: #short,
            rules: #rules,
            kind,
        }
    }}
}

fn expand_rules(rules: &Rules) -> TokenStream {
    let cast = |expr: &Option<Expr>, ty: TokenStream| match expr {
        Some(expr) => quote!(::core::option::Option::Some((#expr) as #ty)),
        None => quote!(::core::option::Option::None),
    };
    let min_length = cast(&rules.min_length, quote!(u64));
    let max_length = cast(&rules.max_length, quote!(u64));
    let minimum = cast(&rules.minimum, quote!(f64));
    let maximum = cast(&rules.maximum, quote!(f64));
    let exclusive_minimum = cast(&rules.exclusive_minimum, quote!(f64));
    let exclusive_maximum = cast(&rules.exclusive_maximum, quote!(f64));
    let pattern = match &rules.pattern {
        Some(path) => {
            quote!(::core::option::Option::Some(::fabric::__private::regex_pattern(&#path)))
        }
        None => quote!(::core::option::Option::None),
    };
    let format = match rules.format {
        Some(format) => quote!(::core::option::Option::Some(#format)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::fabric::input::Rules {
            min_length: #min_length,
            max_length: #max_length,
            minimum: #minimum,
            maximum: #maximum,
            exclusive_minimum: #exclusive_minimum,
            exclusive_maximum: #exclusive_maximum,
            pattern: #pattern,
            format: #format,
        }
    }
}

fn expand_enum(input: &InputEnum) -> TokenStream {
    let ident = &input.ident;
    let names = wire_names(
        &input.names,
        input.choices.iter().map(|choice| &choice.name),
        quote!(variant_names),
    );
    let descriptions = input
        .choices
        .iter()
        .map(|choice| option_str(&choice.description));
    quote! {
        impl ::fabric::input::InputType for #ident {
            fn kind() -> ::fabric::input::Kind {
                static CHOICES: ::std::sync::OnceLock<::std::vec::Vec<::fabric::input::Choice>> =
                    ::std::sync::OnceLock::new();
                let choices = CHOICES.get_or_init(|| {
                    let names: ::std::vec::Vec<&'static str> = #names;
                    let descriptions: &[::core::option::Option<&'static str>] = &[#(#descriptions),*];
                    let mut choices = ::std::vec::Vec::with_capacity(names.len());
                    for (name, description) in ::core::iter::Iterator::zip(
                        ::core::iter::IntoIterator::into_iter(names),
                        descriptions,
                    ) {
                        choices.push(::fabric::input::Choice { name, description: *description });
                    }
                    choices
                });
                ::fabric::input::Kind::Choice(choices)
            }
        }
    }
}

/// The stand-in for a rejected item, beside its error: the trait impls, with bodies
/// that never run (the program does not compile), so that the item's uses (as a
/// service's input, as a field) add no errors of their own. A generic type or a
/// union gets none: an impl could not be written without errors of its own.
pub(super) fn fallback(item: &DeriveInput) -> TokenStream {
    if !item.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &item.ident;
    let unreachable = quote!(::core::unreachable!(
        "a rejected `#[derive(Input)]` does not compile"
    ));
    match &item.data {
        Data::Struct(_) => quote! {
            impl ::fabric::Input for #ident {
                fn shape() -> &'static ::fabric::input::Shape {
                    #unreachable
                }

                fn validate(&self) -> ::core::result::Result<(), ::fabric::validator::ValidationErrors> {
                    #unreachable
                }
            }

            impl ::fabric::input::InputType for #ident {
                fn kind() -> ::fabric::input::Kind {
                    #unreachable
                }
            }
        },
        Data::Enum(_) => quote! {
            impl ::fabric::input::InputType for #ident {
                fn kind() -> ::fabric::input::Kind {
                    #unreachable
                }
            }
        },
        Data::Union(_) => TokenStream::new(),
    }
}
