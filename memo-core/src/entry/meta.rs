//! What an entry records about its result besides the output: the metadata
//! map of the entry format (`docs/format.md`), read by `memo`, explanations
//! of misses and the dependency check.

use serde::{Deserialize, Serialize};

/// What we record about every entry besides its output (joblib's
/// `metadata.json`). Stored as a MessagePack map with named fields, so fields
/// can be added later without a format bump (readers ignore unknown ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// The annotated functions that ran while the result was computed
    /// (`#[memory::cache]` and `#[memory::fingerprint]`), sorted by
    /// identity: a lookup whose binary has another fingerprint for one of
    /// them is a miss. First in the map, and left out when empty, so a hit
    /// finds out whether there are any from the first key alone
    /// (`entry/deps.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<DepRecord>,
    /// The function's identity: `crate::module::name` or its `name = "..."`.
    pub identity: String,
    /// The code fingerprint, as 32 hex digits.
    pub fingerprint: String,
    /// `type_name` of the function's output type.
    pub output_type: String,
    /// The call as written, rendered from the arguments: `f(1, "a")`.
    pub call: String,
    /// Per-argument digests (32 hex digits each), in call order: enough to
    /// explain later which argument made a call miss.
    pub args: Vec<ArgRecord>,
    /// `type_name`s of the generic type arguments, if any.
    #[serde(default)]
    pub type_args: Vec<String>,
    /// When the entry was computed, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// How long the function ran, in seconds.
    pub duration_s: f64,
    /// What else the key was made of, and why the entry was computed
    /// (absent from entries written before it was recorded, and left out
    /// when empty).
    #[serde(default, skip_serializing_if = "Origin::is_empty")]
    pub origin: Origin,
}

#[cfg(test)]
impl EntryMeta {
    /// The metadata of a plausible entry (`demo::f(1)` returning a `u64`),
    /// for unit tests that need one.
    pub(crate) fn sample() -> EntryMeta {
        EntryMeta {
            deps: Vec::new(),
            identity: "demo::f".into(),
            fingerprint: format!("{:032x}", 7u128),
            output_type: "u64".into(),
            call: "f(1)".into(),
            args: vec![ArgRecord {
                name: "x".into(),
                digest: format!("{:032x}", 9u128),
            }],
            type_args: Vec::new(),
            created_ms: 1,
            duration_s: 0.5,
            origin: Origin::default(),
        }
    }
}

/// What an entry's key was made of beyond its identity, fingerprint and
/// argument digests, what decides its validity, and why it was computed:
/// what a later miss is explained with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Origin {
    /// The code fingerprint (32 hex digits): a hash of the function's
    /// tokens. The same as [`EntryMeta::fingerprint`] unless `ignore_code`
    /// left the code out of the key.
    pub code: String,
    /// The function's `version = ".."`, if it gives one.
    pub version: Option<String>,
    /// Whether `ignore_code = true` left the code fingerprint out of the key.
    pub ignore_code: bool,
    /// `type_name` of each argument in [`EntryMeta::args`], in that order.
    pub arg_types: Vec<String>,
    /// The `expires_after` in force when it was computed, in seconds.
    pub expires_after_s: Option<f64>,
    /// Why it was computed.
    pub miss: Option<MissRecord>,
}

impl Origin {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        *self == Origin::default()
    }
}

/// Why an entry was computed: the miss that wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MissRecord {
    /// The reason's short name (`first call`, `code changed`, ...), for
    /// counting.
    pub kind: String,
    /// The reason in words.
    pub reason: String,
}

/// One hashed argument of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgRecord {
    /// The parameter's name.
    pub name: String,
    /// Its canonical digest, as 32 hex digits.
    pub digest: String,
}

/// A dependency recorded with an entry: an annotated function that ran
/// while the entry's result was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepRecord {
    /// Its identity: `crate::module::name`, or a cached function's
    /// `name = "..."`.
    pub identity: String,
    /// Its code fingerprint when the entry was computed, as 32 hex digits.
    pub fingerprint: String,
}
