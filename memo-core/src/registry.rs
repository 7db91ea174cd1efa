//! Every cached function of the binary, and what memo does when two of them
//! share an identity.
//!
//! Each `#[memory::cache]` function registers its `static` description
//! before `main`, from inside its own body, so it works in `impl` blocks and
//! nested functions alike. The technique is `inventory`'s: a function
//! pointer in the platform's constructor section (`.init_array`,
//! `__mod_init_func`, `.CRT$XCU`) that pushes the function onto a lock-free
//! list. `inventory::submit!` itself is not used because it puts an
//! `unsafe` block into the function's body, which lints then attribute to
//! the user's code (clippy's `unsafe_derive_deserialize` fires on every type
//! with a cached method); the registration generated here is safe code, and
//! the one `unsafe` (reading the list) is in this file. On a platform
//! without constructor sections, a function registers at its first call.
//!
//! On the first cached call (or the first [`registry`] call) the
//! registrations are grouped by identity:
//!
//! - Two definitions of one identity at different source locations are
//!   reported once, naming both (`file:line`). In one scope the attribute
//!   already refuses this at compile time; elsewhere it happens with
//!   functions nested in other functions (joblib's `<locals>` case),
//!   `name = "..."` given twice, or an inherent and a trait method of one
//!   name on one type.
//! - Their entries never mix: the key holds the code fingerprint, so
//!   definitions with different code have different keys; definitions with
//!   the *same* code (which could still mean different things: a nested
//!   function's body sees its own scope) get their source location folded
//!   into their keys.
//!
//! A method's identity holds its `Self` type, known only once it is called
//! (see `function.rs`): methods are grouped by name for the key decision
//! (conservatively), and a shared identity is reported when the second
//! definition resolves to it.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::function::{CachedFn, FnSpec};

/// The most recently registered function; each links to the one before.
static HEAD: AtomicPtr<CachedFn> = AtomicPtr::new(std::ptr::null_mut());

/// Adds `function` to the list of every cached function (once, however
/// often it is called). Runs before `main`, from the constructor section.
pub fn register(function: &'static CachedFn) {
    if function.registered.swap(true, Ordering::AcqRel) {
        return;
    }
    let node = std::ptr::from_ref(function).cast_mut();
    let mut head = HEAD.load(Ordering::Acquire);
    loop {
        function.next.store(head, Ordering::Release);
        match HEAD.compare_exchange_weak(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(current) => head = current,
        }
    }
}

/// Every registered function, most recent first.
fn registered() -> impl Iterator<Item = &'static CachedFn> {
    let mut at = HEAD.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: the list only ever holds pointers made from
        // `&'static CachedFn` in `register`, never freed or moved.
        let function: &'static CachedFn = unsafe { at.as_ref() }?;
        at = function.next.load(Ordering::Acquire);
        Some(function)
    })
}

/// A cached function of this binary, as [`registry`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredFn {
    /// The identity its results are stored under: `crate::module::f`,
    /// `crate::module::Type::method`, or its `name = "..."`. A method not
    /// yet called in this process reads `crate::module::Self::method`: its
    /// `Self` type is known from its first call on.
    pub identity: String,
    /// The function's name as written.
    pub name: &'static str,
    /// The module it is defined in (`module_path!()`).
    pub module_path: &'static str,
    /// Whether it is a method (takes `self` or names `Self`).
    pub method: bool,
    /// The source file of its definition (`file!()`).
    pub file: &'static str,
    /// The line of its name.
    pub line: u32,
    /// The column of its name.
    pub column: u32,
    /// Its code fingerprint (its tokens, the attribute arguments that shape
    /// the key, and its `depends_on` fingerprints).
    pub fingerprint: u128,
    /// Whether it shares its identity and its code with another definition,
    /// so that its keys hold its source location.
    pub keyed_by_location: bool,
}

impl RegisteredFn {
    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The store directory of its results, as [`Memory`](crate::Memory)
    /// names it below the cache location.
    pub fn dir_name(&self) -> String {
        crate::key::dir_name(&self.identity)
    }
}

