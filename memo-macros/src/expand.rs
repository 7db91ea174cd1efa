//! Code generation: the user's function, re-emitted with its body behind
//! one call into `__private` that looks the call up, and run on a miss (in
//! a block, or in a closure when it has a `return` or a `?`: see
//! `inline_body.rs`) before a second that stores its output.
//!
//! The user's attributes, visibility, signature and body keep their own
//! tokens and spans, so type errors in them land on the user's code.
//! Everything the expansion adds reaches the runtime through
//! `#krate::__private` (`::memory` unless `crate = path`, imported once as
//! `__memo_crate`), names its locals `__memo_*`, and reaches std as
//! `::core::`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    AttrStyle, FnArg, GenericParam, ItemFn, LitInt, LitStr, Pat, PatIdent, ReturnType, Signature,
};

use crate::args::{CacheArgs, MmapModeArg};
use crate::model::{CacheableFn, Param, SelfParam};

/// The cached version of `function`. `fingerprint` goes into the key;
/// `code_fingerprint` (the same, unless `ignore_code`) is recorded.
pub fn expand(
    args: &CacheArgs,
    function: &CacheableFn,
    fingerprint: u128,
    code_fingerprint: u128,
) -> TokenStream {
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

    let fingerprint = folded_fingerprint(&krate, &args.depends_on, fingerprint);
    let spec = fn_spec(&krate, args, function, &fingerprint, code_fingerprint);
    let type_args = type_args(sig, function);
    let key_args = key_args(&krate, sig, function);
    let warnings = crate::warnings::emit(&function.warnings);

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
    let begin_args = quote!(&__MEMO_FN, &[#(#type_args),*], &[#(#key_args),*]);
    let call_and_finish = if sig.asyncness.is_some() {
        // `begin_async` runs on the first poll; the lookup may wait (off
        // the executor) for another caller; on a miss the body is awaited
        // here, so nothing the runtime compiles is generic over it: see
        // `memo-core/src/call/async_call.rs` for what blocks where.
        let lookup = quote_spanned! {finish_span=>
            (&&#krate::__private::Output::<#output>::NEW).lookup_async(__memo_call)
        };
        let complete = quote_spanned! {finish_span=>
            (&&#krate::__private::Output::<#output>::NEW).complete_async(__memo_run, __memo_ran)
        };
        quote! {
            let __memo_call = #krate::__private::begin_async(#begin_args);
            match #lookup.await {
                ::core::result::Result::Ok(__memo_stored) => __memo_stored,
                ::core::result::Result::Err(mut __memo_run) => {
                    let __memo_body = #krate::__private::typed::<#output, _>(async move #body);
                    let __memo_ran = __memo_run.record(__memo_body).await;
                    #complete
                }
            }
        }
    } else {
        // The body runs here, on a miss, not in the runtime: nothing the
        // runtime compiles depends on this function, only on its output
        // type (shared by every function returning it).
        let lookup = quote_spanned! {finish_span=>
            (&&#krate::__private::Output::<#output>::NEW).lookup(#begin_args)
        };
        let complete = |computed: TokenStream| {
            quote_spanned! {finish_span=>
                (&&#krate::__private::Output::<#output>::NEW).complete(__memo_run, #computed)
            }
        };
        let run_body = if crate::inline_body::runs_inline(block) {
            // No `return` or `?` that must stop at the body: it runs in a
            // block, without a closure to compile. (A body that diverges
            // leaves `complete` unreachable, which is not the user's to
            // hear about.)
            let complete = complete(quote!(__memo_output));
            quote! {
                let __memo_output: #output = #body;
                #[allow(unreachable_code)]
                let __memo_output = #complete;
                __memo_output
            }
        } else {
            // A closure keeps `return` and `?` inside the body. `({ body
            // })()` calls it by value, as `FnOnce`: a body may move or
            // mutate what it captured.
            let complete = complete(quote!(({ __memo_body })()));
            quote! {
                let __memo_body = move || -> #output #body;
                #complete
            }
        };
        quote! {
            match #lookup {
                ::core::result::Result::Ok(__memo_stored) => __memo_stored,
                ::core::result::Result::Err(__memo_run) => { #run_body }
            }
        }
    };
    let companions = companions(args, function, &krate_path, &fingerprint);
    // The identity the function is recorded under in the misses that call
    // it: a method's `Self` is not known here, nor needed (see memo-core's
    // `recorded.rs`).
    let identity = match &args.name {
        Some(name) => name.to_token_stream(),
        None => {
            let name = LitStr::new(&sig.ident.to_string(), sig.ident.span());
            quote!(::core::concat!(::core::module_path!(), "::", #name))
        }
    };
    let location = location(&sig.ident);
    quote! {
        #(#outer_attrs)*
        #vis #emitted_sig {
            #(#inner_attrs)*
            #warnings
            use #krate_path as __memo_crate;
            static __MEMO_FN: #krate::__private::CachedFn =
                #krate::__private::CachedFn::new(#spec, #identity, #location);
            // One constructor registers the function and its dependency.
            #krate::__private::register!(__MEMO_FN);
            // Autoref specialization picks `FinishResult` for `Result` outputs
            // and `FinishValue` for the rest; only one of them is used.
            #[allow(unused_imports)]
            use #krate::__private::{FinishResult as _, FinishValue as _};
            #call_and_finish
        }
        #companions
    }
}

/// `static __MEMO_DEP`, the function named `name` as a recorded
/// dependency (memo-core's `recorded.rs`), registered before `main`. (A
/// cached function's dependency is part of its `CachedFn`.)
/// `krate` names the runtime (`__memo_crate`, imported by the caller).
pub fn dependency_static(
    krate: &TokenStream,
    identity: &TokenStream,
    name: &syn::Ident,
    fingerprint: &TokenStream,
) -> TokenStream {
    let location = location(name);
    quote! {
        static __MEMO_DEP: #krate::__private::Dependency =
            #krate::__private::Dependency::new(#identity, #location, #fingerprint);
        #krate::__private::register!(__MEMO_DEP);
    }
}

/// `"file:line:column"` of the function named `name`, as a recorded
/// dependency tells definitions of one identity apart.
fn location(name: &syn::Ident) -> TokenStream {
    // Spanned on the name: the location of the `fn`'s name.
    quote_spanned! {name.span()=>
        ::core::concat!(::core::file!(), ":", ::core::line!(), ":", ::core::column!())
    }
}

/// The fingerprint expression: the macro's own, with the fingerprints of
/// `depends_on` functions folded in (by the compiler, in a `const`).
pub fn folded_fingerprint(
    krate: &TokenStream,
    depends_on: &[syn::Path],
    fingerprint: u128,
) -> TokenStream {
    let own = LitInt::new(&format!("{fingerprint:#034x}u128"), Span::call_site());
    if depends_on.is_empty() {
        return own.into_token_stream();
    }
    // Spanned on each path: a function without `#[memory::fingerprint]`
    // is an error at its name in the list.
    let dependencies = depends_on
        .iter()
        .map(|path| quote_spanned!(path.span()=> #path::__MEMO_FINGERPRINT));
    quote!(#krate::__private::fold_fingerprints(#own, &[#(#dependencies),*]))
}

/// Items next to the function: the same-scope identity guard and the
/// exported fingerprint.
fn companions(
    args: &CacheArgs,
    function: &CacheableFn,
    krate_path: &TokenStream,
    fingerprint: &TokenStream,
) -> TokenStream {
    let mut companions = TokenStream::new();
    // Two functions of one explicit identity in one scope: their guards
    // share a name, which the compiler refuses. The guard's name says what
    // is wrong in words, and its tokens are spanned on the function's name,
    // so the error's two labels sit under the two colliding functions.
    // (Functions with `self` or `Self` may sit in a trait impl, which takes
    // no extra items; the registry reports those.)
    if let Some(name) = &args.name
        && !function.method
    {
        let at = function.item.sig.ident.span();
        let guard = identity_guard(&name.value(), at);
        companions.extend(quote_spanned! {at=>
            #[doc(hidden)]
            #[allow(dead_code, non_upper_case_globals)]
            const #guard: () = ();
        });
    }
    if function.export_fingerprint {
        companions.extend(fingerprint_companion(
            &function.item.vis,
            &function.item.sig.ident,
            krate_path,
            fingerprint,
        ));
    }
    companions
}

/// The name of the identity guard of `identity`, which reads as the error
/// when two functions in one scope share it:
/// `two_cached_functions_are_named_model_train`. A hash of the exact
/// identity is added when the readable part loses characters other than
/// `::`, so distinct identities never share a guard.
fn identity_guard(identity: &str, span: Span) -> syn::Ident {
    let readable: String = identity
        .replace("::", "_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let lossless = identity
        .split("::")
        .all(|part| part.chars().all(|c| c.is_ascii_alphanumeric()));
    if lossless {
        format_ident!("two_cached_functions_are_named_{}", readable, span = span)
    } else {
        let hash = xxhash_rust::xxh3::xxh3_64(identity.as_bytes()) as u32;
        format_ident!(
            "two_cached_functions_are_named_{}_{:08x}",
            readable,
            hash,
            span = span
        )
    }
}

/// `depends_on = [name]` reads `name::__MEMO_FINGERPRINT`: a braced struct
/// of the function's name lives in the type namespace next to the function
/// (in the value namespace), so every path and `use` that reaches the
/// function reaches it too.
pub fn fingerprint_companion(
    vis: &syn::Visibility,
    name: &syn::Ident,
    krate_path: &TokenStream,
    fingerprint: &TokenStream,
) -> TokenStream {
    quote! {
        #[doc(hidden)]
        #[allow(dead_code, non_camel_case_types, missing_docs, clippy::empty_structs_with_brackets)]
        #vis struct #name {}
        #[allow(dead_code)]
        impl #name {
            #[doc(hidden)]
            pub const __MEMO_FINGERPRINT: u128 = {
                #[allow(unused_imports)]
                use #krate_path as __memo_crate;
                #fingerprint
            };
        }
    }
}

/// The `FnSpec { .. }` literal: everything the runtime knows about the
/// function at compile time. Fields left at their default (the arguments
/// not given) are not written: `..FnSpec::DEFAULT` fills them, so an
/// ordinary function's spec is a few literals.
fn fn_spec(
    krate: &TokenStream,
    args: &CacheArgs,
    function: &CacheableFn,
    fingerprint: &TokenStream,
    code_fingerprint: u128,
) -> TokenStream {
    let sig = &function.item.sig;
    let name = LitStr::new(&sig.ident.to_string(), sig.ident.span());
    let mut fields = TokenStream::new();
    let mut set = |field: &str, value: TokenStream| {
        let field = syn::Ident::new(field, Span::call_site());
        fields.extend(quote!(#field: #value,));
    };
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    if let Some(identity) = &args.name {
        set("identity", some(identity.to_token_stream()));
    }
    let params: Vec<LitStr> = key_names(sig, function)
        .map(|name| LitStr::new(&name, Span::call_site()))
        .collect();
    if !params.is_empty() {
        set("params", quote!(&[#(#params),*]));
    }
    if let Some(level) = args.verbose {
        set(
            "verbose",
            some(LitInt::new(&format!("{level}u8"), Span::call_site()).into_token_stream()),
        );
    }
    if let Some(place) = &args.memory {
        // Spanned on the user's expression: a place that is not a
        // `'static` `Memory` (or does not deref to one) errors there.
        set(
            "memory",
            some(quote_spanned!(place.span()=> || -> &'static #krate::Memory { &#place })),
        );
    }
    if let Some(limit) = args.expires_after {
        set("expires_after", some(duration(limit)));
    }
    if let Some(path) = &args.validate {
        // Spanned on the path: a function of another signature errors there.
        let validate = quote_spanned!(path.span()=> #path);
        set(
            "validate",
            some(quote!({
                let __memo_validate: fn(&#krate::EntryInfo) -> bool = #validate;
                __memo_validate
            })),
        );
    }
    if let Some(mode) = args.mmap_mode {
        set(
            "mmap_mode",
            some(match mode {
                MmapModeArg::CopyOnWrite => quote!(#krate::MmapMode::CopyOnWrite),
                MmapModeArg::ReadOnly => quote!(#krate::MmapMode::ReadOnly),
            }),
        );
    }
    if let Some((level, _)) = args.compress {
        set(
            "compress",
            some(LitInt::new(&format!("{level}i32"), Span::call_site()).into_token_stream()),
        );
    }
    if let Some(version) = &args.version {
        set("version", some(version.to_token_stream()));
    }
    if args.ignore_code.is_some_and(|(ignore, _)| ignore) {
        set("ignore_code", quote!(true));
    }
    if let Some(limit) = args.wait_limit {
        set("wait_limit", some(duration(limit)));
    }
    if function.method {
        set("method", quote!(true));
    }
    let code = LitInt::new(&format!("{code_fingerprint:#034x}u128"), Span::call_site());
    // `line!()` spanned on the function's name reports the line of the `fn`.
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let column = quote_spanned!(sig.ident.span()=> ::core::column!());

    quote! {
        #krate::__private::FnSpec {
            name: #name,
            module_path: ::core::module_path!(),
            fingerprint: #fingerprint,
            file: ::core::file!(),
            line: #line,
            column: #column,
            code: #code,
            #fields
            ..#krate::__private::FnSpec::DEFAULT
        }
    }
}

/// A `Duration` constant.
fn duration(duration: std::time::Duration) -> TokenStream {
    let seconds = LitInt::new(&format!("{}u64", duration.as_secs()), Span::call_site());
    let nanos = LitInt::new(
        &format!("{}u32", duration.subsec_nanos()),
        Span::call_site(),
    );
    quote!(::core::time::Duration::new(#seconds, #nanos))
}

/// The names of what is hashed, in the order `key_args` passes it: const
/// generic parameters, `self`, then the parameters not in `ignore`.
fn key_names<'a>(
    sig: &'a Signature,
    function: &'a CacheableFn,
) -> impl Iterator<Item = String> + 'a {
    let consts = sig
        .generics
        .const_params()
        .map(|param| param.ident.to_string());
    let receiver = hashed_receiver(function.receiver.as_ref()).map(|_| "self".to_owned());
    let hashed = hashed_params(&function.params).map(|param| param.key_name.to_string());
    consts.chain(receiver).chain(hashed)
}

fn hashed_receiver(receiver: Option<&SelfParam>) -> Option<&SelfParam> {
    receiver.filter(|receiver| !receiver.ignored)
}

fn hashed_params(params: &[Param]) -> impl Iterator<Item = &Param> {
    params.iter().filter(|param| !param.ignored)
}

/// `&x as &dyn Arg` for each hashed value, in `key_names` order. Each cast is
/// spanned on its parameter, so "`T: Serialize` is not satisfied" points at
/// the parameter that cannot be hashed.
fn key_args<'a>(
    krate: &'a TokenStream,
    sig: &'a Signature,
    function: &'a CacheableFn,
) -> impl Iterator<Item = TokenStream> + 'a {
    let consts = sig.generics.const_params().map(move |param| {
        let name = &param.ident;
        quote_spanned!(name.span()=> &#name as &dyn #krate::__private::Arg)
    });
    // `self` is hashed as the value it is or points to: `&self`,
    // `self: Box<Self>` and `self: Arc<Self>` all hash the `Self` (through
    // one more `&`, which serializes the same, so that an unsized `Self` —
    // a trait's default method — works too).
    let receiver = hashed_receiver(function.receiver.as_ref()).map(move |receiver| {
        let self_token = receiver.self_token;
        if receiver.by_value {
            quote_spanned!(self_token.span=> &#self_token as &dyn #krate::__private::Arg)
        } else {
            quote_spanned!(self_token.span=> &&*#self_token as &dyn #krate::__private::Arg)
        }
    });
    let hashed = hashed_params(&function.params).map(move |param| {
        let name = &param.key_name;
        quote_spanned!(name.span()=> &#name as &dyn #krate::__private::Arg)
    });
    consts.chain(receiver).chain(hashed)
}

/// What tells one instantiation of a generic function from another: the name
/// of `Self` (first, for a method: it is part of the identity), of each type
/// parameter, and of the concrete type behind each `impl Trait` parameter
/// not in `ignore` (an ignored callback's closure type differs at every call
/// site, and must not split the cache). Lifetimes are erased at run time and
/// take no part.
///
/// A function is a method when it takes `self` or its signature names
/// `Self` (`fn new(..) -> Self` in an `impl` block), so `A::new` and
/// `B::new` in one module do not share entries. Only the signature is
/// looked at: a `Self` in the body may belong to an item nested there, and
/// a function without either may be a free function, where `Self` does not
/// exist.
fn type_args<'a>(
    sig: &'a Signature,
    function: &'a CacheableFn,
) -> impl Iterator<Item = TokenStream> + 'a {
    let self_type = function
        .method
        .then(|| quote!(::core::any::type_name::<Self>()));
    let named = sig.generics.params.iter().filter_map(|param| match param {
        GenericParam::Type(param) => {
            let ident = &param.ident;
            Some(quote!(::core::any::type_name::<#ident>()))
        }
        _ => None,
    });
    let anonymous = function
        .params
        .iter()
        .filter(|param| param.has_impl_trait && !param.ignored)
        .map(|param| {
            let key_name = &param.key_name;
            quote!(::core::any::type_name_of_val(&#key_name))
        });
    self_type.into_iter().chain(named).chain(anonymous)
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
mod tests;
