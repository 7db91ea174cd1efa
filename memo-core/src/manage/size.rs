//! Sizes and ages as people write them (`"10G"`, `"1.5GiB"`, `"30d"`,
//! `"12h"`), and back: human-readable sizes, durations and times.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of bytes, parsed from and shown as a human size.
///
/// Parsing accepts a number with an optional fraction and unit, case
/// insensitively, with or without a space: `1024`, `500M`, `10G`, `1.5GiB`,
/// `2 TB`. Like joblib and `du`, `K`, `M`, `G`, `T`, `P` (and `KiB`, `MiB`,
/// ...) are powers of 1024; `KB`, `MB`, `GB`, `TB`, `PB` are powers of 1000.
///
/// ```
/// use memory::manage::ByteSize;
///
/// assert_eq!("10G".parse::<ByteSize>().unwrap(), ByteSize(10 << 30));
/// assert_eq!("1.5KiB".parse::<ByteSize>().unwrap(), ByteSize(1536));
/// assert_eq!("2 MB".parse::<ByteSize>().unwrap(), ByteSize(2_000_000));
/// assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
/// assert!("ten gigs".parse::<ByteSize>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Why a size or an age does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseError {
    what: &'static str,
    input: String,
    reason: &'static str,
}

impl ParseError {
    fn new(what: &'static str, input: &str, reason: &'static str) -> ParseError {
        ParseError {
            what,
            input: input.to_owned(),
            reason,
        }
    }
}

const SIZE_HELP: &str =
    "expected a number of bytes with an optional unit, like 500M, 10G or 1.5GiB";
const AGE_HELP: &str = "expected a number with a unit, like 90s, 15min, 12h, 30d or 2w";

impl FromStr for ByteSize {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<ByteSize, ParseError> {
        let text = input.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        if number.is_empty() {
            return Err(ParseError::new("size", input, SIZE_HELP));
        }
        let number: f64 = number
            .parse()
            .map_err(|_| ParseError::new("size", input, SIZE_HELP))?;
        let unit = unit.trim().to_ascii_lowercase();
        let scale: f64 = match unit.as_str() {
            "" | "b" => 1.0,
            "k" | "kib" => 1024.0,
            "m" | "mib" => 1024f64.powi(2),
            "g" | "gib" => 1024f64.powi(3),
            "t" | "tib" => 1024f64.powi(4),
            "p" | "pib" => 1024f64.powi(5),
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            "pb" => 1e15,
            _ => return Err(ParseError::new("size", input, SIZE_HELP)),
        };
        let bytes = (number * scale).round();
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(ParseError::new("size", input, "too large"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    /// Binary units with one decimal: `512 B`, `1.5 KiB`, `10.0 GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        // 1023.96 KiB rounds to "1024.0 KiB": show "1.0 MiB" instead.
        if value >= 1023.95 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

impl From<u64> for ByteSize {
    fn from(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }
}

/// Anything that names a byte limit: a number of bytes, a [`ByteSize`], or
/// a string such as `"10G"` (see [`ByteSize`] for the syntax).
pub trait IntoByteSize {
    /// The size.
    ///
    /// # Panics
    ///
    /// If a string is not a size. Parse untrusted input with
    /// `str::parse::<ByteSize>()` to handle the error instead.
    fn into_byte_size(self) -> ByteSize;
}

impl IntoByteSize for ByteSize {
    fn into_byte_size(self) -> ByteSize {
        self
    }
}

impl IntoByteSize for u64 {
    fn into_byte_size(self) -> ByteSize {
        ByteSize(self)
    }
}

impl IntoByteSize for usize {
    fn into_byte_size(self) -> ByteSize {
        ByteSize(self as u64)
    }
}

impl IntoByteSize for &str {
    fn into_byte_size(self) -> ByteSize {
        self.parse().unwrap_or_else(|e| panic!("{e}"))
    }
}

impl IntoByteSize for String {
    fn into_byte_size(self) -> ByteSize {
        self.as_str().into_byte_size()
    }
}

/// Parses an age or a duration: a number and a unit, or several in a row
/// (`1d12h`, `1h 30min`). Units: `ms`; `s`, `sec`; `m`, `min`; `h`, `hr`;
/// `d`, `day`; `w`, `week`; `y`, `year` (365 days), each also in the
/// plural. A bare `0` is zero. It is the grammar of the attribute's
/// `expires_after` too (the `memo-units` crate).
///
/// ```
/// use std::time::Duration;
/// use memory::manage::parse_age;
///
/// assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
/// assert_eq!(parse_age("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_age("1.5h").unwrap(), Duration::from_secs(5400));
/// assert!(parse_age("30").is_err()); // thirty what?
/// ```
pub fn parse_age(input: &str) -> Result<Duration, ParseError> {
    // One grammar for the attribute's `expires_after`, this and the CLI.
    memo_units::parse_duration(input).map_err(|error| match error {
        memo_units::DurationError::TooLarge => ParseError::new("age", input, "too large"),
        _ => ParseError::new("age", input, AGE_HELP),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_joblib_and_du() {
        let parse = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("1024"), Ok(1024));
        assert_eq!(parse("1k"), Ok(1024));
        assert_eq!(parse("500M"), Ok(500 << 20));
        assert_eq!(parse("10G"), Ok(10 << 30));
        assert_eq!(parse("10g"), Ok(10 << 30));
        assert_eq!(parse("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse("1 TB"), Ok(1_000_000_000_000));
        assert_eq!(parse(" 3 kb "), Ok(3000));
        assert_eq!(parse("12B"), Ok(12));
        for bad in [
            "",
            "G",
            "-1G",
            "1.2.3M",
            "10X",
            "1e3",
            "ten",
            "99999999999P",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let error = parse("10X").unwrap_err().to_string();
        assert!(error.contains("500M"), "{error}");
    }

    #[test]
    fn sizes_display_in_binary_units() {
        assert_eq!(ByteSize(0).to_string(), "0 B");
        assert_eq!(ByteSize(1023).to_string(), "1023 B");
        assert_eq!(ByteSize(1024).to_string(), "1.0 KiB");
        assert_eq!(ByteSize((1 << 20) - 1).to_string(), "1.0 MiB");
        assert_eq!(ByteSize(10 << 30).to_string(), "10.0 GiB");
        assert_eq!(ByteSize(u64::MAX).to_string(), "16.0 EiB");
    }

    #[test]
    fn ages_report_what_they_expect() {
        assert_eq!(parse_age("2w"), Ok(Duration::from_secs(1_209_600)));
        let error = parse_age("30").unwrap_err().to_string();
        assert!(error.contains("15min"), "{error}");
        let error = parse_age("99999999999999999999y").unwrap_err().to_string();
        assert!(error.contains("too large"), "{error}");
    }
}
