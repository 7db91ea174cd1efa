//! What validation hands to expansion: a function `#[cache]` can wrap, its
//! parameters resolved, and the warnings it earned.

use proc_macro2::Span;
use syn::{Ident, ItemFn, Pat, Type};

use crate::lints::Lint;

/// A function that passed every check, with its parameters resolved.
pub struct CacheableFn {
    /// The function as the user wrote it (without a `#[fingerprint]`
    /// attribute, which the expansion takes over).
    pub item: ItemFn,
    /// Its `self` parameter, if it is a method.
    pub receiver: Option<SelfParam>,
    /// One entry per typed parameter, in order.
    pub params: Vec<Param>,
    /// Whether its identity holds `Self`: it takes `self` or names `Self`
    /// in its signature.
    pub method: bool,
    /// A `#[fingerprint]` attribute was on it: export the fingerprint.
    pub export_fingerprint: bool,
    /// Things that compile but are probably wrong.
    pub warnings: Vec<Warning>,
}

/// The `self` parameter of a method.
pub struct SelfParam {
    /// `self`, as written (its span places generated uses of `self`).
    pub self_token: syn::Token![self],
    /// `self` or `self: Self`: the value itself is hashed; otherwise
    /// (`&self`, `self: Arc<Self>`, ...) what it points to.
    pub by_value: bool,
    /// Named in `ignore`.
    pub ignored: bool,
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
    /// The parameter's type.
    pub ty: Box<Type>,
}

/// One warning, placed at `span`.
pub struct Warning {
    /// The `allow(..)` name that silences it.
    pub lint: Lint,
    /// Where the warning lands.
    pub span: Span,
    /// What is probably wrong, in words.
    pub message: String,
}
