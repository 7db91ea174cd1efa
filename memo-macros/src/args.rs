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
use syn::{Expr, Ident, LitInt, LitStr, Path, Token, bracketed, parenthesized};

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
}

/// The compile-time warnings `allow(..)` can silence, with what each is.
pub const LINTS: &[(&str, &str)] = &[
    ("unit_output", "the function returns `()`"),
    ("all_ignored", "every parameter is in `ignore`"),
    (
        "mut_argument",
        "a parameter in `ignore` is a `&mut` reference",
    ),
    (
        "handle_argument",
        "a parameter looks like a handle (`File`, `Mutex`, ...)",
    ),
];

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
    /// `allow(lint, ..)`: compile-time warnings silenced, already checked
    /// against [`LINTS`].
    pub allow: Vec<Ident>,
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
    pub fn allows(&self, lint: &str) -> bool {
        self.allow.iter().any(|allowed| allowed == lint)
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
                let key = input.parse::<kw::depends_on>()?;
                input.parse::<Token![=]>()?;
                args.depends_on = parse_path_list(input)?;
                seen.mark(key.span, "depends_on");
            } else if lookahead.peek(kw::version) {
                let key = input.parse::<kw::version>()?;
                input.parse::<Token![=]>()?;
                args.version = Some(input.parse::<LitStr>()?);
                seen.mark(key.span, "version");
            } else if lookahead.peek(Token![crate]) {
                let key = input.parse::<Token![crate]>()?;
                input.parse::<Token![=]>()?;
                args.krate = Some(input.call(Path::parse_mod_style)?);
                seen.mark(key.span, "crate");
            } else {
                return Err(lookahead.error());
            }
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
        } else if lookahead.peek(kw::depends_on) {
            let key = input.parse::<kw::depends_on>()?;
            input.parse::<Token![=]>()?;
            self.depends_on = parse_path_list(input)?;
            seen.mark(key.span, "depends_on");
        } else if lookahead.peek(kw::version) {
            let key = input.parse::<kw::version>()?;
            input.parse::<Token![=]>()?;
            self.version = Some(input.parse::<LitStr>()?);
            seen.mark(key.span, "version");
        } else if lookahead.peek(kw::expires_after) {
            let key = input.parse::<kw::expires_after>()?;
            input.parse::<Token![=]>()?;
            if let Ok(number) = input.fork().parse::<LitInt>() {
                return Err(syn::Error::new(
                    number.span(),
                    format!(
                        "`expires_after` takes a string with a unit, like \"{}s\" or \"30d\"",
                        number.base10_digits()
                    ),
                ));
            }
            let literal = input.parse::<LitStr>()?;
            match parse_duration(&literal.value()) {
                Some(duration) => self.expires_after = Some(duration),
                None => seen.error(syn::Error::new(
                    literal.span(),
                    format!(
                        "`expires_after` takes a duration like \"30d\", \"12h\" or \"1h30m\" \
                         (units s, m, h, d; longer than zero), found {:?}",
                        literal.value()
                    ),
                )),
            }
            seen.mark(key.span, "expires_after");
        } else if lookahead.peek(kw::mmap_mode) {
            let key = input.parse::<kw::mmap_mode>()?;
            input.parse::<Token![=]>()?;
            let literal = input.parse::<LitStr>()?;
            let span = literal.span();
            match literal.value().as_str() {
                "r" => self.mmap_mode = Some(MmapModeArg::ReadOnly),
                "c" => self.mmap_mode = Some(MmapModeArg::CopyOnWrite),
                "r+" | "w+" => seen.error(syn::Error::new(
                    span,
                    "`mmap_mode` cannot be \"r+\" or \"w+\": writing through the map would \
                     change the cached result; use \"c\" (copy-on-write) for arrays you modify",
                )),
                other => seen.error(syn::Error::new(
                    span,
                    format!("`mmap_mode` takes \"r\" (read-only) or \"c\" (copy-on-write), found {other:?}"),
                )),
            }
            seen.mark(key.span, "mmap_mode");
        } else if lookahead.peek(kw::compress) {
            let key = input.parse::<kw::compress>()?;
            input.parse::<Token![=]>()?;
            let negative = input.parse::<Option<Token![-]>>()?;
            let literal = input.parse::<LitInt>()?;
            let level = literal
                .base10_parse::<i32>()
                .ok()
                .map(|level| if negative.is_some() { -level } else { level });
            match level {
                Some(level) if (-7..=22).contains(&level) => self.compress = Some((level, literal.span())),
                _ => seen.error(syn::Error::new(
                    literal.span(),
                    "`compress` takes a zstd level from -7 (fastest) to 22 (smallest); 3 is zstd's default",
                )),
            }
            seen.mark(key.span, "compress");
        } else if lookahead.peek(kw::validate) {
            let key = input.parse::<kw::validate>()?;
            input.parse::<Token![=]>()?;
            self.validate = Some(input.parse::<Path>()?);
            seen.mark(key.span, "validate");
        } else if lookahead.peek(kw::allow) {
            let key = input.parse::<kw::allow>()?;
            let content;
            parenthesized!(content in input);
            let lints = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
            for lint in lints {
                if LINTS.iter().any(|(name, _)| lint == name) {
                    self.allow.push(lint);
                } else {
                    let known: Vec<String> =
                        LINTS.iter().map(|(name, _)| format!("`{name}`")).collect();
                    seen.error(syn::Error::new(
                        lint.span(),
                        format!(
                            "unknown warning `{lint}`; `allow` takes {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
            seen.mark(key.span, "allow");
        } else {
            return Err(lookahead.error());
        }
        Ok(())
    }
}

/// `[a, b::c]`: paths of functions.
fn parse_path_list(input: ParseStream) -> syn::Result<Vec<Path>> {
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

/// `"30d"`, `"12h"`, `"1h30m"`, `"90s"`, `"1d 12h"`: one or more
/// `<integer><unit>` parts, units `s`, `m`, `h`, `d`. `None` if malformed,
/// zero or out of range.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(seconds)?)?;
        rest = rest[digits + 1..].trim_start();
    }
    (total > 0).then(|| Duration::from_secs(total))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30d"),
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1d 12h"), Some(Duration::from_secs(129_600)));
        for bad in [
            "",
            "30",
            "d",
            "3w",
            "1.5h",
            "0s",
            "-1d",
            "1h 30",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
