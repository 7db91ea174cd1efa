//! Whether a sync body can run inline, in a block of the cached function,
//! instead of in a closure: one body less to type-check, borrow-check and
//! compile per cached function.
//!
//! The closure is what makes a `return` or a `?` in the body leave the body,
//! with an output that is then stored, rather than the function, storing
//! nothing. A body with neither — outside the closures, async blocks and
//! items nested in it, whose `return` and `?` are their own — runs the same
//! in a block. Macros are opaque here: a body invoking one keeps its
//! closure, unless it is one of std's that never expand to `return` or `?`
//! (`vec!`, `format!`, `assert!`, ...) and its own tokens hold neither. A
//! body that defines a macro keeps its closure too (it could shadow one of
//! those names).

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// std macros whose expansion holds no `return` or `?` of its own, nor
/// always diverges (code after `todo!()` would be unreachable).
const PLAIN_STD_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "cfg",
    "column",
    "concat",
    "dbg",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "env",
    "eprint",
    "eprintln",
    "file",
    "format",
    "format_args",
    "include_bytes",
    "include_str",
    "line",
    "matches",
    "module_path",
    "option_env",
    "print",
    "println",
    "stringify",
    "vec",
    "write",
    "writeln",
];

/// Whether `block` can run inline (see the module docs).
pub fn runs_inline(block: &syn::Block) -> bool {
    let mut escapes = Escapes(false);
    escapes.visit_block(block);
    !escapes.0
}

/// Set when something in the body may leave the function from inside it.
struct Escapes(bool);

impl<'ast> Visit<'ast> for Escapes {
    fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
        self.0 = true;
    }

    fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
        self.0 = true;
    }

    fn visit_macro(&mut self, invocation: &'ast syn::Macro) {
        if !is_plain_std_macro(invocation) || may_escape(invocation.tokens.clone()) {
            self.0 = true;
        }
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        // A nested item's `return` is its own; a macro defined here could
        // shadow a std one.
        if matches!(item, syn::Item::Macro(_)) {
            self.0 = true;
        }
    }

    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}

    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
}

/// `vec![..]`, `std::vec![..]`, `::core::assert!(..)`: named in
/// [`PLAIN_STD_MACROS`], bare or under `std`, `core` or `alloc`.
fn is_plain_std_macro(invocation: &syn::Macro) -> bool {
    let segments = &invocation.path.segments;
    let under_std = match segments.len() {
        1 => invocation.path.leading_colon.is_none(),
        2 => ["std", "core", "alloc"]
            .iter()
            .any(|krate| segments[0].ident == krate),
        _ => false,
    };
    under_std
        && segments.last().is_some_and(|last| {
            last.arguments.is_none() && PLAIN_STD_MACROS.iter().any(|name| last.ident == name)
        })
}

/// Whether a macro's tokens hold a `return` or a `?`, at any depth.
fn may_escape(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "return",
        TokenTree::Punct(punct) => punct.as_char() == '?',
        TokenTree::Group(group) => may_escape(group.stream()),
        TokenTree::Literal(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(body: &str) -> bool {
        runs_inline(&syn::parse_str(body).expect("a block"))
    }

    #[test]
    fn bodies_without_return_or_try_run_inline() {
        assert!(inline("{ x + 1 }"));
        assert!(inline("{ let v = vec![x; 3]; println!(\"{v:?}\"); v }"));
        assert!(inline("{ std::vec![x] }"));
        assert!(inline("{ if x > 1 { 1 } else { loop { break 2; } } }"));
    }

    #[test]
    fn return_and_try_keep_the_closure() {
        assert!(!inline("{ if x > 1 { return 1; } 2 }"));
        assert!(!inline("{ let y = parse(x)?; y }"));
        assert!(!inline("{ match x { 0 => return 0, n => n } }"));
    }

    #[test]
    fn nested_closures_async_blocks_and_items_have_their_own_returns() {
        assert!(inline(
            "{ let f = |a: u32| { if a > 1 { return a; } a + 1 }; f(x) }"
        ));
        assert!(inline("{ let f = async { return 1; }; drop(f); 2 }"));
        assert!(inline(
            "{ fn helper(a: u32) -> u32 { return a; } helper(x) }"
        ));
        assert!(inline("{ let g = || -> Option<u32> { Some(x?) }; g() }"));
    }

    #[test]
    fn other_macros_keep_the_closure() {
        assert!(!inline("{ bail!(\"no\") }"));
        assert!(!inline("{ anyhow::ensure!(x > 1); x }"));
        assert!(!inline("{ my::vec![x] }"));
        assert!(!inline("{ ::vec![x] }"));
        assert!(!inline("{ todo!() }"));
        assert!(!inline("{ vec![parse(x)?] }"));
        assert!(!inline("{ format!(\"{}\", { return 1; }) }"));
        assert!(!inline(
            "{ macro_rules! vec { () => { return 1 }; } vec![] }"
        ));
    }
}
