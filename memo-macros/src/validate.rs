//! Checks that the item is a function `#[cache]` can wrap, resolves the
//! `ignore` names against its parameters (`self` included), applies the
//! `&mut` policy, and collects the compile-time warnings.
//!
//! The `&mut` policy: a `&mut` parameter (`&mut self` included) that takes
//! part in the key is an error. On a hit the body does not run, so whatever
//! it would have changed through the reference stays unchanged: the cached
//! function would not behave like the function. The error says what to do
//! instead: pass it by value or `&`, or list it in `ignore` when it is not an
//! input of the result (scratch space, a log) — then it compiles, with a
//! warning that its changes happen on a miss only (`allow(mut_argument)`).
//!
//! Every problem is reported at its own token, and all of them at once, so a
//! user fixes them in one round instead of one compile per mistake.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, Ident, Item, LitStr, Pat, PatIdent, ReceiverKind, ReturnType, Signature, Type,
};

use crate::args::CacheArgs;
use crate::model::{CacheableFn, Param, SelfParam};
use crate::syntax::{
    first_impl_trait, first_mut_reference, is_fingerprint_attribute, mentions_self,
    mutable_receiver, pattern_bindings,
};

/// Checks the parsed arguments and the item together; on success returns both,
/// ready to expand. `args` may already be an error: it is reported alongside
/// the function's own problems.
pub fn check(
    args: syn::Result<CacheArgs>,
    item: TokenStream,
) -> syn::Result<(CacheArgs, CacheableFn)> {
    let mut errors = Errors::default();
    let args = errors.ok(args);

    let mut function = match syn::parse2::<Item>(item) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            errors.push(not_a_function(&other));
            return Err(errors.into_error());
        }
        Err(error) => {
            errors.push(error);
            return Err(errors.into_error());
        }
    };

    let export_fingerprint = take_fingerprint_attribute(&mut function.attrs, &mut errors);
    // Arguments first, then the function: errors come out in source order.
    let mut receiver = resolve_receiver(&function.sig);
    let mut params = resolve_params(&function.sig);
    if let Some(args) = &args {
        check_ignore(
            &args.ignore,
            &function.sig,
            &mut receiver,
            &mut params,
            &mut errors,
        );
        check_name(args.name.as_ref(), &mut errors);
        check_depends_on(&args.depends_on, &mut errors);
    }
    check_signature(&function.sig, &mut errors);
    check_mut_references(&function.sig, receiver.as_ref(), &params, &mut errors);
    let method = receiver.is_some() || mentions_self(function.sig.to_token_stream());
    if export_fingerprint && method {
        errors.push(not_a_free_function(&function.sig));
    }

    match (args, errors.0) {
        (Some(args), None) => {
            let warnings =
                crate::warnings::collect(&args, &function.sig, receiver.as_ref(), &params);
            Ok((
                args,
                CacheableFn {
                    item: function,
                    receiver,
                    params,
                    method,
                    export_fingerprint,
                    warnings,
                },
            ))
        }
        (_, Some(error)) => Err(error),
        (None, None) => unreachable!("a failed argument parse is recorded in `errors`"),
    }
}

/// Collects errors, combining them into one `syn::Error` that renders as
/// several diagnostics.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    fn into_error(self) -> syn::Error {
        self.0.unwrap_or_else(|| {
            syn::Error::new(Span::call_site(), "internal error: no error recorded")
        })
    }
}

fn not_a_function(item: &Item) -> syn::Error {
    // syn keeps a function without a body (in a trait or an `extern` block)
    // as verbatim tokens.
    if let Item::Verbatim(tokens) = item
        && let Ok(declaration) = syn::parse2::<syn::ForeignItemFn>(tokens.clone())
    {
        return syn::Error::new(
            declaration.semi_token.span,
            "`#[cache]` needs a function with a body; this declaration has none",
        );
    }
    let (span, kind) = match item {
        Item::Const(item) => (item.const_token.span, "a `const`"),
        Item::Enum(item) => (item.enum_token.span, "an enum"),
        Item::ExternCrate(item) => (item.extern_token.span, "an `extern crate`"),
        Item::ForeignMod(item) => (item.abi.extern_token.span, "an `extern` block"),
        Item::Impl(item) => (item.impl_token.span, "an `impl` block"),
        Item::Macro(item) => (item.mac.path.span(), "a macro invocation"),
        Item::Mod(item) => (item.mod_token.span, "a module"),
        Item::Static(item) => (item.static_token.span, "a `static`"),
        Item::Struct(item) => (item.struct_token.span, "a struct"),
        Item::Trait(item) => (item.trait_token.span, "a trait"),
        Item::TraitAlias(item) => (item.trait_token.span, "a trait alias"),
        Item::Type(item) => (item.type_token.span, "a type alias"),
        Item::Union(item) => (item.union_token.span, "a union"),
        Item::Use(item) => (item.use_token.span, "a `use`"),
        _ => (item.span(), "an item that is not a function"),
    };
    syn::Error::new(
        span,
        format!("`#[cache]` can only be applied to functions, found {kind}"),
    )
}

