//! Implementation detail of `memo-core`: use `#[memory::cache]` from there.
//!
//! The attribute is built in three steps, one file each: `args.rs` parses its
//! arguments, `validate.rs` checks them against the function, `expand.rs`
//! writes the cached function; `fingerprint.rs` hashes the function's code.

mod args;
mod expand;
mod fingerprint;
mod validate;

use proc_macro::TokenStream;

use crate::args::CacheArgs;

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

fn cache_function(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args = syn::parse2::<CacheArgs>(args);
    let fingerprint_input = item.clone();
    let (args, function) = validate::check(args, item)?;
    let fingerprint = fingerprint::fingerprint(&fingerprint_input, &args);
    Ok(expand::expand(&args, &function, fingerprint))
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
