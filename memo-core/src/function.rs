//! What the runtime knows about one cached function: the constants the macro
//! computed, plus what is derived from them once per process.
//!
//! A method's identity holds its `Self` type, which only a call can tell
//! (a `static` inside an `impl` cannot name `Self`): the generated code
//! passes `type_name::<Self>()` as the first type argument, and
//! [`CachedFn::resolve`] turns the definition into one [`CachedFn`] per
//! `Self` type, built once and kept for the process.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::memory::Memory;
use crate::registry::Apart;

/// Resolves `memory = EXPR`: a `&'static` place that derefs to a [`Memory`].
pub type MemorySource = fn() -> &'static Memory;

/// The compile-time description of a cached function, written by the macro.
#[derive(Debug, Clone, Copy)]
pub struct FnSpec {
    /// The function's name as written (`f`), for the trace.
    pub name: &'static str,
    /// `module_path!()` at the definition: `crate::module`.
    pub module_path: &'static str,
    /// An explicit identity from `name = "..."`, replacing `module_path::name`.
    pub identity: Option<&'static str>,
    /// The code fingerprint: a hash of the function's tokens (comments and
    /// formatting excluded), of the attribute arguments that shape the key,
    /// and of the fingerprints of its `depends_on` functions.
    pub fingerprint: u128,
    /// `file!()` at the definition.
    pub file: &'static str,
    /// `line!()` at the definition (of the function's name).
    pub line: u32,
    /// `column!()` at the definition (of the function's name).
    pub column: u32,
    /// Whether the identity holds the `Self` type: the function takes
    /// `self` or names `Self` in its signature. The generated code then
    /// passes `type_name::<Self>()` as the first type argument.
    pub method: bool,
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
    /// `mmap_mode = "r" | "c"`, overriding the `Memory`'s (and its
    /// compression, for this function).
    pub mmap_mode: Option<crate::MmapMode>,
    /// `compress = LEVEL`, overriding the `Memory`'s (and its memory maps,
    /// for this function).
    pub compress: Option<i32>,
    /// The code fingerprint: a hash of the function's tokens. The same as
    /// `fingerprint` (before `depends_on`) unless `ignore_code` left it out
    /// of the key; recorded in every entry either way, to explain misses.
    pub code: u128,
    /// `version = ".."`, as written.
    pub version: Option<&'static str>,
    /// `ignore_code = true`: the code fingerprint is not part of the key;
    /// `version` decides when results go stale.
    pub ignore_code: bool,
    /// `wait_limit = ".."`: the longest a call waits for another caller
    /// computing the same key before computing it itself, overriding the
    /// `Memory`'s.
    pub wait_limit: Option<core::time::Duration>,
}

impl FnSpec {
    /// What the fields the macro leaves out default to (`FnSpec { name,
    /// .., ..FnSpec::DEFAULT }`): no attribute arguments, not a method.
    pub const DEFAULT: FnSpec = FnSpec {
        name: "",
        module_path: "",
        identity: None,
        fingerprint: 0,
        file: "",
        line: 0,
        column: 0,
        method: false,
        params: &[],
        verbose: None,
        memory: None,
        expires_after: None,
        validate: None,
        mmap_mode: None,
        compress: None,
        code: 0,
        version: None,
        ignore_code: false,
        wait_limit: None,
    };
}

/// A cached function: its [`FnSpec`] and lazily derived per-process state.
/// Generated code holds one in a `static`.
#[derive(Debug)]
pub struct CachedFn {
    pub(crate) spec: FnSpec,
    /// What is derived at run time, allocated at first use: a `static`
    /// holding only atomics and constants is cheaper to compile (in the
    /// user's crate, once per function) than one holding a `OnceLock` or
    /// a `Mutex`.
    lazy: AtomicPtr<Lazy>,
    /// Whether a method's definition is in the registry yet (see
    /// `registry.rs`: methods register at their first call).
    pub(crate) registered: AtomicBool,
    /// The function as a dependency of the misses that call it
    /// (`recorded.rs`), registered with it.
    pub(crate) dependency: crate::recorded::Dependency,
    /// For `ignore_code`: whether a hit compared the code its entry was
    /// computed by with this build's (done once per process).
    pub(crate) code_compared: AtomicBool,
    /// The next function registered before `main` (`registry.rs`).
    pub(crate) next: AtomicPtr<CachedFn>,
}

/// The run-time state of a [`CachedFn`], made at its first use.
#[derive(Debug, Default)]
struct Lazy {
    derived: OnceLock<Derived>,
    /// For a method: the first `Self` type seen and its resolved function
    /// (the common case, one `Self`, takes no lock)...
    first_self: OnceLock<(&'static str, &'static CachedFn)>,
    /// ...and any other `Self` types (generic or blanket impls, trait
    /// default methods).
    other_selves: Mutex<Vec<(&'static str, &'static CachedFn)>>,
}

