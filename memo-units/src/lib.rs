//! Implementation detail of `memo-core` and `memo-macros`: the one duration
//! grammar memo reads, whether it is written in `#[memory::cache(expires_after
//! = "2w")]`, given to `Limits::age` as text, or typed as `memo gc
//! --age-limit 15min`.
//!
//! ```
//! use std::time::Duration;
//! use memo_units::parse_duration;
//!
//! assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
//! assert_eq!(parse_duration("1h 30min"), Ok(Duration::from_secs(5_400)));
//! assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5_400)));
//! assert!(parse_duration("30").is_err()); // thirty what?
//! ```

use std::fmt;
use std::time::Duration;

/// Every unit the grammar knows: its spellings (matched case-insensitively)
/// and its length in seconds. A year is 365 days.
pub const UNITS: &[(&[&str], f64)] = &[
    (&["ms", "msec", "msecs"], 1e-3),
    (&["s", "sec", "secs", "second", "seconds"], 1.0),
    (&["m", "min", "mins", "minute", "minutes"], 60.0),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600.0),
    (&["d", "day", "days"], 86_400.0),
    (&["w", "week", "weeks"], 7.0 * 86_400.0),
    (&["y", "year", "years"], 365.0 * 86_400.0),
];

/// What the grammar accepts, in words, for error messages.
pub const EXAMPLES: &str = "a number with a unit, like 90s, 15min, 12h, 30d, 2w or 1h30m \
                            (units ms, s, m/min, h, d, w, y)";

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing but white space.
    Empty,
    /// A part does not start with a number (`d`, `-1d`, `1.2.3h`).
    BadNumber,
    /// A number without a unit (`30`), or with one the grammar does not
    /// know (`3 fortnights`).
    BadUnit,
    /// Longer than a `Duration` holds.
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            DurationError::Empty => "empty",
            DurationError::BadNumber => "each part must start with a number",
            DurationError::BadUnit => "each number needs a known unit",
            DurationError::TooLarge => "too large",
        };
        write!(f, "{reason}; expected {EXAMPLES}")
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration: one or more `<number><unit>` parts, spaces allowed
/// between and inside them (`1d12h`, `1h 30min`, `2 weeks`). A number may
/// have a fraction (`1.5h`); units are listed in [`UNITS`]. A bare `0` is
/// zero; any other number needs a unit.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::BadNumber)?;
        rest = rest[digits..].trim_start();
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds = unit_seconds(&rest[..letters]).ok_or(DurationError::BadUnit)?;
        total += number * seconds;
        rest = rest[letters..].trim_start();
    }
    Duration::try_from_secs_f64(total).map_err(|_| DurationError::TooLarge)
}

fn unit_seconds(unit: &str) -> Option<f64> {
    UNITS
        .iter()
        .find(|(spellings, _)| spellings.iter().any(|s| s.eq_ignore_ascii_case(unit)))
        .map(|&(_, seconds)| seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one table of cases for the attribute, the runtime and the CLI.
    const CASES: &[(&str, Result<f64, DurationError>)] = &[
        ("0", Ok(0.0)),
        ("90s", Ok(90.0)),
        ("90 seconds", Ok(90.0)),
        ("15min", Ok(900.0)),
        ("15m", Ok(900.0)),
        ("12h", Ok(43_200.0)),
        ("12H", Ok(43_200.0)),
        ("30d", Ok(2_592_000.0)),
        ("2w", Ok(1_209_600.0)),
        ("2 weeks", Ok(1_209_600.0)),
        ("1y", Ok(31_536_000.0)),
        ("1h30m", Ok(5_400.0)),
        ("1d 12h", Ok(129_600.0)),
        ("1.5h", Ok(5_400.0)),
        ("250ms", Ok(0.25)),
        (" 3d ", Ok(259_200.0)),
        ("", Err(DurationError::Empty)),
        ("   ", Err(DurationError::Empty)),
        ("30", Err(DurationError::BadUnit)),
        ("1h 30", Err(DurationError::BadUnit)),
        ("3 fortnights", Err(DurationError::BadUnit)),
        ("d", Err(DurationError::BadNumber)),
        ("-1d", Err(DurationError::BadNumber)),
        ("1d-2h", Err(DurationError::BadNumber)),
        ("1.2.3h", Err(DurationError::BadNumber)),
        ("99999999999999999999y", Err(DurationError::TooLarge)),
    ];

    #[test]
    fn the_table_of_cases() {
        for (text, expected) in CASES {
            let parsed = parse_duration(text).map(|d| d.as_secs_f64());
            assert_eq!(&parsed, expected, "{text:?}");
        }
    }

    #[test]
    fn errors_show_what_is_expected() {
        let message = parse_duration("30").unwrap_err().to_string();
        assert!(message.contains("2w"), "{message}");
    }
}
