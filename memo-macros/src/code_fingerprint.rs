//! The code fingerprint: a hash of what the function *is*, so that editing it
//! invalidates its cached results while reformatting or commenting does not.
//!
//! Comments and whitespace never reach a proc macro as tokens, except doc
//! comments, which arrive as `#[doc = "..."]` / `#![doc = "..."]` attributes;
//! those are skipped. Everything else is hashed token by token from the
//! compiler's own token stream (not from a syn re-print, so a syn upgrade
//! cannot change every fingerprint at once).

use proc_macro2::{Delimiter, Group, Spacing, TokenStream, TokenTree};
use xxhash_rust::xxh3::Xxh3Default;

use crate::args::CacheArgs;

/// Bump when the walk below changes, so old and new fingerprints never meet.
const FINGERPRINT_SCHEME: u32 = 1;

// One tag byte before each piece, so different token sequences cannot write
// the same bytes.
const TAG_IDENT: u8 = 1;
const TAG_PUNCT: u8 = 2;
const TAG_LITERAL: u8 = 3;
const TAG_GROUP: u8 = 4;
const TAG_GROUP_END: u8 = 5;
const TAG_IGNORE: u8 = 6;
const TAG_NAME: u8 = 7;
const TAG_VERSION: u8 = 8;
const TAG_IGNORE_CODE: u8 = 9;

/// The fingerprint of a function: its tokens (the `#[cache]` attribute is
/// already gone: the compiler removes it before calling us) and the attribute
/// arguments that change which results a call may reuse (`ignore`, `name`,
/// `version`). `verbose`, `memory`, `crate`, `expires_after`, `validate` and
/// `allow` change where, how or how long results are kept, not what they
/// are, so they are left out; `depends_on` fingerprints are folded in by
/// the compiler (`__private::fold_fingerprints`), as their values are only
/// known there.
pub fn fingerprint(function: &TokenStream, args: &CacheArgs) -> u128 {
    let mut hasher = Hasher::default();
    hasher.bytes(&FINGERPRINT_SCHEME.to_le_bytes());
    hasher.tokens(without_where_clause_trailing_comma(function), false);
    hasher.arguments(args);
    hasher.0.digest128()
}

/// The fingerprint of a function with `ignore_code = true`: the attribute
/// arguments that shape the key and the `version`, never the tokens, so
/// edits keep the results until the version changes. Tagged apart from
/// every code fingerprint.
pub fn manual(args: &CacheArgs) -> u128 {
    let mut hasher = Hasher::default();
    hasher.bytes(&FINGERPRINT_SCHEME.to_le_bytes());
    hasher.tag(TAG_IGNORE_CODE);
    hasher.arguments(args);
    hasher.0.digest128()
}

impl Hasher {
    /// `ignore`, `name` and `version`: the arguments that change which
    /// results a call may reuse.
    fn arguments(&mut self, args: &CacheArgs) {
        let hasher = self;

        // The order of `ignore` does not change the key, so it does not change
        // the fingerprint either.
        let mut ignored: Vec<String> = args.ignore.iter().map(syn::LitStr::value).collect();
        ignored.sort();
        ignored.dedup();
        hasher.tag(TAG_IGNORE);
        hasher.length(ignored.len());
        for name in &ignored {
            hasher.string(name);
        }

        hasher.tag(TAG_NAME);
        match &args.name {
            Some(name) => {
                hasher.tag(1);
                hasher.string(&name.value());
            }
            None => hasher.tag(0),
        }

        // Absent and present stay apart from any version string; an absent
        // version leaves every fingerprint as it was before `version` existed.
        if let Some(version) = &args.version {
            hasher.tag(TAG_VERSION);
            hasher.string(&version.value());
        }
    }
}

#[derive(Default)]
struct Hasher(Xxh3Default);