/// Rejects the kinds of function the expansion cannot wrap (yet).
fn check_signature(sig: &Signature, errors: &mut Errors) {
    if let Some(const_token) = &sig.constness {
        errors.push(syn::Error::new(
            const_token.span,
            "`#[cache]` cannot be applied to a `const fn`: a cached call reads and writes the cache at run time",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "`#[cache]` cannot be applied to an `extern` function; cache a Rust function and call it from this one",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic.dots,
            "`#[cache]` cannot be applied to a variadic function: `...` arguments cannot be hashed",
        ));
    }
    if let ReturnType::Type(_, output) = &sig.output
        && let Some(impl_trait) = first_impl_trait(output)
    {
        errors.push(syn::Error::new_spanned(
            impl_trait,
            "`#[cache]` cannot return `impl Trait`: a stored output is decoded into a named type; \
             write the concrete type",
        ));
    }
}

/// The `self` parameter, if any.
fn resolve_receiver(sig: &Signature) -> Option<SelfParam> {
    let receiver = sig.receiver()?;
    let by_value = match &receiver.kind {
        ReceiverKind::Value => true,
        ReceiverKind::Typed(_, ty) => is_plain_self(ty),
        _ => false,
    };
    Some(SelfParam {
        self_token: receiver.self_token,
        by_value,
        ignored: false,
    })
}

/// `Self`, as a type.
fn is_plain_self(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident("Self"))
}

/// Resolves each typed parameter to the name it takes part in the key under.
fn resolve_params(sig: &Signature) -> Vec<Param> {
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else { continue };
        let (key_name, pattern) = match plain_identifier(&typed.pat) {
            Some(ident) => (ident.clone(), None),
            None => (
                format_ident!("__memo_arg{}", index, span = typed.pat.span()),
                Some(typed.pat.clone()),
            ),
        };
        params.push(Param {
            key_name,
            pattern,
            ignored: false,
            has_impl_trait: first_impl_trait(&typed.ty).is_some(),
            ty: typed.ty.clone(),
        });
    }
    params
}

/// `x` or `mut x` (also `ref x`): a pattern that binds the whole argument to
/// one name, which `ignore` can refer to.
fn plain_identifier(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(PatIdent {
            ident,
            subpat: None,
            ..
        }) => Some(ident),
        _ => None,
    }
}

/// Marks the parameters named in `ignore`, reporting names that are not
/// parameters, are repeated, or are bound inside a destructuring pattern.
fn check_ignore(
    ignore: &[LitStr],
    sig: &Signature,
    receiver: &mut Option<SelfParam>,
    params: &mut [Param],
    errors: &mut Errors,
) {
    for (position, name) in ignore.iter().enumerate() {
        let value = name.value();
        if ignore[..position]
            .iter()
            .any(|earlier| earlier.value() == value)
        {
            errors.push(syn::Error::new(
                name.span(),
                format!("`{value}` is already in `ignore`"),
            ));
            continue;
        }
        if value == "self" {
            match receiver {
                Some(receiver) => receiver.ignored = true,
                None => errors.push(syn::Error::new(
                    name.span(),
                    format!("`{}` has no `self` parameter to ignore", sig.ident),
                )),
            }
            continue;
        }
        let named = params
            .iter_mut()
            .find(|param| param.pattern.is_none() && param.key_name == value);
        match named {
            Some(param) => param.ignored = true,
            None => errors.push(unknown_ignored_name(name, sig, params)),
        }
    }
}

fn unknown_ignored_name(name: &LitStr, sig: &Signature, params: &[Param]) -> syn::Error {
    let value = name.value();
    let bound_in_pattern = params
        .iter()
        .filter_map(|param| param.pattern.as_deref())
        .any(|pattern| {
            pattern_bindings(pattern)
                .iter()
                .any(|binding| *binding == value)
        });
    if bound_in_pattern {
        return syn::Error::new(
            name.span(),
            format!(
                "`{value}` is bound inside a destructuring pattern; `ignore` can only name a parameter \
                 written as a plain identifier (bind the whole argument to a name and destructure it in the body)"
            ),
        );
    }

    let receiver = sig.receiver().map(|_| "`self`".to_owned());
    let nameable: Vec<String> = receiver
        .into_iter()
        .chain(
            params
                .iter()
                .filter(|param| param.pattern.is_none())
                .map(|param| format!("`{}`", param.key_name)),
        )
        .collect();
    let function = &sig.ident;
    let message = if nameable.is_empty() {
        format!(
            "`{value}` is not a parameter of `{function}`, which has no parameters `ignore` can name"
        )
    } else {
        format!(
            "`{value}` is not a parameter of `{function}`; its parameters are {}",
            nameable.join(", ")
        )
    };
    syn::Error::new(name.span(), message)
}

