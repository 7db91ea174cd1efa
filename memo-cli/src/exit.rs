//! Exit statuses, as documented in `memo --help`, and the failure that
//! carries one out of a command.

/// Done.
pub const OK: u8 = 0;
/// `verify` found damaged entries (and did not remove them all), or some
/// entries could not be removed.
pub const PROBLEMS: u8 = 1;
/// The command line is wrong (clap's own code).
pub const USAGE: u8 = 2;
/// The location is missing, or not a memo cache.
pub const NOT_A_CACHE: u8 = 3;
/// No function or entry matches (or several do).
pub const NOT_FOUND: u8 = 4;
/// `clear` was not confirmed.
pub const NOT_CONFIRMED: u8 = 5;
/// Reading or changing the cache failed.
pub const IO: u8 = 6;

/// [`PROBLEMS`] if some were found (or left), else [`OK`].
pub fn problems_if(found: bool) -> u8 {
    if found { PROBLEMS } else { OK }
}

/// A failure with its exit status.
pub struct Failure {
    /// The exit status (one of this module's constants).
    pub code: u8,
    /// What to print after `memo: `.
    pub message: String,
}

impl Failure {
    /// A failure with exit status `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// An I/O failure while doing `what`.
    pub fn io(what: &str, error: std::io::Error) -> Failure {
        Failure::new(IO, format!("{what}: {error}"))
    }

    /// No function or entry matches what the user named.
    pub fn not_found(error: memory::manage::FindError) -> Failure {
        Failure::new(NOT_FOUND, error.to_string())
    }
}
