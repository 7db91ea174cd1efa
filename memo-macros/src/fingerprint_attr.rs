//! `#[fingerprint]`: exports a free function's code fingerprint next to it,
//! so cached functions can list it in `depends_on`.
//!
//! Stacked on `#[cache]` (which expands after it), the cached function's
//! `depends_on` and `crate` count for the exported fingerprint too; its
//! other arguments are among the tokens hashed. The stacked arguments are
//! parsed here as well, and an error in them is reported (the compiler
//! shows a diagnostic `#[cache]` repeats only once).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::args::{CacheArgs, FingerprintArgs};
use crate::syntax::{is_cache_attribute, mentions_self};

/// The function followed by its fingerprint companion.
pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
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
    if function.sig.receiver().is_some() || mentions_self(function.sig.to_token_stream()) {
        return Err(crate::validate::not_a_free_function(&function.sig));
    }
    let mut depends_on = args.depends_on;
    let mut krate = args.krate;
    if let Some(stacked) = stacked_cache_args(&function)? {
        depends_on.extend(stacked.depends_on);
        krate = krate.or(stacked.krate);
    }
    let hashed = CacheArgs {
        version: args.version,
        ..CacheArgs::default()
    };
    let own = crate::code_fingerprint::fingerprint(&item, &hashed);
    let krate_path = match krate {
        Some(path) => path.into_token_stream(),
        None => quote!(::memory),
    };
    let folded = crate::expand::folded_fingerprint(&quote!(__memo_crate), &depends_on, own);
    let companion = crate::expand::fingerprint_companion(
        &function.vis,
        &function.sig.ident,
        &krate_path,
        &folded,
    );
    let mut tokens = item;
    tokens.extend(companion);
    Ok(tokens)
}

/// The arguments of a `#[cache(..)]` stacked below, if there is one.
fn stacked_cache_args(function: &syn::ItemFn) -> syn::Result<Option<CacheArgs>> {
    let Some(cache) = function.attrs.iter().find(|a| is_cache_attribute(a)) else {
        return Ok(None);
    };
    match &cache.meta {
        syn::Meta::List(list) => list.parse_args::<CacheArgs>().map(Some),
        // `#[cache]` alone: no arguments.
        syn::Meta::Path(_) => Ok(None),
        syn::Meta::NameValue(meta) => Err(syn::Error::new_spanned(
            meta,
            "write `#[cache(..)]` with its arguments in parentheses",
        )),
    }
}
