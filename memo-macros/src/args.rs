//! Parsing the attribute's own arguments: `#[cache(ignore = [..], memory = ..,
//! verbose = .., name = "..", crate = .., depends_on = [..], version = "..",
//! expires_after = "..", validate = .., allow(..))]`, and those of
//! `#[fingerprint(depends_on = [..], version = "..")]`.
//!
//! This file only knows the argument grammar. Whether an `ignore` name is a
//! parameter, or a `name` is usable, depends on the function and is checked in
//! `validate.rs`.

use std::time::Duration;

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitBool, LitInt, LitStr, Path, Token, bracketed, parenthesized};

use crate::lints::Lint;

mod kw {
    syn::custom_keyword!(ignore);
    syn::custom_keyword!(memory);
    syn::custom_keyword!(verbose);
    syn::custom_keyword!(name);
    syn::custom_keyword!(depends_on);
    syn::custom_keyword!(version);
    syn::custom_keyword!(expires_after);
    syn::custom_keyword!(validate);
    syn::custom_keyword!(allow);
    syn::custom_keyword!(mmap_mode);
    syn::custom_keyword!(compress);
    syn::custom_keyword!(ignore_code);
    syn::custom_keyword!(wait_limit);
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
    /// `depends_on = [path, ..]`: functions whose fingerprints are folded
    /// into this one's.
    pub depends_on: Vec<Path>,
    /// `version = "..."`: a manual bump of the fingerprint.
    pub version: Option<LitStr>,
    /// `expires_after = "30d"`, parsed.
    pub expires_after: Option<Duration>,
    /// `validate = path`: joblib's `cache_validation_callback`.
    pub validate: Option<Path>,
    /// `mmap_mode = "r" | "c"`: how arrays in outputs come back.
    pub mmap_mode: Option<MmapModeArg>,
    /// `compress = LEVEL`: zstd level of stored outputs, already checked.
    pub compress: Option<(i32, Span)>,
    /// `allow(lint, ..)`: compile-time warnings silenced.
    pub allow: Vec<Lint>,
    /// `ignore_code = true | false`, with where it was written.
    pub ignore_code: Option<(bool, Span)>,
    /// `wait_limit = "10min"`, parsed.
    pub wait_limit: Option<Duration>,
}

/// `mmap_mode = "..."`: joblib's read-only `'r'` or copy-on-write `'c'`.
#[derive(Clone, Copy)]
pub enum MmapModeArg {
    /// `"r"`
    ReadOnly,
    /// `"c"`
    CopyOnWrite,
}

impl CacheArgs {
    /// Whether `allow(..)` names `lint`.
    pub fn allows(&self, lint: Lint) -> bool {
        self.allow.contains(&lint)
    }
}

/// The arguments of `#[fingerprint(..)]`.
#[derive(Default)]
pub struct FingerprintArgs {
    /// `depends_on = [path, ..]`.
    pub depends_on: Vec<Path>,
    /// `version = "..."`.
    pub version: Option<LitStr>,
    /// `crate = path`.
    pub krate: Option<Path>,
}

impl Parse for FingerprintArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = FingerprintArgs::default();
        let mut seen = SeenArgs::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::depends_on) {
                args.depends_on =
                    seen.value::<kw::depends_on, _>(input, "depends_on", path_list)?;
            } else if lookahead.peek(kw::version) {
                args.version = Some(seen.value::<kw::version, _>(input, "version", literal)?);
            } else if lookahead.peek(Token![crate]) {
                args.krate = Some(seen.value::<Token![crate], _>(input, "crate", crate_path)?);
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        seen.into_result(args)
    }
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
        if let (Some(_), Some((_, span))) = (args.mmap_mode, args.compress) {
            seen.error(syn::Error::new(
                span,
                "`compress` and `mmap_mode` exclude each other: a compressed array must be \
                 decompressed into memory, so it cannot be memory-mapped; choose one",
            ));
        }
        seen.into_result(args)
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

    /// Parses `key = value` (the key is `K`, the value what `value` reads)
    /// and marks `name` as given. `value` may record errors that need not
    /// stop the parse; a syntax error stops it at once.
    fn value<K: Parse, V>(
        &mut self,
        input: ParseStream,
        name: &'static str,
        value: impl FnOnce(ParseStream, &mut SeenArgs) -> syn::Result<V>,
    ) -> syn::Result<V> {
        let key = input.span();
        input.parse::<K>()?;
        input.parse::<Token![=]>()?;
        let parsed = value(input, self)?;
        self.mark(key, name);
        Ok(parsed)
    }

    fn into_result<T>(self, args: T) -> syn::Result<T> {
        match self.errors {
            Some(errors) => Err(errors),
            None => Ok(args),
        }
    }
}