/// Every cached function of this binary (from every crate linked in),
/// sorted by identity, then location.
///
/// ```
/// #[memory::cache]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let functions = memory::registry();
/// let square = functions.iter().find(|f| f.name == "square").unwrap();
/// assert!(square.identity.ends_with("::square"));
/// println!("{} at {} ({:032x})", square.identity, square.location(), square.fingerprint);
/// ```
pub fn registry() -> Vec<RegisteredFn> {
    let index = index();
    let mut all = Vec::new();
    for definition in registered() {
        let spec = definition.spec();
        let keyed_by_location = index.location_keyed.contains(&location(spec));
        let listed = |identity: String| RegisteredFn {
            identity,
            name: spec.name,
            module_path: spec.module_path,
            method: spec.method,
            file: spec.file,
            line: spec.line,
            column: spec.column,
            fingerprint: spec.fingerprint,
            keyed_by_location,
        };
        let resolved = definition.resolved();
        if spec.method && !resolved.is_empty() {
            all.extend(
                resolved
                    .iter()
                    .map(|f| listed(f.derived().identity.clone())),
            );
        } else {
            all.push(listed(definition.static_identity()));
        }
    }
    all.sort_by(|a, b| {
        (&a.identity, a.file, a.line, a.column).cmp(&(&b.identity, b.file, b.line, b.column))
    });
    all.dedup();
    all
}

type Location = (&'static str, u32, u32);

fn location(spec: &FnSpec) -> Location {
    (spec.file, spec.line, spec.column)
}

/// What the registrations say, worked out once per process.
struct Index {
    /// Definitions whose keys hold their location.
    location_keyed: Vec<Location>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(build_index)
}

/// The group two definitions must share to be able to share keys: the
/// identity, or for a method without `name = "..."` (whose `Self` is not
/// known yet) its name.
fn group(function: &CachedFn) -> String {
    let spec = function.spec();
    match spec.identity {
        None if spec.method => format!("method {}", spec.name),
        _ => format!("fn {}", function.static_identity()),
    }
}

fn build_index() -> Index {
    let mut groups: BTreeMap<String, Vec<&'static CachedFn>> = BTreeMap::new();
    for function in registered() {
        let members = groups.entry(group(function)).or_default();
        let spec = function.spec();
        if !members.iter().any(|m| location(m.spec()) == location(spec)) {
            members.push(function);
        }
    }
    let mut location_keyed = Vec::new();
    for members in groups.values().filter(|members| members.len() > 1) {
        for member in members {
            let spec = member.spec();
            let same_code = members.iter().any(|other| {
                other.spec().fingerprint == spec.fingerprint
                    && location(other.spec()) != location(spec)
            });
            if same_code {
                location_keyed.push(location(spec));
            }
        }
        if !members[0].spec().method || members[0].spec().identity.is_some() {
            let locations: Vec<String> = members
                .iter()
                .map(|m| format!("{}:{}", m.spec().file, m.spec().line))
                .collect();
            report(&members[0].static_identity(), &locations);
        }
    }
    Index { location_keyed }
}

/// Whether a definition's keys hold its source location (see the module
/// docs).
pub(crate) fn keyed_by_location(spec: &FnSpec) -> bool {
    index().location_keyed.contains(&location(spec))
}

/// Records that `definition` resolved (for one `Self` type) to `function`;
/// reports a second definition resolving to an identity already taken.
pub(crate) fn resolved(definition: &'static CachedFn, function: &'static CachedFn) {
    static RESOLVED: Mutex<BTreeMap<String, Vec<Location>>> = Mutex::new(BTreeMap::new());
    let identity = function.derived().identity.clone();
    let here = location(definition.spec());
    let mut resolved = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner);
    let locations = match resolved.entry(identity.clone()) {
        Entry::Vacant(slot) => {
            slot.insert(vec![here]);
            return;
        }
        Entry::Occupied(slot) => slot.into_mut(),
    };
    if locations.contains(&here) {
        return;
    }
    locations.push(here);
    let named: Vec<String> = locations
        .iter()
        .map(|(file, line, _)| format!("{file}:{line}"))
        .collect();
    drop(resolved);
    // Explicit names were reported with the registry.
    if definition.spec().identity.is_none() {
        report(&identity, &named);
    }
}

fn report(identity: &str, locations: &[String]) {
    crate::trace::warn(format_args!(
        "{} cached functions share the identity `{identity}`: {}. Their results are kept \
         apart, but they share a cache directory; give each its own `name = \"...\"`",
        locations.len(),
        locations.join(", "),
    ));
}
