//! Every cached function of the binary, and what memo does when two of them
//! share an identity.
//!
//! Every cached function links its `static` description into one list
//! before `main`, by a constructor emitted inside its own body
//! (`__memo_register!`, in `recorded.rs`: a `static` in the platform's
//! initializer section, with no `unsafe` code in the user's function, so
//! clippy's `unsafe_derive_deserialize` stays quiet on a
//! `#[derive(Deserialize)]` type with cached methods). The same
//! constructor registers the function as a recorded dependency. A free
//! function (any function whose signature names neither `self` nor
//! `Self`, nested ones included) is listed from then on; a method is listed
//! from its first call, since its identity holds its `Self` type, which
//! only a call tells (see `function.rs`).
//!
//! On the first cached call (or the first [`registry`] call) the free
//! functions are grouped by identity. Two definitions of one identity at
//! different source locations (functions nested in other functions,
//! joblib's `<locals>` case, or `name = "..."` given twice; in one scope the
//! attribute already refuses this at compile time) are kept apart:
//!
//! - each gets its own function directory (the identity's, plus a digest of
//!   its source location), so managing one — its `.current` code version,
//!   `gc_stale`, a handle's `clear` — never touches the other's entries;
//! - definitions with the *same* code (which could still mean different
//!   things: a nested function's body sees its own scope) also get their
//!   source location folded into their keys;
//! - the collision is reported once, naming both (`file:line`), when one of
//!   the colliding functions is first called — not from an unrelated call.
//!
//! A method's identity is known when it is first called: a second
//! definition resolving to an identity already taken (an inherent and a
//! trait method of one name on one type) is reported then, and gets its own
//! directory (and, with the same code, location-keyed keys). Which of the
//! two counts as the second depends on the order of their first calls.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::function::{CachedFn, FnSpec};

/// The head of the list of functions registered before `main`, linked
/// through [`CachedFn`]'s `next`.
static REGISTERED: AtomicPtr<CachedFn> = AtomicPtr::new(std::ptr::null_mut());

/// Adds `function` to the binary's list; called once, before `main`, by the
/// constructor the expansion emits (`__memo_register!`).
pub(crate) fn link(function: &'static CachedFn) {
    let this = std::ptr::from_ref(function).cast_mut();
    let mut head = REGISTERED.load(Ordering::Acquire);
    loop {
        function.next.store(head, Ordering::Relaxed);
        match REGISTERED.compare_exchange_weak(head, this, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

/// Every function registered before `main`, methods included.
fn linked() -> impl Iterator<Item = &'static CachedFn> {
    let mut at = REGISTERED.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: only `&'static CachedFn`s are ever linked (`link`), and a
        // link, once set, is never changed again (each `static` registers
        // once, from its constructor).
        let function: &'static CachedFn = unsafe { at.as_ref()? };
        at = function.next.load(Ordering::Acquire);
        Some(function)
    })
}

/// Methods, registered at their first call (see the module docs).
static AT_FIRST_CALL: Mutex<Vec<&'static CachedFn>> = Mutex::new(Vec::new());

/// Adds a method's definition to the registry (once, however often it is
/// called).
pub(crate) fn register_at_first_call(function: &'static CachedFn) {
    if !function.registered.swap(true, Ordering::AcqRel) {
        AT_FIRST_CALL
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(function);
    }
}

/// The free functions, all registered before `main` (a method is listed
/// from its first call, when its `Self` type is known).
fn registered_before_main() -> impl Iterator<Item = &'static CachedFn> {
    linked().filter(|function| !function.spec().method)
}

/// Every registered function.
fn registered() -> Vec<&'static CachedFn> {
    let mut all: Vec<&'static CachedFn> = registered_before_main().collect();
    all.extend(
        AT_FIRST_CALL
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter(),
    );
    all
}

/// A cached function of this binary, as [`registry`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredFn {
    /// The identity its results are stored under: `crate::module::f`,
    /// `crate::module::Type::method`, or its `name = "..."`. A method is
    /// listed from its first call in this process on (when its `Self` type
    /// is known), once per `Self` type.
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
    /// Its store directory below the cache location: the identity's, plus a
    /// digest of its source location when another definition shares the
    /// identity.
    pub dir: String,
}

impl RegisteredFn {
    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The store directory of its results, as [`Memory`](crate::Memory)
    /// names it below the cache location.
    pub fn dir_name(&self) -> String {
        self.dir.clone()
    }
}

