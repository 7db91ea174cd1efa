//! Implementation detail of `memo-core`: use `#[memory::cache]` from there.
//!
//! `#[cache]` is built in three steps, one file each: `args.rs` parses its
//! arguments, `validate.rs` checks them against the function (handing
//! `model.rs`'s types on), `expand.rs` writes the cached function.
//! `code_fingerprint.rs` hashes the function's code, `warnings.rs` raises
//! the compile-time warnings (named in `lints.rs`), `syntax.rs` answers
//! questions about the user's tokens, `inline_body.rs` whether a body can
//! run without a closure. `#[fingerprint]` lives in `fingerprint_attr.rs`.

mod args;
mod code_fingerprint;
mod expand;
mod fingerprint_attr;
mod inline_body;
mod lints;
mod model;
mod syntax;
mod validate;
mod warnings;

use proc_macro::TokenStream;

use crate::args::CacheArgs;

/// Rewrites a function so calls with arguments seen before return the stored
/// result. Use it as `memory::cache`, where its arguments are documented.
#[proc_macro_attribute]
pub fn cache(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let args = syn::parse2::<CacheArgs>(args.into());
    let fingerprint_input = item.clone();
    let expanded = validate::check(args, item.clone()).map(|(args, function)| {
        let code = code_fingerprint::fingerprint(&fingerprint_input, &args);
        let key = match args.ignore_code {
            Some((true, _)) => code_fingerprint::manual(&args),
            _ => code,
        };
        expand::expand(&args, &function, key, code)
    });
    match expanded {
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
    match fingerprint_attr::expand(args.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        Err(errors) => with_function_unchanged(&errors, item).into(),
    }
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
