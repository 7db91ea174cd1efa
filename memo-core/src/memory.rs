//! `Memory`: a cache location and its options.

use std::path::PathBuf;
use std::sync::OnceLock;

/// A cache context (joblib's `Memory`).
#[derive(Debug)]
pub struct Memory {
    location: Option<PathBuf>,
}

impl Memory {
    /// A cache stored under `location`.
    pub fn new(location: impl Into<PathBuf>) -> Self {
        Memory { location: Some(location.into()) }
    }
}

static DEFAULT: OnceLock<Memory> = OnceLock::new();

pub(crate) fn default_memory() -> &'static Memory {
    DEFAULT.get_or_init(|| Memory::new(".memo_cache"))
}