/// Every cached function of this binary (from every crate linked in; a
/// method once it has been called), sorted by identity, then location.
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
    let mut all = Vec::new();
    for definition in registered() {
        let spec = definition.spec();
        let listed = |identity: String, apart: Apart| RegisteredFn {
            dir: crate::function::dir(&identity, spec, apart),
            identity,
            name: spec.name,
            module_path: spec.module_path,
            method: spec.method,
            file: spec.file,
            line: spec.line,
            column: spec.column,
            fingerprint: spec.fingerprint,
            keyed_by_location: apart.keyed_by_location,
        };
        let resolved = definition.resolved();
        if spec.method && !resolved.is_empty() {
            all.extend(
                resolved
                    .iter()
                    .map(|f| listed(f.derived().identity.clone(), f.derived().apart)),
            );
        } else {
            // Not `derived()`: listing must not count as a first use.
            all.push(listed(definition.static_identity(), apart(spec)));
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

/// Definitions that share one identity.
struct Collision {
    identity: String,
    /// `file:line` of each definition.
    locations: Vec<String>,
    /// Set once the collision was reported.
    reported: AtomicBool,
}

/// What the registrations say, worked out once per process.
struct Index {
    /// Definitions whose keys hold their location.
    location_keyed: Vec<Location>,
    /// Each definition that shares its identity, with its collision.
    shared: BTreeMap<Location, usize>,
    collisions: Vec<Collision>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(build_index)
}

fn build_index() -> Index {
    let mut groups: BTreeMap<String, Vec<&'static CachedFn>> = BTreeMap::new();
    for function in registered_before_main() {
        let members = groups.entry(function.static_identity()).or_default();
        let spec = function.spec();
        if !members.iter().any(|m| location(m.spec()) == location(spec)) {
            members.push(function);
        }
    }
    let mut index = Index {
        location_keyed: Vec::new(),
        shared: BTreeMap::new(),
        collisions: Vec::new(),
    };
    for (identity, members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        for member in &members {
            let spec = member.spec();
            let same_code = members.iter().any(|other| {
                other.spec().fingerprint == spec.fingerprint
                    && location(other.spec()) != location(spec)
            });
            if same_code {
                index.location_keyed.push(location(spec));
            }
            index.shared.insert(location(spec), index.collisions.len());
        }
        let mut locations: Vec<String> = members
            .iter()
            .map(|m| format!("{}:{}", m.spec().file, m.spec().line))
            .collect();
        locations.sort();
        index.collisions.push(Collision {
            identity,
            locations,
            reported: AtomicBool::new(false),
        });
    }
    index
}

/// How a definition's results are kept apart from another definition of
/// the same identity (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Apart {
    /// Its keys hold its source location.
    pub keyed_by_location: bool,
    /// It has a function directory of its own.
    pub own_dir: bool,
}

/// How a free function is kept apart from others of its identity.
fn apart(spec: &FnSpec) -> Apart {
    let index = index();
    let here = location(spec);
    Apart {
        keyed_by_location: index.location_keyed.contains(&here),
        own_dir: index.shared.contains_key(&here),
    }
}

/// Called when a free function is first used: [`apart`], and the report of
/// its collision if it has one that was not reported yet.
pub(crate) fn first_use(spec: &FnSpec) -> Apart {
    let index = index();
    if let Some(&collision) = index.shared.get(&location(spec)) {
        let collision = &index.collisions[collision];
        if !collision.reported.swap(true, Ordering::AcqRel) {
            report(&collision.identity, &collision.locations);
        }
    }
    apart(spec)
}

/// Records that `definition` resolved (for one `Self` type) to `identity`.
/// A second definition resolving to an identity already taken is reported,
/// and kept apart from the first: its own directory, and location-keyed
/// keys when its code is the same.
pub(crate) fn resolved(definition: &'static CachedFn, identity: &str) -> Apart {
    static RESOLVED: Mutex<BTreeMap<String, Vec<(Location, u128)>>> = Mutex::new(BTreeMap::new());
    let spec = definition.spec();
    let here = (location(spec), spec.fingerprint);
    let mut resolved = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner);
    let definitions = match resolved.entry(identity.to_owned()) {
        Entry::Vacant(slot) => {
            slot.insert(vec![here]);
            return Apart::default();
        }
        Entry::Occupied(slot) => slot.into_mut(),
    };
    if definitions.first().is_some_and(|first| first.0 == here.0) {
        return Apart::default();
    }
    let same_code = definitions
        .iter()
        .any(|(other, fingerprint)| *fingerprint == spec.fingerprint && *other != here.0);
    if !definitions.iter().any(|(other, _)| *other == here.0) {
        definitions.push(here);
        let named: Vec<String> = definitions
            .iter()
            .map(|((file, line, _), _)| format!("{file}:{line}"))
            .collect();
        drop(resolved);
        report(identity, &named);
    }
    Apart {
        keyed_by_location: same_code,
        own_dir: true,
    }
}

fn report(identity: &str, locations: &[String]) {
    crate::trace::warn(format_args!(
        "{} cached functions share the identity `{identity}`: {}. Their results and \
         their cache directories are kept apart; give each its own `name = \"...\"`",
        locations.len(),
        locations.join(", "),
    ));
}