impl Hasher {
    /// Hashes a token list. `trailing_comma_is_layout`: whether a comma
    /// right before the end of this list is formatting, not meaning (see
    /// [`trailing_comma_is_layout`]).
    fn tokens(&mut self, tokens: TokenStream, trailing_comma_is_layout: bool) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut position = 0;
        while position < tokens.len() {
            if let Some(length) = doc_attribute_length(&tokens[position..]) {
                position += length;
                continue;
            }
            let next = tokens.get(position + 1);
            if is_punct(Some(&tokens[position]), ',')
                && (next.is_none() && trailing_comma_is_layout || is_punct(next, '>'))
            {
                // rustfmt adds these when a list goes vertical (after a
                // comment is added, say): `fn f(\n    x: u64, // why\n)`.
                position += 1;
                continue;
            }
            let previous = position.checked_sub(1).map(|at| &tokens[at]);
            self.token(&tokens[position], previous);
            position += 1;
        }
    }

    fn token(&mut self, token: &TokenTree, previous: Option<&TokenTree>) {
        match token {
            TokenTree::Ident(ident) => {
                self.tag(TAG_IDENT);
                self.string(&ident.to_string());
            }
            TokenTree::Punct(punct) => {
                self.tag(TAG_PUNCT);
                self.bytes(&u32::from(punct.as_char()).to_le_bytes());
                // `a && b` and `a & &b` differ only in spacing.
                self.tag(match punct.spacing() {
                    Spacing::Joint => 1,
                    Spacing::Alone => 0,
                });
            }
            TokenTree::Literal(literal) => {
                self.tag(TAG_LITERAL);
                self.string(&literal.to_string());
            }
            TokenTree::Group(group) => {
                self.tag(TAG_GROUP);
                self.tag(match group.delimiter() {
                    Delimiter::Parenthesis => 0,
                    Delimiter::Brace => 1,
                    Delimiter::Bracket => 2,
                    Delimiter::None => 3,
                });
                self.tokens(group.stream(), trailing_comma_is_layout(group, previous));
                self.tag(TAG_GROUP_END);
            }
        }
    }

    fn tag(&mut self, tag: u8) {
        self.0.update(&[tag]);
    }

    fn length(&mut self, length: usize) {
        self.bytes(&(length as u64).to_le_bytes());
    }

    /// Length-prefixed, so `ab` + `c` and `a` + `bc` differ.
    fn string(&mut self, text: &str) {
        self.length(text.len());
        self.bytes(text.as_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Whether a trailing comma inside `group` (preceded by `previous`) is
/// only layout. In brackets and braces it always is (`[a,]` is `[a]`). In
/// parentheses it is for an argument, parameter or field list (after a
/// name or a group: `f(a,)`, `fn f(x: u64,)`, `g()(a,)`) and for a tuple of
/// two or more (`(a, b,)`), but not for a one-element tuple: `(a,)` is not
/// `(a)`. Macro arguments (`m!(a,)`) are the macro's business: kept.
fn trailing_comma_is_layout(group: &Group, previous: Option<&TokenTree>) -> bool {
    /// Keywords after which `(` opens an expression, a pattern or a type.
    const BEFORE_EXPRESSION: &[&str] = &[
        "as", "box", "break", "dyn", "else", "for", "if", "impl", "in", "let", "match", "move",
        "mut", "ref", "return", "static", "const", "type", "where", "while", "yield",
    ];
    match group.delimiter() {
        Delimiter::Bracket | Delimiter::Brace => true,
        Delimiter::None => false,
        Delimiter::Parenthesis => {
            let call_like = match previous {
                Some(TokenTree::Ident(ident)) => {
                    !BEFORE_EXPRESSION.contains(&ident.to_string().as_str())
                }
                Some(TokenTree::Group(_)) => true,
                _ => false,
            };
            let commas = group
                .stream()
                .into_iter()
                .filter(|t| is_punct(Some(t), ','))
                .count();
            call_like || commas >= 2
        }
    }
}

/// The function's tokens without the comma rustfmt puts after the last
/// predicate of a vertical `where` clause (right before the body). At the
/// top level of an item, a comma followed by the body can only be that.
fn without_where_clause_trailing_comma(function: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = function.clone().into_iter().collect();
    let mut kept = Vec::with_capacity(tokens.len());
    for (at, token) in tokens.iter().enumerate() {
        let before_body = at + 2 == tokens.len()
            && matches!(&tokens[at + 1], TokenTree::Group(g) if g.delimiter() == Delimiter::Brace);
        if !(before_body && is_punct(Some(token), ',')) {
            kept.push(token.clone());
        }
    }
    kept.into_iter().collect()
}

fn is_punct(token: Option<&TokenTree>, ch: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

/// How many tokens a doc attribute at the start of `tokens` spans: 2 for
/// `#[doc = ..]` (what `///` becomes), 3 for `#![doc = ..]` (what `//!`
/// becomes); `None` if `tokens` does not start with one.
fn doc_attribute_length(tokens: &[TokenTree]) -> Option<usize> {
    if !is_punct(tokens.first(), '#') {
        return None;
    }
    let bracket_at = if is_punct(tokens.get(1), '!') { 2 } else { 1 };
    let Some(TokenTree::Group(group)) = tokens.get(bracket_at) else {
        return None;
    };
    if group.delimiter() != Delimiter::Bracket {
        return None;
    }
    let mut inside = group.stream().into_iter();
    let is_doc = matches!(inside.next(), Some(TokenTree::Ident(ident)) if ident == "doc");
    let then_eq = is_punct(inside.next().as_ref(), '=');
    (is_doc && then_eq).then_some(bracket_at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(source: &str) -> u128 {
        of_with(source, "")
    }

    fn of_with(source: &str, args: &str) -> u128 {
        let tokens: TokenStream = source.parse().expect("test source lexes");
        let args: CacheArgs = syn::parse_str(args).expect("test args parse");
        fingerprint(&tokens, &args)
    }

    const PLAIN: &str = "fn add(x: u64, y: u64) -> u64 { let sum = x + y; sum * 2 }";

    #[test]
    fn comments_and_whitespace_do_not_change_it() {
        let commented = "
            // A line comment.
            fn add(x: u64, /* block */ y: u64)
                -> u64
            {
                let sum = x + y; // trailing
                sum    *    2
            }";
        assert_eq!(of(PLAIN), of(commented));
    }

    #[test]
    fn doc_comments_do_not_change_it() {
        let documented = "
            /// Adds twice.
            ///
            /// More words.
            fn add(x: u64, y: u64) -> u64 {
                //! Inner doc.
                /// Doc on a statement.
                let sum = x + y;
                sum * 2
            }";
        let explicit_doc =
            r#"#[doc = "Adds."] fn add(x: u64, y: u64) -> u64 { let sum = x + y; sum * 2 }"#;
        assert_eq!(of(PLAIN), of(documented));
        assert_eq!(of(PLAIN), of(explicit_doc));
    }

    #[test]
    fn other_attributes_change_it() {
        assert_ne!(of(PLAIN), of(&format!("#[inline] {PLAIN}")));
        assert_ne!(of(PLAIN), of(&format!("#[doc(hidden)] {PLAIN}")));
    }

    #[test]
    fn renamed_variable_changes_it() {
        assert_ne!(
            of(PLAIN),
            of("fn add(x: u64, y: u64) -> u64 { let total = x + y; total * 2 }")
        );
    }

    #[test]
    fn changed_literal_changes_it() {
        assert_ne!(
            of(PLAIN),
            of("fn add(x: u64, y: u64) -> u64 { let sum = x + y; sum * 3 }")
        );
        assert_ne!(
            of(PLAIN),
            of("fn add(x: u64, y: u64) -> u64 { let sum = x + y; sum * 2u64 }")
        );
    }

    #[test]
    fn changed_return_type_changes_it() {
        assert_ne!(
            of(PLAIN),
            of("fn add(x: u64, y: u64) -> u128 { let sum = x + y; sum * 2 }")
        );
    }

    #[test]
    fn operator_spacing_that_changes_meaning_changes_it() {
        assert_ne!(
            of("fn f(a: bool, b: bool) -> bool { a && b }"),
            of("fn f(a: bool, b: bool) -> bool { a & &b }")
        );
    }

    #[test]
    fn trailing_commas_of_vertical_layout_do_not_change_it() {
        let vertical = "
            fn add(
                x: u64, // the first
                y: u64,
            ) -> u64 {
                let sum = x + y;
                sum * 2
            }";
        assert_eq!(of(PLAIN), of(vertical));
        assert_eq!(of("fn f(x: u64) { g(x) }"), of("fn f(x: u64,) { g(x,) }"));
        assert_eq!(
            of("fn f() { [1, 2]; S { a: 1 } }"),
            of("fn f() { [1, 2,]; S { a: 1, } }")
        );
        assert_eq!(of("fn f() { (1, 2) }"), of("fn f() { (1, 2,) }"));
        assert_eq!(
            of("fn f<T: A>() where T: B {}"),
            of("fn f<T: A,>() where T: B, {}")
        );
    }

    #[test]
    fn a_one_element_tuple_is_not_a_parenthesized_value() {
        assert_ne!(of("fn f() { g((a,)) }"), of("fn f() { g((a)) }"));
        assert_ne!(
            of("fn f() { let t = (a,); }"),
            of("fn f() { let t = (a); }")
        );
        assert_ne!(of("fn f() -> (u8,) { x }"), of("fn f() -> (u8) { x }"));
        assert_ne!(of("fn f() { m!(a,) }"), of("fn f() { m!(a) }"));
    }

    #[test]
    fn group_boundaries_count() {
        assert_ne!(of("fn f() { g((a), b) }"), of("fn f() { g((a, b)) }"));
    }

    #[test]
    fn ignore_list_changes_it_but_not_its_order() {
        let base = of_with(PLAIN, "");
        let ignore_x = of_with(PLAIN, r#"ignore = ["x"]"#);
        let ignore_y = of_with(PLAIN, r#"ignore = ["y"]"#);
        assert_ne!(base, ignore_x);
        assert_ne!(ignore_x, ignore_y);
        assert_eq!(
            of_with(PLAIN, r#"ignore = ["x", "y"]"#),
            of_with(PLAIN, r#"ignore = ["y", "x"]"#)
        );
    }

    #[test]
    fn name_changes_it() {
        assert_ne!(of_with(PLAIN, ""), of_with(PLAIN, r#"name = "add""#));
        assert_ne!(
            of_with(PLAIN, r#"name = "a""#),
            of_with(PLAIN, r#"name = "b""#)
        );
    }

    #[test]
    fn where_and_how_results_are_kept_does_not_change_it() {
        let plain = of_with(PLAIN, "");
        assert_eq!(plain, of_with(PLAIN, "verbose = 3"));
        assert_eq!(plain, of_with(PLAIN, "memory = CACHE"));
        assert_eq!(plain, of_with(PLAIN, "crate = ::other"));
        assert_eq!(plain, of_with(PLAIN, r#"expires_after = "1d""#));
        assert_eq!(plain, of_with(PLAIN, "validate = check"));
        assert_eq!(plain, of_with(PLAIN, "allow(unit_output)"));
    }

    #[test]
    fn version_changes_it() {
        let plain = of_with(PLAIN, "");
        let one = of_with(PLAIN, r#"version = "1""#);
        assert_ne!(plain, one);
        assert_ne!(one, of_with(PLAIN, r#"version = "2""#));
        assert_eq!(one, of_with(PLAIN, r#"version = "1""#));
    }

    #[test]
    fn ignore_code_keys_by_version_not_tokens() {
        let manual = |args: &str| manual(&syn::parse_str(args).expect("valid arguments"));
        let one = manual(r#"version = "1", ignore_code = true"#);
        assert_eq!(one, manual(r#"ignore_code = true, version = "1""#));
        assert_ne!(one, manual(r#"version = "2", ignore_code = true"#));
        assert_ne!(one, of_with(PLAIN, r#"version = "1""#));
        assert_ne!(
            manual(r#"ignore_code = true"#),
            manual(r#"ignore_code = true, ignore = ["x"]"#)
        );
    }
}
