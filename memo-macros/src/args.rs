//! Parsing the attribute's own arguments: `#[cache(ignore = [..], memory = ..,
//! verbose = .., name = "..", crate = ..)]`.
//!
//! This file only knows the argument grammar. Whether an `ignore` name is a
//! parameter, or a `name` is usable, depends on the function and is checked in
//! `validate.rs`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, LitInt, LitStr, Path, Token, bracketed};

mod kw {
    syn::custom_keyword!(ignore);
    syn::custom_keyword!(memory);
    syn::custom_keyword!(verbose);
    syn::custom_keyword!(name);
}

/// Everything written between the attribute's parentheses.
#[derive(Default)]
pub struct CacheArgs {
    /// `ignore = ["a", "b"]`: parameters left out of the key, as written.
    pub ignore: Vec<LitStr>,
    /// `memory = EXPR`: a `'static` place that derefs to a `Memory`.
    pub memory: Option<Expr>,
    /// `verbose = N`, already checked to fit a `u8`.
    pub verbose: Option<u8>,
    /// `name = "..."`: an explicit identity.
    pub name: Option<LitStr>,
    /// `crate = path`: where the runtime is, for crates that re-export it.
    pub krate: Option<Path>,
}

impl Parse for CacheArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = CacheArgs::default();
        let mut seen = SeenArgs::default();
        while !input.is_empty() {
            args.parse_one(input, &mut seen)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        match seen.errors {
            Some(errors) => Err(errors),
            None => Ok(args),
        }
    }
}

/// Which arguments were already given (to reject a second occurrence), and
/// the errors found so far.
#[derive(Default)]
struct SeenArgs {
    given: Vec<&'static str>,
    /// Errors that are not syntax errors (a repeated argument, a value out of
    /// range): parsing goes on, so all of them are reported at once.
    errors: Option<syn::Error>,
}

impl SeenArgs {
    /// Marks an argument as given; records an error at `key` if it already was.
    fn mark(&mut self, key: Span, name: &'static str) {
        if !self.given.contains(&name) {
            self.given.push(name);
            return;
        }
        self.error(syn::Error::new(
            key,
            format!("`{name}` is given more than once"),
        ));
    }

    fn error(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }
}

impl CacheArgs {
    /// Parses one `key = value`; a syntax error stops the parse at once.
    fn parse_one(&mut self, input: ParseStream, seen: &mut SeenArgs) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::ignore) {
            let key = input.parse::<kw::ignore>()?;
            input.parse::<Token![=]>()?;
            self.ignore = parse_ignore_list(input)?;
            seen.mark(key.span, "ignore");
        } else if lookahead.peek(kw::memory) {
            let key = input.parse::<kw::memory>()?;
            input.parse::<Token![=]>()?;
            self.memory = Some(input.parse::<Expr>()?);
            seen.mark(key.span, "memory");
        } else if lookahead.peek(kw::verbose) {
            let key = input.parse::<kw::verbose>()?;
            input.parse::<Token![=]>()?;
            match parse_verbose_level(input)? {
                Ok(level) => self.verbose = Some(level),
                Err(error) => seen.error(error),
            }
            seen.mark(key.span, "verbose");
        } else if lookahead.peek(kw::name) {
            let key = input.parse::<kw::name>()?;
            input.parse::<Token![=]>()?;
            self.name = Some(input.parse::<LitStr>()?);
            seen.mark(key.span, "name");
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            self.krate = Some(input.call(Path::parse_mod_style)?);
            seen.mark(key.span, "crate");
        } else {
            return Err(lookahead.error());
        }
        Ok(())
    }
}

/// `["a", "b"]`: parameter names as strings, as joblib's `ignore=['a', 'b']`.
fn parse_ignore_list(input: ParseStream) -> syn::Result<Vec<LitStr>> {
    if !input.peek(syn::token::Bracket) {
        return Err(input.error("expected a list of parameter names, like `ignore = [\"debug\"]`"));
    }
    let content;
    bracketed!(content in input);
    let names = Punctuated::<IgnoredName, Token![,]>::parse_terminated(&content)?;
    Ok(names.into_iter().map(|name| name.0).collect())
}

/// One entry of the `ignore` list: a string literal, with a hint when the
/// name was written bare.
struct IgnoredName(LitStr);

impl Parse for IgnoredName {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return input.parse().map(IgnoredName);
        }
        if let Ok(ident) = input
            .fork()
            .call(<syn::Ident as syn::ext::IdentExt>::parse_any)
        {
            return Err(syn::Error::new(
                ident.span(),
                format!("parameter names in `ignore` are strings: write \"{ident}\""),
            ));
        }
        Err(input.error("expected a parameter name as a string, like \"debug\""))
    }
}

/// `verbose = N` with `N` a `u8` literal. The outer result is the syntax
/// (an integer literal, maybe negated); the inner one is whether it is a
/// level, an error that need not stop parsing the other arguments.
fn parse_verbose_level(input: ParseStream) -> syn::Result<syn::Result<u8>> {
    const EXPECTED: &str = "`verbose` takes a level from 0 to 255";
    let minus = input.parse::<Option<Token![-]>>()?;
    let literal = input.parse::<LitInt>()?;
    if let Some(minus) = minus {
        let negative = quote::quote!(#minus #literal);
        return Ok(Err(syn::Error::new_spanned(
            negative,
            format!("{EXPECTED}, found `-{literal}`"),
        )));
    }
    let level = match literal.suffix() {
        "" | "u8" => literal.base10_parse::<u8>().ok(),
        _ => None,
    };
    Ok(level
        .ok_or_else(|| syn::Error::new(literal.span(), format!("{EXPECTED}, found `{literal}`"))))
}