/// Derived once per process from the spec.
#[derive(Debug)]
pub(crate) struct Derived {
    /// `crate::module::f`, `crate::module::Type::method`, or the explicit name.
    pub identity: String,
    /// The directory of this function in a store: a readable, file-name-safe
    /// rendering of the identity (plus a hash when that rendering is lossy).
    pub dir: String,
    /// The code-version directory inside `dir`.
    pub version: String,
    /// The constant part of every key of this function.
    pub key_prefix: crate::hash::Digest,
    /// How it is kept apart from other definitions of its identity.
    pub apart: Apart,
}

impl CachedFn {
    /// The zstd level this function's outputs are stored with: its own
    /// `compress`, else the `Memory`'s — unless it asked for memory maps.
    pub(crate) fn zstd_level(&self, memory: &Memory) -> Option<i32> {
        match (self.spec.compress, self.spec.mmap_mode) {
            (Some(level), _) => Some(level),
            (None, Some(_)) => None,
            (None, None) => memory.zstd_level(),
        }
    }

    /// How arrays in this function's outputs come back: its own
    /// `mmap_mode`, else the `Memory`'s; never mapped when compressed.
    pub(crate) fn array_mode(&self, memory: &Memory) -> Option<crate::MmapMode> {
        match self.zstd_level(memory) {
            Some(_) => None,
            None => self.spec.mmap_mode.or(memory.array_mode()),
        }
    }

    /// The age after which this function's entries expire: the shorter of
    /// its own `expires_after` and the `Memory`'s.
    pub(crate) fn max_age(&self, memory: &Memory) -> Option<core::time::Duration> {
        match (self.spec.expires_after, memory.upkeep.expires_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Wraps the macro's constants; `const` so it can initialize a `static`.
    /// `identity` and `location` name the function as a recorded
    /// dependency (`crate::module::name` or its `name = ".."`, and the
    /// `file:line:column` of its name; see [`Dependency::new`]).
    ///
    /// [`Dependency::new`]: crate::recorded::Dependency::new
    pub const fn new(spec: FnSpec, identity: &'static str, location: &'static str) -> Self {
        CachedFn {
            spec,
            lazy: AtomicPtr::new(std::ptr::null_mut()),
            registered: AtomicBool::new(false),
            dependency: crate::recorded::Dependency::new(identity, location, spec.fingerprint),
            code_compared: AtomicBool::new(false),
            next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Registers the function before `main`, and the dependency it is
    /// recorded as: called once, by the constructor the expansion emits
    /// (`__memo_register!`).
    pub fn register(&'static self) {
        crate::registry::link(self);
        self.dependency.register();
    }

    /// The function as usage records name it.
    pub(crate) fn used(&self) -> crate::usage::Used<'_> {
        let derived = self.derived();
        crate::usage::Used {
            dir: &derived.dir,
            version: &derived.version,
            identity: &derived.identity,
        }
    }

    /// The compile-time description.
    pub(crate) fn spec(&self) -> &FnSpec {
        &self.spec
    }

    /// The `Memory` this function caches in.
    pub(crate) fn memory(&self) -> &'static Memory {
        match self.spec.memory {
            Some(source) => source(),
            None => crate::memory::default_memory(),
        }
    }

    /// The function a call with these type arguments runs as: itself, or,
    /// for a method, the function of its `Self` type (`type_args[0]`),
    /// whose identity names that type.
    pub(crate) fn resolve(&'static self, type_args: &[&'static str]) -> &'static CachedFn {
        if !self.spec.method || self.lazy().derived.get().is_some() {
            return self;
        }
        let Some(&self_type) = type_args.first() else {
            return self;
        };
        if let Some(&(known, function)) = self.lazy().first_self.get()
            && (std::ptr::eq(known, self_type) || known == self_type)
        {
            return function;
        }
        self.resolve_slow(self_type)
    }

