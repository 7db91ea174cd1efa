//! Checks that the item is a function `#[cache]` can wrap and resolves the
//! `ignore` names against its parameters.
//!
//! Every problem is reported at its own token, and all of them at once, so a
//! user fixes them in one round instead of one compile per mistake.

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    FnArg, Ident, Item, ItemFn, LitStr, Pat, PatIdent, ReturnType, Signature, Type, TypeImplTrait,
};

use crate::args::CacheArgs;

/// A function that passed every check, with its parameters resolved.
pub struct CacheableFn {
    /// The function as the user wrote it.
    pub item: ItemFn,
    /// One entry per parameter, in order.
    pub params: Vec<Param>,
}

/// One parameter of a [`CacheableFn`].
pub struct Param {
    /// The parameter's name in the emitted signature and in the key: the
    /// user's identifier, or `__memo_arg{i}` for a destructuring pattern.
    pub key_name: Ident,
    /// The user's pattern when it is not a plain identifier; the expansion
    /// destructures `key_name` with it at the start of the body.
    pub pattern: Option<Box<Pat>>,
    /// Named in `ignore`: left out of the key.
    pub ignored: bool,
    /// The type mentions `impl Trait`: an anonymous type parameter whose
    /// concrete type is part of the key unless the parameter is ignored.
    pub has_impl_trait: bool,
}

/// Checks the parsed arguments and the item together; on success returns both,
/// ready to expand. `args` may already be an error: it is reported alongside
/// the function's own problems.
pub fn check(
    args: syn::Result<CacheArgs>,
    item: TokenStream,
) -> syn::Result<(CacheArgs, CacheableFn)> {
    let mut errors = Errors::default();
    let args = errors.ok(args);

    let function = match syn::parse2::<Item>(item) {
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

    // Arguments first, then the function: errors come out in source order.
    let mut params = resolve_params(&function.sig);
    if let Some(args) = &args {
        check_ignore(&args.ignore, &function.sig, &mut params, &mut errors);
        check_name(args.name.as_ref(), &mut errors);
    }
    check_signature(&function.sig, &mut errors);

    match (args, errors.0) {
        (Some(args), None) => Ok((
            args,
            CacheableFn {
                item: function,
                params,
            },
        )),
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
    if let Some(async_token) = &sig.asyncness {
        errors.push(syn::Error::new(
            async_token.span,
            "`#[cache]` does not support `async fn` yet; cache a synchronous function and call it from this one",
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
    for input in &sig.inputs {
        if let FnArg::Receiver(receiver) = input {
            errors.push(syn::Error::new_spanned(
                receiver,
                "`#[cache]` does not support methods (`self` parameters) yet; \
                 cache a free function that takes what the method needs",
            ));
        }
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

/// Resolves each typed parameter to the name it takes part in the key under.
fn resolve_params(sig: &Signature) -> Vec<Param> {
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        // A receiver was already reported; it has no place in the key yet.
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
fn check_ignore(ignore: &[LitStr], sig: &Signature, params: &mut [Param], errors: &mut Errors) {
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

    let nameable: Vec<String> = params
        .iter()
        .filter(|param| param.pattern.is_none())
        .map(|param| format!("`{}`", param.key_name))
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

/// The identifiers a pattern binds: `a` and `b` in `(a, Point { y: b, .. })`.
fn pattern_bindings(pat: &Pat) -> Vec<Ident> {
    #[derive(Default)]
    struct Bindings(Vec<Ident>);
    impl<'ast> Visit<'ast> for Bindings {
        fn visit_pat_ident(&mut self, binding: &'ast PatIdent) {
            self.0.push(binding.ident.clone());
            syn::visit::visit_pat_ident(self, binding);
        }
    }
    let mut bindings = Bindings::default();
    bindings.visit_pat(pat);
    bindings.0
}

/// The first `impl Trait` anywhere in `ty` (as in `Vec<impl Display>`).
fn first_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
    #[derive(Default)]
    struct FirstImplTrait<'ast>(Option<&'ast TypeImplTrait>);
    impl<'ast> Visit<'ast> for FirstImplTrait<'ast> {
        fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
            self.0.get_or_insert(impl_trait);
        }
    }
    let mut found = FirstImplTrait::default();
    found.visit_type(ty);
    found.0
}
