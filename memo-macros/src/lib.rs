//! Implementation detail of `memo-core`: use `#[memory::cache]` from there.
//!
//! The attribute is built in three steps, one file each: `args.rs` parses its
//! arguments, `validate.rs` checks them against the function, `expand.rs`
//! writes the cached function; `code_fingerprint.rs` hashes the function's code
//! and `warnings.rs` raises the compile-time warnings.

mod args;
mod code_fingerprint;
mod expand;
mod validate;
mod warnings;

use proc_macro::TokenStream;
use quote::ToTokens;

use crate::args::{CacheArgs, FingerprintArgs};

/// Rewrites a function so calls with arguments seen before return the stored
/// result. Use it as `memory::cache`, where its arguments are documented.
#[proc_macro_attribute]
pub fn cache(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match cache_function(args.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        Err(errors) => with_function_unchanged(&errors, item).into(),
    }
}

/// Exports a function's code fingerprint, so that cached functions can list
/// it in `depends_on`. Use it as `memory::fingerprint`, where it is
/// documented.
#[proc_macro_attribute]
pub fn fingerprint(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match fingerprint_function(args.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        Err(errors) => with_function_unchanged(&errors, item).into(),
    }
}

fn cache_function(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args = syn::parse2::<CacheArgs>(args);
    let fingerprint_input = item.clone();
    let (args, function) = validate::check(args, item)?;
    let fingerprint = code_fingerprint::fingerprint(&fingerprint_input, &args);
    Ok(expand::expand(&args, &function, fingerprint))
}

fn fingerprint_function(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args = syn::parse2::<FingerprintArgs>(args);
    let function = syn::parse2::<syn::ItemFn>(item.clone());
    let (args, function) = match (args, function) {
        (Ok(args), Ok(function)) => (args, function),
        (Err(mut error), Err(other)) => {
            error.combine(other);
            return Err(error);
        }
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    if function.sig.receiver().is_some() || validate::mentions_self(function.sig.to_token_stream())
    {
        return Err(validate::not_a_free_function(&function.sig));
    }
    // Stacked on `#[cache]` (which expands after us): its `depends_on` and
    // `crate` count for the exported fingerprint too; its other arguments
    // are among the tokens hashed.
    let mut depends_on = args.depends_on;
    let mut krate = args.krate;
    if let Some(cache) = function
        .attrs
        .iter()
        .find(|a| validate::is_cache_attribute(a))
        && let syn::Meta::List(list) = &cache.meta
        && let Ok(cache_args) = list.parse_args::<CacheArgs>()
    {
        depends_on.extend(cache_args.depends_on);
        krate = krate.or(cache_args.krate);
    }
    let hashed = CacheArgs {
        version: args.version,
        ..CacheArgs::default()
    };
    let own = code_fingerprint::fingerprint(&item, &hashed);
    let krate_path = match krate {
        Some(path) => path.into_token_stream(),
        None => quote::quote!(::memory),
    };
    let folded = expand::folded_fingerprint(&quote::quote!(__memo_crate), &depends_on, own);
    let companion =
        expand::fingerprint_companion(&function.vis, &function.sig.ident, &krate_path, &folded);
    let mut tokens = item;
    tokens.extend(companion);
    Ok(tokens)
}

/// On error the function is still emitted as written: its callers keep
/// compiling, so the user sees the attribute's error and nothing else.
fn with_function_unchanged(
    errors: &syn::Error,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut tokens = errors.to_compile_error();
    tokens.extend(item);
    tokens
}