    #[cold]
    fn resolve_slow(&'static self, self_type: &'static str) -> &'static CachedFn {
        crate::registry::register_at_first_call(self);
        let mut others = self
            .lazy()
            .other_selves
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&(known, function)) = self.lazy().first_self.get()
            && known == self_type
        {
            return function;
        }
        if let Some(&(_, function)) = others.iter().find(|(known, _)| *known == self_type) {
            return function;
        }
        let identity = match self.spec.identity {
            Some(name) => name.to_owned(),
            None => method_identity(self.spec.module_path, self_type, self.spec.name),
        };
        let apart = crate::registry::resolved(self, &identity);
        // A copy for one `Self` type; calls enter the definition's
        // dependency, registered before `main`.
        let function: &'static CachedFn = Box::leak(Box::new(CachedFn::new(
            self.spec,
            self.dependency.identity(),
            self.dependency.location(),
        )));
        let _ = function
            .lazy()
            .derived
            .set(Derived::new(&function.spec, identity, apart));
        if self.lazy().first_self.set((self_type, function)).is_err() {
            others.push((self_type, function));
        }
        function
    }

    /// The functions this definition resolved to so far (for a method, one
    /// per `Self` type called with; otherwise itself once used).
    pub(crate) fn resolved(&self) -> Vec<&'static CachedFn> {
        let mut all: Vec<&'static CachedFn> = self
            .lazy()
            .first_self
            .get()
            .map(|(_, f)| *f)
            .into_iter()
            .collect();
        all.extend(
            self.lazy()
                .other_selves
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(_, f)| *f),
        );
        all
    }

    /// The identity before any `Self` is known: `crate::module::f`, the
    /// explicit name, or `crate::module::Self::method` for a method.
    pub(crate) fn static_identity(&self) -> String {
        match self.spec.identity {
            Some(name) => name.to_owned(),
            None if self.spec.method => {
                format!("{}::Self::{}", self.spec.module_path, self.spec.name)
            }
            None => format!("{}::{}", self.spec.module_path, self.spec.name),
        }
    }

    /// The run-time state, made at the first call of this.
    #[inline]
    fn lazy(&self) -> &Lazy {
        let lazy = self.lazy.load(Ordering::Acquire);
        if lazy.is_null() {
            return self.lazy_slow();
        }
        // SAFETY: a non-null `lazy` was leaked by `lazy_slow` and is
        // never freed or replaced.
        unsafe { &*lazy }
    }

    #[cold]
    fn lazy_slow(&self) -> &Lazy {
        let made = Box::into_raw(Box::default());
        match self.lazy.compare_exchange(
            std::ptr::null_mut(),
            made,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `made` is ours, leaked, and now never freed.
            Ok(_) => unsafe { &*made },
            Err(first) => {
                // SAFETY: `made` lost the race and was never shared.
                drop(unsafe { Box::from_raw(made) });
                // SAFETY: as in `lazy`: leaked by the winner, never freed.
                unsafe { &*first }
            }
        }
    }

    pub(crate) fn derived(&self) -> &Derived {
        self.lazy().derived.get_or_init(|| {
            // A method's derived state is made in `resolve_slow`; this is a
            // free function's first use, or a method not called yet.
            let apart = match self.spec.method {
                false => crate::registry::first_use(&self.spec),
                true => Apart::default(),
            };
            Derived::new(&self.spec, self.static_identity(), apart)
        })
    }
}

impl Derived {
    fn new(spec: &FnSpec, identity: String, apart: Apart) -> Derived {
        let fingerprint = spec.fingerprint;
        // Two definitions with one identity and the same code would share
        // keys: the registry tells which, and their keys then hold their
        // source location (see `registry.rs`).
        let key_prefix = match apart.keyed_by_location {
            false => crate::key::key_prefix(&identity, fingerprint),
            true => crate::key::key_prefix(
                &format!("{identity}@{}:{}:{}", spec.file, spec.line, spec.column),
                fingerprint,
            ),
        };
        Derived {
            dir: dir(&identity, spec, apart),
            version: crate::layout::version_dir(fingerprint),
            key_prefix,
            identity,
            apart,
        }
    }
}

/// The function directory of a definition: its identity's, or, when it
/// shares the identity with another definition, one of its own.
pub(crate) fn dir(identity: &str, spec: &FnSpec, apart: Apart) -> String {
    match apart.own_dir {
        false => crate::key::dir_name(identity),
        true => crate::key::shared_dir_name(identity, spec.file, spec.line, spec.column),
    }
}

/// A method's identity: `crate::module::Type::method` when `Self` is a path
/// in the function's crate, `crate::module::<T>::method` otherwise (a
/// foreign or built-in type: `<u32>`, `<alloc::vec::Vec>`, `<[u8]>`).
/// Generic arguments of `Self` are left out: like a generic function's type
/// arguments, they key the entries but do not split the function.
pub(crate) fn method_identity(module_path: &str, self_type: &str, name: &str) -> String {
    let base = without_generic_args(self_type);
    let krate = module_path.split("::").next().unwrap_or(module_path);
    let local = base
        .strip_prefix(krate)
        .is_some_and(|rest| rest.starts_with("::"));
    if local {
        format!("{base}::{name}")
    } else {
        format!("{module_path}::<{base}>::{name}")
    }
}

/// `a::B<u32, c::D<e>>` → `a::B`; anything that is not a plain path
/// (`[u8]`, `&str`, `(A, B)`, `dyn T`) is kept whole.
fn without_generic_args(type_name: &str) -> &str {
    let is_path = type_name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_');
    match type_name.find('<') {
        Some(at) if is_path && !type_name[..at].contains(' ') => &type_name[..at],
        _ => type_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_identities() {
        assert_eq!(
            method_identity("app::shapes", "app::shapes::Circle", "area"),
            "app::shapes::Circle::area"
        );
        assert_eq!(
            method_identity("app::algos", "app::shapes::Grid<f64>", "solve"),
            "app::shapes::Grid::solve"
        );
        assert_eq!(
            method_identity("app::ext", "u32", "double"),
            "app::ext::<u32>::double"
        );
        assert_eq!(
            method_identity("app::ext", "alloc::vec::Vec<u8>", "total"),
            "app::ext::<alloc::vec::Vec>::total"
        );
        assert_eq!(
            method_identity("app::ext", "[u8]", "sum"),
            "app::ext::<[u8]>::sum"
        );
        assert_eq!(
            method_identity("app", "application::X", "f"),
            "app::<application::X>::f"
        );
        assert_eq!(
            method_identity("app", "dyn app::T", "f"),
            "app::<dyn app::T>::f"
        );
    }
}