fn check_name(name: Option<&LitStr>, errors: &mut Errors) {
    if let Some(name) = name
        && name.value().trim().is_empty()
    {
        errors.push(syn::Error::new(
            name.span(),
            "`name` cannot be empty: it is the identity cached results are stored under",
        ));
    }
}

/// `depends_on` paths name free functions (their companion items live in
/// the same module): `Self::helper` has none, and generic arguments have no
/// place in them.
fn check_depends_on(paths: &[syn::Path], errors: &mut Errors) {
    for path in paths {
        if path.segments.first().is_some_and(|s| s.ident == "Self") {
            errors.push(syn::Error::new_spanned(
                path,
                "`depends_on` names free functions; a method cannot be a dependency \
                 (an `impl` block cannot hold its fingerprint): move the helper out of the \
                 `impl`, or bump `version` by hand",
            ));
        } else if let Some(segment) = path
            .segments
            .iter()
            .find(|segment| !segment.arguments.is_none())
        {
            errors.push(syn::Error::new_spanned(
                &segment.arguments,
                "write the function's path without generic arguments: \
                 a fingerprint covers every instantiation",
            ));
        }
    }
}

/// The `&mut` policy (see the module docs): a `&mut` parameter that takes
/// part in the key is an error.
fn check_mut_references(
    sig: &Signature,
    receiver: Option<&SelfParam>,
    params: &[Param],
    errors: &mut Errors,
) {
    if let Some(receiver_param) = sig.receiver()
        && !receiver.is_some_and(|r| r.ignored)
        && let Some(mutable) = mutable_receiver(receiver_param)
    {
        errors.push(syn::Error::new_spanned(
            mutable,
            "`#[cache]` cannot cache a method that takes `&mut self`: on a hit the body does not \
             run, so its changes to `self` would be lost. Take `&self` (and return what changes), \
             or, if `self` is not an input of the result, list \"self\" in `ignore` (its \
             changes then happen on a miss only)",
        ));
    }
    for param in params.iter().filter(|param| !param.ignored) {
        if let Some(reference) = first_mut_reference(&param.ty) {
            let name = &param.key_name;
            let hint = if param.pattern.is_none() {
                format!(
                    "or, if `{name}` is not an input of the result, list \"{name}\" in `ignore` \
                     (its changes then happen on a miss only)"
                )
            } else {
                "or bind it to a name and list that name in `ignore` if it is not an input of \
                 the result"
                    .to_owned()
            };
            errors.push(syn::Error::new_spanned(
                reference,
                format!(
                    "`#[cache]` cannot key a `&mut` parameter: on a hit the body does not run, \
                     so its changes through it would be lost. Pass it by value or by `&`, {hint}"
                ),
            ));
        }
    }
}

/// `#[fingerprint]` on a cached method: its exported fingerprint would have
/// to live in the `impl` block, which (in a trait impl) takes no extra
/// items; and a cached function is recorded by its callers without it.
pub fn not_a_free_function(sig: &Signature) -> syn::Error {
    let span = sig
        .receiver()
        .map_or_else(|| sig.ident.span(), |receiver| receiver.self_token.span);
    syn::Error::new(
        span,
        "`#[fingerprint]` on a cached method is not needed: the cached functions that call it \
         record it; to name it in `depends_on`, move it out of the `impl` (a trait impl takes \
         no extra items for its exported fingerprint)",
    )
}

/// Takes a `#[fingerprint]` / `#[memory::fingerprint]` attribute off the
/// function: the expansion exports the cached function's own fingerprint.
fn take_fingerprint_attribute(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> bool {
    let Some(at) = attrs.iter().position(is_fingerprint_attribute) else {
        return false;
    };
    let attribute = attrs.remove(at);
    if !matches!(attribute.meta, syn::Meta::Path(_)) {
        errors.push(syn::Error::new_spanned(
            &attribute.meta,
            "on a cached function, `#[fingerprint]` takes no arguments: \
             give `depends_on` and `version` to `#[cache]`",
        ));
    }
    true
}
