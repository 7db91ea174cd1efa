//! `#[fingerprint]`: makes an item's code fingerprint known to memo.
//!
//! - On a function (free, method, generic, `async`, nested): the function
//!   records itself, with its fingerprint, in the cached function whose
//!   miss is running when it is called (memo-core's `recorded.rs`): one
//!   `static` and one call at the top of its body. A free function also
//!   exports its fingerprint next to it, so cached functions can list it in
//!   `depends_on` (work on other threads is not recorded). A `const fn` only
//!   exports (its body must stay `const`).
//! - On a `const` or `static`: exports the fingerprint of its definition,
//!   for `depends_on` (a read cannot be recorded).
//!
//! Stacked on `#[cache]` (which expands after it), the cached function's
//! `depends_on` and `crate` count for the exported fingerprint too; its
//! other arguments are among the tokens hashed. The stacked arguments are
//! parsed here as well, and an error in them is reported (the compiler
//! shows a diagnostic `#[cache]` repeats only once). The cached function
//! records itself.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Item, ItemFn, LitStr};

use crate::args::{CacheArgs, FingerprintArgs};
use crate::syntax::{is_cache_attribute, mentions_self};

/// The item, followed by its fingerprint companion; a function also
/// records itself.
pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = syn::parse2::<FingerprintArgs>(args);
    let parsed = syn::parse2::<Item>(item.clone());
    let (args, parsed) = match (args, parsed) {
        (Ok(args), Ok(parsed)) => (args, parsed),
        (Err(mut error), Err(other)) => {
            error.combine(other);
            return Err(error);
        }
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    let hashed = CacheArgs {
        version: args.version.clone(),
        ..CacheArgs::default()
    };
    let own = crate::code_fingerprint::fingerprint(&item, &hashed);
    match parsed {
        Item::Fn(function) => expand_fn(args, function, own),
        Item::Const(constant) => Ok(exported(
            item,
            &constant.vis,
            &constant.ident,
            &args.krate,
            &args.depends_on,
            own,
        )),
        Item::Static(value) => Ok(exported(
            item,
            &value.vis,
            &value.ident,
            &args.krate,
            &args.depends_on,
            own,
        )),
        other => Err(syn::Error::new_spanned(
            other,
            "`#[fingerprint]` goes on a function, a `const` or a `static`",
        )),
    }
}

fn expand_fn(args: FingerprintArgs, mut function: ItemFn, own: u128) -> syn::Result<TokenStream> {
    let mut depends_on = args.depends_on;
    let mut krate = args.krate;
    let stacked = stacked_cache_args(&function)?;
    let cached = stacked.is_some();
    if let Some(stacked) = stacked {
        depends_on.extend(stacked.depends_on);
        krate = krate.or(stacked.krate);
    }
    let method = function.sig.receiver().is_some() || mentions_self(function.sig.to_token_stream());
    if cached && method {
        return Err(crate::validate::not_a_free_function(&function.sig));
    }
    let krate_path = krate_path(krate.as_ref());
    let folded = crate::expand::folded_fingerprint(&quote!(__memo_crate), &depends_on, own);
    // A cached function records itself; a `const fn` cannot call the
    // runtime.
    if !cached && function.sig.constness.is_none() {
        let name = LitStr::new(&function.sig.ident.to_string(), function.sig.ident.span());
        let identity = quote!(::core::concat!(::core::module_path!(), "::", #name));
        let dependency = crate::expand::dependency_static(
            &quote!(__memo_crate),
            &identity,
            &function.sig.ident,
            &folded,
        );
        let records = quote!({
            #[allow(unused_imports)]
            use #krate_path as __memo_crate;
            #dependency
            __MEMO_DEP.enter();
        });
        let mut body: Vec<syn::Stmt> = syn::parse2::<syn::Block>(records)?.stmts;
        body.append(&mut function.block.stmts);
        function.block.stmts = body;
    }
    let mut tokens = function.to_token_stream();
    // A method's fingerprint has nowhere to go: a trait impl takes no extra
    // items. It is recorded when it runs.
    if !method {
        tokens.extend(crate::expand::fingerprint_companion(
            &function.vis,
            &function.sig.ident,
            &krate_path,
            &folded,
        ));
    }
    Ok(tokens)
}

/// A `const` or `static` with its exported fingerprint.
fn exported(
    item: TokenStream,
    vis: &syn::Visibility,
    name: &syn::Ident,
    krate: &Option<syn::Path>,
    depends_on: &[syn::Path],
    own: u128,
) -> TokenStream {
    let krate_path = krate_path(krate.as_ref());
    let folded = crate::expand::folded_fingerprint(&quote!(__memo_crate), depends_on, own);
    let mut tokens = item;
    tokens.extend(crate::expand::fingerprint_companion(
        vis,
        name,
        &krate_path,
        &folded,
    ));
    tokens
}

fn krate_path(krate: Option<&syn::Path>) -> TokenStream {
    match krate {
        Some(path) => path.into_token_stream(),
        None => quote!(::memory),
    }
}

/// The arguments of a `#[cache(..)]` stacked below, if there is one.
fn stacked_cache_args(function: &syn::ItemFn) -> syn::Result<Option<CacheArgs>> {
    let Some(cache) = function.attrs.iter().find(|a| is_cache_attribute(a)) else {
        return Ok(None);
    };
    match &cache.meta {
        syn::Meta::List(list) => list.parse_args::<CacheArgs>().map(Some),
        // `#[cache]` alone: no arguments.
        syn::Meta::Path(_) => Ok(Some(CacheArgs::default())),
        syn::Meta::NameValue(meta) => Err(syn::Error::new_spanned(
            meta,
            "write `#[cache(..)]` with its arguments in parentheses",
        )),
    }
}
