//! Compile-time warnings: things that compile but are probably wrong.
//!
//! Stable Rust gives proc macros no warning API, so each warning is the
//! `deprecated` lint on a use of a hidden constant whose deprecation note is
//! the message (the technique of the `proc-macro-warning` crate): the use
//! is spanned on the offending token, so the warning lands there, and lint
//! levels apply as to any warning (`#![deny(warnings)]` makes it an error).
//!
//! Each warning names the `allow(..)` argument that silences it for one
//! function; `#[allow(deprecated)]` on the function silences all of them
//! (and real deprecations with them).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, ReturnType, Signature, Type};

use crate::args::CacheArgs;
use crate::lints::Lint;
use crate::model::{Param, SelfParam, Warning};
use crate::syntax::{first_mut_reference, mutable_receiver};

/// Types whose value is a handle on something else (a file, a socket, a
/// lock, a channel): caching on them keys the handle, not what it refers
/// to, and they are rarely inputs of a result.
const HANDLE_TYPES: &[&str] = &[
    "File",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "UnixListener",
    "UnixDatagram",
    "Child",
    "ChildStdin",
    "ChildStdout",
    "ChildStderr",
    "Stdin",
    "Stdout",
    "Stderr",
    "BufReader",
    "BufWriter",
    "LineWriter",
    "Mutex",
    "RwLock",
    "RefCell",
    "Cell",
    "OnceCell",
    "OnceLock",
    "AtomicBool",
    "AtomicI8",
    "AtomicI16",
    "AtomicI32",
    "AtomicI64",
    "AtomicIsize",
    "AtomicU8",
    "AtomicU16",
    "AtomicU32",
    "AtomicU64",
    "AtomicUsize",
    "Sender",
    "SyncSender",
    "Receiver",
    "JoinHandle",
];

/// The warnings for a function that passed validation.
pub fn collect(
    args: &CacheArgs,
    sig: &Signature,
    receiver: Option<&SelfParam>,
    params: &[Param],
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let mut warn = |lint: Lint, span: Span, message: String| {
        if !args.allows(lint) {
            warnings.push(Warning {
                lint,
                span,
                message,
            });
        }
    };

    if let Some(span) = unit_output(&sig.output) {
        warn(
            Lint::UnitOutput,
            span.unwrap_or_else(|| sig.ident.span()),
            format!(
                "`{}` returns `()`: a hit stores and returns nothing and skips the body, so \
                 whatever the body does is done once, ever",
                sig.ident
            ),
        );
    }

    let keyed_generics = sig
        .generics
        .params
        .iter()
        .any(|param| matches!(param, GenericParam::Type(_) | GenericParam::Const(_)));
    let has_params = receiver.is_some() || !params.is_empty();
    let all_ignored = receiver.is_none_or(|r| r.ignored) && params.iter().all(|p| p.ignored);
    if has_params && all_ignored && !keyed_generics {
        let span = args
            .ignore
            .first()
            .map_or_else(|| sig.ident.span(), syn::LitStr::span);
        warn(
            Lint::AllIgnored,
            span,
            format!(
                "every parameter of `{}` is in `ignore`: all calls share one stored result, \
                 whatever their arguments",
                sig.ident
            ),
        );
    }

    if let Some(receiver_param) = sig.receiver()
        && receiver.is_some_and(|r| r.ignored)
        && mutable_receiver(receiver_param).is_some()
    {
        warn(
            Lint::MutArgument,
            receiver_param.self_token.span,
            "`self` is a `&mut` reference in `ignore`: the body's changes to it happen on a \
             miss only, never on a hit"
                .to_owned(),
        );
    }
    for param in params {
        if param.ignored {
            if first_mut_reference(&param.ty).is_some() {
                warn(
                    Lint::MutArgument,
                    param.key_name.span(),
                    format!(
                        "`{}` is a `&mut` reference in `ignore`: the body's changes through it \
                         happen on a miss only, never on a hit",
                        param.key_name
                    ),
                );
            }
        } else if let Some((name, span)) = handle_type(&param.ty) {
            warn(
                Lint::HandleArgument,
                span,
                format!(
                    "`{}` looks like a handle (`{name}`): its key is the handle's own state, not \
                     what it refers to; if it is not an input of the result, list \"{}\" in \
                     `ignore`",
                    param.key_name, param.key_name
                ),
            );
        }
    }
    warnings
}

/// `Some` if the function returns `()`: the span of a written `()`, or
/// `None` when the return type is left out.
fn unit_output(output: &ReturnType) -> Option<Option<Span>> {
    match output {
        ReturnType::Default => Some(None),
        ReturnType::Type(_, ty) => match &**ty {
            Type::Tuple(tuple) if tuple.elems.is_empty() => Some(Some(tuple.span())),
            _ => None,
        },
    }
}

/// The handle type `ty` is or refers to (`File`, `&File`, `&Mutex<T>`,
/// `Arc<Mutex<T>>`), with the span of its name.
fn handle_type(ty: &Type) -> Option<(String, Span)> {
    match ty {
        Type::Reference(reference) => handle_type(&reference.elem),
        Type::Paren(paren) => handle_type(&paren.elem),
        Type::Group(group) => handle_type(&group.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let name = last.ident.to_string();
            if HANDLE_TYPES.contains(&name.as_str()) {
                return Some((name, last.ident.span()));
            }
            // Smart pointers are looked through: `Arc<Mutex<T>>`.
            if matches!(name.as_str(), "Arc" | "Rc" | "Box")
                && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
            {
                return handle_type(inner);
            }
            None
        }
        _ => None,
    }
}

/// The tokens that raise `warnings`, for the start of the function's body.
pub fn emit(warnings: &[Warning]) -> TokenStream {
    warnings
        .iter()
        .map(|warning| {
            let constant = format_ident!("{}", warning.lint.name(), span = warning.span);
            let note = format!(
                "{}. Silence with `#[memory::cache(allow({}))]`",
                warning.message, warning.lint
            );
            quote_spanned! {warning.span=>
                {
                    #[deprecated(note = #note)]
                    #[allow(non_upper_case_globals)]
                    const #constant: () = ();
                    let () = #constant;
                }
            }
        })
        .collect()
}