impl CacheArgs {
    /// Parses one `key = value`; a syntax error stops the parse at once.
    fn parse_one(&mut self, input: ParseStream, seen: &mut SeenArgs) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::ignore) {
            self.ignore = seen.value::<kw::ignore, _>(input, "ignore", ignore_list)?;
        } else if lookahead.peek(kw::memory) {
            self.memory = Some(
                seen.value::<kw::memory, _>(input, "memory", |input, _| input.parse::<Expr>())?,
            );
        } else if lookahead.peek(kw::verbose) {
            self.verbose = seen.value::<kw::verbose, _>(input, "verbose", verbose_level)?;
        } else if lookahead.peek(kw::name) {
            self.name = Some(seen.value::<kw::name, _>(input, "name", literal)?);
        } else if lookahead.peek(Token![crate]) {
            self.krate = Some(seen.value::<Token![crate], _>(input, "crate", crate_path)?);
        } else if lookahead.peek(kw::depends_on) {
            self.depends_on = seen.value::<kw::depends_on, _>(input, "depends_on", path_list)?;
        } else if lookahead.peek(kw::version) {
            self.version = Some(seen.value::<kw::version, _>(input, "version", literal)?);
        } else if lookahead.peek(kw::expires_after) {
            self.expires_after =
                seen.value::<kw::expires_after, _>(input, "expires_after", expiry)?;
        } else if lookahead.peek(kw::mmap_mode) {
            self.mmap_mode = seen.value::<kw::mmap_mode, _>(input, "mmap_mode", mmap_mode)?;
        } else if lookahead.peek(kw::compress) {
            self.compress = seen.value::<kw::compress, _>(input, "compress", zstd_level)?;
        } else if lookahead.peek(kw::ignore_code) {
            self.ignore_code =
                seen.value::<kw::ignore_code, _>(input, "ignore_code", boolean("ignore_code"))?;
        } else if lookahead.peek(kw::wait_limit) {
            self.wait_limit =
                seen.value::<kw::wait_limit, _>(input, "wait_limit", |input, seen| {
                    positive_duration(input, seen, "wait_limit", WAIT_LIMIT_ZERO)
                })?;
        } else if lookahead.peek(kw::validate) {
            self.validate = Some(seen.value::<kw::validate, _>(
                input,
                "validate",
                |input, _| input.parse::<Path>(),
            )?);
        } else if lookahead.peek(kw::allow) {
            // `allow(..)` is a list, not `key = value`.
            let key = input.parse::<kw::allow>()?;
            self.allow = allowed_lints(input, seen)?;
            seen.mark(key.span, "allow");
        } else {
            return Err(lookahead.error());
        }
        Ok(())
    }
}

fn literal(input: ParseStream, _: &mut SeenArgs) -> syn::Result<LitStr> {
    input.parse()
}

fn crate_path(input: ParseStream, _: &mut SeenArgs) -> syn::Result<Path> {
    input.call(Path::parse_mod_style)
}

/// `expires_after = "30d"`: a duration in memo's one grammar (the
/// `memo-units` crate, shared with the runtime and the CLI), longer than
/// zero.
fn expiry(input: ParseStream, seen: &mut SeenArgs) -> syn::Result<Option<Duration>> {
    positive_duration(
        input,
        seen,
        "expires_after",
        "an entry that expires at once is never used; remove the attribute argument to keep \
         entries forever",
    )
}

/// Why `wait_limit = "0s"` is refused.
const WAIT_LIMIT_ZERO: &str = "a caller that never waits computes every key another caller is \
     computing; remove the attribute argument to wait as long as the other caller lives";

/// `name = "30d"`: a duration in memo's one grammar (the `memo-units`
/// crate, shared with the runtime and the CLI), longer than zero (`zero`
/// says why).
fn positive_duration(
    input: ParseStream,
    seen: &mut SeenArgs,
    name: &str,
    zero: &str,
) -> syn::Result<Option<Duration>> {
    if let Ok(number) = input.fork().parse::<LitInt>() {
        return Err(syn::Error::new(
            number.span(),
            format!(
                "`{name}` takes a string with a unit, like \"{}s\" or \"30d\"",
                number.base10_digits()
            ),
        ));
    }
    let literal = input.parse::<LitStr>()?;
    match memo_units::parse_duration(&literal.value()) {
        Ok(duration) if !duration.is_zero() => return Ok(Some(duration)),
        Ok(_) => seen.error(syn::Error::new(
            literal.span(),
            format!("`{name}` must be longer than zero: {zero}"),
        )),
        Err(error) => seen.error(syn::Error::new(
            literal.span(),
            format!(
                "`{name}` takes a duration: {error}; found {:?}",
                literal.value()
            ),
        )),
    }
    Ok(None)
}

