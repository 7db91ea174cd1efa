//! Questions about the user's tokens that both validation and the warnings
//! ask: where a `&mut` is, whether `Self` is named, which attribute is ours.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{
    Attribute, Ident, Pat, PatIdent, Receiver, ReceiverKind, Type, TypeImplTrait, TypeReference,
};

/// `&mut self`, `self: &mut Self` or `self: Pin<&mut Self>`: the tokens to
/// point at.
pub fn mutable_receiver(receiver: &Receiver) -> Option<TokenStream> {
    match &receiver.kind {
        ReceiverKind::Reference(and, lifetime, Some(mutability)) => {
            let self_token = receiver.self_token;
            Some(quote::quote!(#and #lifetime #mutability #self_token))
        }
        ReceiverKind::Typed(_, ty) => first_mut_reference(ty).map(|_| ty.to_token_stream()),
        _ => None,
    }
}

/// The first `&mut` anywhere in `ty`.
pub fn first_mut_reference(ty: &Type) -> Option<&TypeReference> {
    #[derive(Default)]
    struct FirstMut<'ast>(Option<&'ast TypeReference>);
    impl<'ast> Visit<'ast> for FirstMut<'ast> {
        fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
            if reference.mutability.is_some() {
                self.0.get_or_insert(reference);
            }
            syn::visit::visit_type_reference(self, reference);
        }
    }
    let mut found = FirstMut::default();
    found.visit_type(ty);
    found.0
}

/// Whether the tokens name `Self`.
pub fn mentions_self(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "Self",
        proc_macro2::TokenTree::Group(group) => mentions_self(group.stream()),
        proc_macro2::TokenTree::Punct(_) | proc_macro2::TokenTree::Literal(_) => false,
    })
}

/// `#[fingerprint]`, `#[memory::fingerprint]`, `#[some::path::fingerprint]`.
pub fn is_fingerprint_attribute(attribute: &Attribute) -> bool {
    last_segment_is(attribute, "fingerprint")
}

/// `#[cache(..)]`, `#[memory::cache(..)]`, ...
pub fn is_cache_attribute(attribute: &Attribute) -> bool {
    last_segment_is(attribute, "cache")
}

fn last_segment_is(attribute: &Attribute, name: &str) -> bool {
    matches!(attribute.style, syn::AttrStyle::Outer)
        && attribute
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == name)
}

/// The identifiers a pattern binds: `a` and `b` in `(a, Point { y: b, .. })`.
pub fn pattern_bindings(pat: &Pat) -> Vec<Ident> {
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
pub fn first_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
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
