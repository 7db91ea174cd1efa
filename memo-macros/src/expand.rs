//! Code generation: the user's function, re-emitted with its body moved into
//! a closure that one call into `__private` runs or skips.
//!
//! The user's attributes, visibility, signature and body keep their own
//! tokens and spans, so type errors in them land on the user's code.
//! Everything the expansion adds reaches the runtime through
//! `#krate::__private` (`::memory` unless `crate = path`, imported once as
//! `__memo_crate`), names its locals `__memo_*`, and reaches std as
//! `::core::`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    AttrStyle, FnArg, GenericParam, ItemFn, LitInt, LitStr, Pat, PatIdent, ReturnType, Signature,
};

use crate::args::CacheArgs;
use crate::validate::{CacheableFn, Param};

/// The cached version of `function`.
pub fn expand(args: &CacheArgs, function: &CacheableFn, fingerprint: u128) -> TokenStream {
    let krate_path = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::memory),
    };
    // The runtime is named once, by a `use`: a wrong `crate = path` is then
    // one error at the path, not one per mention.
    let krate = quote!(__memo_crate);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = &function.item;
    // Inner attributes (`#![allow(..)]` at the top of the body) stay at the
    // top of the emitted body, where they still apply to the whole function.
    let outer_attrs = attrs
        .iter()
        .filter(|attr| matches!(attr.style, AttrStyle::Outer));
    let inner_attrs = attrs
        .iter()
        .filter(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    let emitted_sig = signature_with_key_names(sig, &function.params);

    let spec = fn_spec(&krate, args, function, fingerprint);
    let type_args = type_args(sig, &function.params);
    let key_args = key_args(&krate, sig, &function.params);

    let output = match &sig.output {
        ReturnType::Type(_, ty) => ty.to_token_stream(),
        ReturnType::Default => quote!(()),
    };
    let destructure = function.params.iter().filter_map(|param| {
        let pattern = param.pattern.as_ref()?;
        let key_name = &param.key_name;
        Some(quote!(let #pattern = #key_name;))
    });
    let body = if function.params.iter().any(|param| param.pattern.is_some()) {
        quote!({ #(#destructure)* #block })
    } else {
        block.to_token_stream()
    };
    // An output type the runtime cannot store (not serde, a borrowed type)
    // fails to find `finish`: point that error at the return type.
    let finish_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => Span::call_site(),
    };
    let finish = quote_spanned! {finish_span=>
        (&&#krate::__private::Output::of(&__memo_body)).finish(__memo_call, __memo_body)
    };

    quote! {
        #(#outer_attrs)*
        #vis #emitted_sig {
            #(#inner_attrs)*
            use #krate_path as __memo_crate;
            static __MEMO_FN: #krate::__private::CachedFn = #krate::__private::CachedFn::new(#spec);
            // Autoref specialization picks `FinishResult` for `Result` outputs
            // and `FinishValue` for the rest; only one of them is used.
            #[allow(unused_imports)]
            use #krate::__private::{FinishResult as _, FinishValue as _};
            let __memo_call = #krate::__private::begin(&__MEMO_FN, &[#(#type_args),*], &[#(#key_args),*]);
            let __memo_body = move || -> #output #body;
            #finish
        }
    }
}

/// The `FnSpec { .. }` literal: everything the runtime knows about the
/// function at compile time.
fn fn_spec(
    krate: &TokenStream,
    args: &CacheArgs,
    function: &CacheableFn,
    fingerprint: u128,
) -> TokenStream {
    let sig = &function.item.sig;
    let name = LitStr::new(&sig.ident.to_string(), sig.ident.span());
    let identity = option(args.name.as_ref().map(ToTokens::to_token_stream));
    let fingerprint = LitInt::new(&format!("{fingerprint:#034x}u128"), Span::call_site());
    let params = key_names(sig, &function.params).map(|name| LitStr::new(&name, Span::call_site()));
    let verbose =
        option(args.verbose.map(|level| {
            LitInt::new(&format!("{level}u8"), Span::call_site()).into_token_stream()
        }));
    let memory = option(args.memory.as_ref().map(|place| {
        // Spanned on the user's expression: a place that is not a
        // `'static` `Memory` (or does not deref to one) errors there.
        quote_spanned!(place.span()=> || -> &'static #krate::Memory { &#place })
    }));
    // `line!()` spanned on the function's name reports the line of the `fn`.
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());

    quote! {
        #krate::__private::FnSpec {
            name: #name,
            module_path: ::core::module_path!(),
            identity: #identity,
            fingerprint: #fingerprint,
            file: ::core::file!(),
            line: #line,
            params: &[#(#params),*],
            verbose: #verbose,
            memory: #memory,
            expires_after: ::core::option::Option::None,
            validate: ::core::option::Option::None,
        }
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// The names of what is hashed, in the order `key_args` passes it: const
/// generic parameters, then the parameters not in `ignore`.
fn key_names<'a>(sig: &'a Signature, params: &'a [Param]) -> impl Iterator<Item = String> + 'a {
    let consts = sig
        .generics
        .const_params()
        .map(|param| param.ident.to_string());
    let hashed = params
        .iter()
        .filter(|param| !param.ignored)
        .map(|param| param.key_name.to_string());
    consts.chain(hashed)
}

/// `&x as &dyn Arg` for each hashed value, in `key_names` order. Each cast is
/// spanned on its parameter, so "`T: Serialize` is not satisfied" points at
/// the parameter that cannot be hashed.
fn key_args<'a>(
    krate: &'a TokenStream,
    sig: &'a Signature,
    params: &'a [Param],
) -> impl Iterator<Item = TokenStream> + 'a {
    let consts = sig.generics.const_params().map(|param| &param.ident);
    let hashed = params
        .iter()
        .filter(|param| !param.ignored)
        .map(|param| &param.key_name);
    consts
        .chain(hashed)
        .map(move |name| quote_spanned!(name.span()=> &#name as &dyn #krate::__private::Arg))
}

/// What tells one instantiation of a generic function from another: the name
/// of each type parameter, and of the concrete type behind each `impl Trait`
/// parameter not in `ignore` (an ignored callback's closure type differs at
/// every call site, and must not split the cache). Lifetimes are erased at
/// run time and take no part.
///
/// An associated function whose signature names `Self` (`fn new(..) -> Self`
/// in an `impl` block) also gets `Self`'s name, so `A::new` and `B::new` in
/// one module do not share entries. Only the signature is looked at: a `Self`
/// in the body may belong to an item nested there.
fn type_args<'a>(
    sig: &'a Signature,
    params: &'a [Param],
) -> impl Iterator<Item = TokenStream> + 'a {
    let self_type =
        mentions_self(sig.to_token_stream()).then(|| quote!(::core::any::type_name::<Self>()));
    let named = sig.generics.params.iter().filter_map(|param| match param {
        GenericParam::Type(param) => {
            let ident = &param.ident;
            Some(quote!(::core::any::type_name::<#ident>()))
        }
        _ => None,
    });
    let anonymous = params
        .iter()
        .filter(|param| param.has_impl_trait && !param.ignored)
        .map(|param| {
            let key_name = &param.key_name;
            quote!(::core::any::type_name_of_val(&#key_name))
        });
    self_type.into_iter().chain(named).chain(anonymous)
}

fn mentions_self(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "Self",
        TokenTree::Group(group) => mentions_self(group.stream()),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// The user's signature with each destructuring pattern replaced by its
/// `__memo_arg{i}` name (the pattern moves into the body).
fn signature_with_key_names(sig: &Signature, params: &[Param]) -> Signature {
    let mut sig = sig.clone();
    let typed = sig.inputs.iter_mut().filter_map(|input| match input {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    });
    for (typed, param) in typed.zip(params) {
        if param.pattern.is_some() {
            *typed.pat = Pat::Ident(PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident: param.key_name.clone(),
                subpat: None,
            });
        }
    }
    sig
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: &str, function: &str) -> String {
        let item: TokenStream = function.parse().expect("test function lexes");
        let (args, function) = crate::validate::check(syn::parse_str(args), item.clone())
            .expect("test input is valid");
        let fingerprint = crate::fingerprint::fingerprint(&item, &args);
        expand(&args, &function, fingerprint).to_string()
    }

    /// `cargo test -p memo-macros expansion_of_my_func -- --nocapture` prints
    /// the expansion of the design document's example.
    #[test]
    fn expansion_of_my_func() {
        let expanded = expand_str(
            r#"ignore = ["debug"]"#,
            "pub fn my_func(x: u64, debug: bool) -> u64 { if debug { println!(\"{x}\"); } x }",
        );
        println!("{expanded}");
        assert!(expanded.contains(r#"params : & ["x"]"#), "{expanded}");
        assert!(
            expanded.contains("& x as & dyn __memo_crate :: __private :: Arg"),
            "{expanded}"
        );
        assert!(!expanded.contains("& debug as"), "{expanded}");
    }

    #[test]
    fn patterns_are_renamed_and_destructured_in_the_body() {
        let expanded = expand_str(
            "",
            "fn f((a, b): (u32, u32), mut c: u32) -> u32 { c += a; c + b }",
        );
        assert!(
            expanded.contains("fn f (__memo_arg0 : (u32 , u32) , mut c : u32)"),
            "{expanded}"
        );
        assert!(
            expanded.contains("let (a , b) = __memo_arg0 ;"),
            "{expanded}"
        );
        assert!(
            expanded.contains(r#"params : & ["__memo_arg0" , "c"]"#),
            "{expanded}"
        );
    }

    #[test]
    fn generics_name_their_types_and_hash_their_consts() {
        let expanded = expand_str(
            "",
            "fn f<'a, T: Clone, const N: usize>(x: &'a T, y: impl Copy) -> usize { N }",
        );
        assert!(expanded.contains("type_name :: < T > ()"), "{expanded}");
        assert!(expanded.contains("type_name_of_val (& y)"), "{expanded}");
        assert!(
            expanded.contains(r#"params : & ["N" , "x" , "y"]"#),
            "{expanded}"
        );
        assert!(!expanded.contains("'a >"), "{expanded}");
    }

    #[test]
    fn associated_functions_naming_self_include_its_type() {
        let expanded = expand_str("", "fn new(x: u32) -> Self { Self { x } }");
        assert!(expanded.contains("type_name :: < Self > ()"), "{expanded}");
        let expanded = expand_str(
            "",
            "fn free(x: u32) -> u32 { struct S; impl S { fn s() -> Self { S } } x }",
        );
        assert!(!expanded.contains("type_name :: < Self >"), "{expanded}");
    }

    #[test]
    fn crate_path_replaces_memory() {
        let expanded = expand_str("crate = crate::reexport::mem", "fn f() {}");
        assert!(!expanded.contains(":: memory"), "{expanded}");
        assert!(
            expanded.contains("use crate :: reexport :: mem as __memo_crate ;"),
            "{expanded}"
        );
    }

    #[test]
    fn options_are_emitted() {
        let expanded = expand_str(
            r#"name = "shared", verbose = 2, memory = CACHE"#,
            "fn f() {}",
        );
        assert!(
            expanded.contains(r#"identity : :: core :: option :: Option :: Some ("shared")"#),
            "{expanded}"
        );
        assert!(
            expanded.contains("verbose : :: core :: option :: Option :: Some (2u8)"),
            "{expanded}"
        );
        assert!(expanded.contains("& CACHE"), "{expanded}");
    }
}