/// `name = true | false`.
fn boolean(
    name: &'static str,
) -> impl FnOnce(ParseStream, &mut SeenArgs) -> syn::Result<Option<(bool, Span)>> {
    move |input, seen| {
        if input.peek(LitBool) {
            let value = input.parse::<LitBool>()?;
            return Ok(Some((value.value, value.span)));
        }
        let found: proc_macro2::TokenTree = input.parse()?;
        seen.error(syn::Error::new(
            found.span(),
            format!("`{name}` takes `true` or `false`, found `{found}`"),
        ));
        Ok(None)
    }
}

/// `mmap_mode = "r" | "c"`.
fn mmap_mode(input: ParseStream, seen: &mut SeenArgs) -> syn::Result<Option<MmapModeArg>> {
    let literal = input.parse::<LitStr>()?;
    let span = literal.span();
    match literal.value().as_str() {
        "r" => return Ok(Some(MmapModeArg::ReadOnly)),
        "c" => return Ok(Some(MmapModeArg::CopyOnWrite)),
        "r+" | "w+" => seen.error(syn::Error::new(
            span,
            "`mmap_mode` cannot be \"r+\" or \"w+\": writing through the map would \
             change the cached result; use \"c\" (copy-on-write) for arrays you modify",
        )),
        other => seen.error(syn::Error::new(
            span,
            format!(
                "`mmap_mode` takes \"r\" (read-only) or \"c\" (copy-on-write), found {other:?}"
            ),
        )),
    }
    Ok(None)
}

/// `compress = LEVEL`: a zstd level, maybe negative.
fn zstd_level(input: ParseStream, seen: &mut SeenArgs) -> syn::Result<Option<(i32, Span)>> {
    let negative = input.parse::<Option<Token![-]>>()?;
    let literal = input.parse::<LitInt>()?;
    let level = literal
        .base10_parse::<i32>()
        .ok()
        .map(|level| if negative.is_some() { -level } else { level });
    match level {
        Some(level) if (-7..=22).contains(&level) => Ok(Some((level, literal.span()))),
        _ => {
            seen.error(syn::Error::new(
                literal.span(),
                "`compress` takes a zstd level from -7 (fastest) to 22 (smallest); 3 is zstd's default",
            ));
            Ok(None)
        }
    }
}

/// `(lint, ..)` after `allow`: each checked against the lint table.
fn allowed_lints(input: ParseStream, seen: &mut SeenArgs) -> syn::Result<Vec<Lint>> {
    let content;
    parenthesized!(content in input);
    let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
    let mut allowed = Vec::new();
    for name in names {
        match Lint::named(&name.to_string()) {
            Some(lint) => allowed.push(lint),
            None => seen.error(syn::Error::new(
                name.span(),
                format!(
                    "unknown warning `{name}`; `allow` takes {}",
                    Lint::known_names()
                ),
            )),
        }
    }
    Ok(allowed)
}

/// `[a, b::c]`: paths of functions.
fn path_list(input: ParseStream, _: &mut SeenArgs) -> syn::Result<Vec<Path>> {
    if !input.peek(syn::token::Bracket) {
        return Err(input.error(
            "expected a list of function paths, like `depends_on = [helper, module::other]`",
        ));
    }
    let content;
    bracketed!(content in input);
    let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
    Ok(paths.into_iter().collect())
}

/// `["a", "b"]`: parameter names as strings, as joblib's `ignore=['a', 'b']`.
fn ignore_list(input: ParseStream, _: &mut SeenArgs) -> syn::Result<Vec<LitStr>> {
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

/// `verbose = N` with `N` a `u8` literal; a literal that is not a level is
/// an error that need not stop parsing the other arguments.
fn verbose_level(input: ParseStream, seen: &mut SeenArgs) -> syn::Result<Option<u8>> {
    const EXPECTED: &str = "`verbose` takes a level from 0 to 255";
    let minus = input.parse::<Option<Token![-]>>()?;
    let literal = input.parse::<LitInt>()?;
    if let Some(minus) = minus {
        let negative = quote::quote!(#minus #literal);
        seen.error(syn::Error::new_spanned(
            negative,
            format!("{EXPECTED}, found `-{literal}`"),
        ));
        return Ok(None);
    }
    let level = match literal.suffix() {
        "" | "u8" => literal.base10_parse::<u8>().ok(),
        _ => None,
    };
    if level.is_none() {
        seen.error(syn::Error::new(
            literal.span(),
            format!("{EXPECTED}, found `{literal}`"),
        ));
    }
    Ok(level)
}
