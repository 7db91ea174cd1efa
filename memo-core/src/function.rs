//! What the runtime knows about one cached function: the constants the macro
//! computed, plus what is derived from them once per process.

use std::sync::OnceLock;

use crate::__private::MemorySource;
use crate::memory::Memory;

/// The compile-time description of a cached function, written by the macro.
#[derive(Debug)]
pub struct FnSpec {
    /// The function's name as written (`f`), for the trace.
    pub name: &'static str,
    /// `module_path!()` at the definition: `crate::module`.
    pub module_path: &'static str,
    /// An explicit identity from `name = "..."`, replacing `module_path::name`.
    pub identity: Option<&'static str>,
    /// The code fingerprint: a hash of the function's tokens (comments and
    /// formatting excluded) and of the attribute arguments that shape the key.
    pub fingerprint: u128,
    /// `file!()` at the definition.
    pub file: &'static str,
    /// `line!()` at the definition.
    pub line: u32,
    /// Names of the arguments that take part in the key, in call order.
    pub params: &'static [&'static str],
    /// `verbose = N`, overriding the `Memory`'s level.
    pub verbose: Option<u8>,
    /// `memory = EXPR`; `None` uses the process default.
    pub memory: Option<MemorySource>,
    /// `expires_after = "..."`: entries older than this are recomputed.
    pub expires_after: Option<core::time::Duration>,
    /// `validate = path`: joblib's `cache_validation_callback`; an entry it
    /// rejects is recomputed.
    pub validate: Option<fn(&crate::EntryInfo) -> bool>,
}

/// A cached function: its [`FnSpec`] and lazily derived per-process state.
/// Generated code holds one in a `static`.
#[derive(Debug)]
pub struct CachedFn {
    pub(crate) spec: FnSpec,
    derived: OnceLock<Derived>,
}

/// Derived once per process from the spec.
#[derive(Debug)]
pub(crate) struct Derived {
    /// `crate::module::f`, or the explicit name.
    pub identity: String,
    /// The directory of this function in a store: a readable, file-name-safe
    /// rendering of the identity (plus a hash when that rendering is lossy).
    pub dir: String,
    /// The code-version directory inside `dir`.
    pub version: String,
    /// The constant part of every key of this function.
    pub key_prefix: crate::hash::Digest,
}

impl CachedFn {
    /// Wraps the macro's constants; `const` so it can initialize a `static`.
    pub const fn new(spec: FnSpec) -> Self {
        CachedFn {
            spec,
            derived: OnceLock::new(),
        }
    }

    /// The `Memory` this function caches in.
    pub(crate) fn memory(&self) -> &'static Memory {
        match self.spec.memory {
            Some(source) => source(),
            None => crate::memory::default_memory(),
        }
    }

    pub(crate) fn derived(&self) -> &Derived {
        self.derived.get_or_init(|| {
            let identity = match self.spec.identity {
                Some(name) => name.to_owned(),
                None => format!("{}::{}", self.spec.module_path, self.spec.name),
            };
            let fingerprint = self.spec.fingerprint;
            Derived {
                dir: crate::key::dir_name(&identity),
                version: crate::key::version_dir(fingerprint),
                key_prefix: crate::key::key_prefix(&identity, fingerprint),
                identity,
            }
        })
    }
}
