//! The code `#[derive(Input)]` generates from its model.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::parse::{DefaultSource, InputEnum, InputField, InputStruct, Model, Rules};

pub fn expand(model: &Model) -> TokenStream {
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

fn expand_struct(input: &InputStruct) -> TokenStream {
    let ident = &input.ident;
    let name = ident.to_string();
    let description = option_str(&input.description);
    let fields = input.fields.iter().map(|field| expand_field(ident, field));
    let validate = if input.validates {
        quote!(::fabric::validator::Validate::validate(self))
    } else {
        quote!(::core::result::Result::Ok(()))
    };
    quote! {
        impl ::fabric::Input for #ident {
            fn shape() -> &'static ::fabric::input::Shape {
                static SHAPE: ::std::sync::OnceLock<::fabric::input::Shape> = ::std::sync::OnceLock::new();
                SHAPE.get_or_init(|| ::fabric::input::Shape {
                    name: #name,
                    description: #description,
                    fields: ::std::vec![#(#fields),*],
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

fn expand_field(container: &syn::Ident, field: &InputField) -> TokenStream {
    let ty = &field.ty;
    let ident = &field.ident;
    let wire_name = &field.wire_name;
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
            (&::fabric::__private::DefaultProbe::<#ty>::new()).default_json()
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
    let long = match &field.long {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let short = match &field.short {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let rules = expand_rules(&field.rules);
    quote! {{
        let kind = #kind;
        ::fabric::input::Field {
            name: #wire_name,
            rust_name: #rust_name,
            required: #required,
            default: #default,
            description: #description,
            long: #long,
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
    let choices = input.choices.iter().map(|(name, description)| {
        let description = option_str(description);
        quote!(::fabric::input::Choice { name: #name, description: #description })
    });
    quote! {
        impl ::fabric::input::InputType for #ident {
            fn kind() -> ::fabric::input::Kind {
                const CHOICES: &[::fabric::input::Choice] = &[#(#choices),*];
                ::fabric::input::Kind::Choice(CHOICES)
            }
        }
    }
}
