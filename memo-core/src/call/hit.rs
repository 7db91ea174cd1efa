//! What a hit does once the entry is in hand: decode the output (of an
//! entry read from the store, or of the in-process tier's copy), and report
//! it — `ignore_code`'s note, the verbose trace and tracing, the usage
//! record, and the recorded dependencies handed to a caller computing
//! around it.

use std::sync::atomic::Ordering;

use super::stored::OutputSlot;
use super::{Found, MissReason, Target, verbosity};
use crate::entry::{self, Entry, Origin};
use crate::function::CachedFn;
use crate::hash::Digest;
use crate::memory::Memory;
use crate::store::in_process::Kept;
use crate::store::{EntryStore, StoredEntry};
use crate::{recorded, trace};

impl Found {
    /// The entry, verified (checksum and key) when it was read.
    pub(super) fn entry(&self) -> Entry<'_> {
        Entry::parse_verified(&self.stored.bytes, self.stored.len).expect("verified by read_entry")
    }

    /// Decodes the output into `slot`, or says why it cannot be used.
    pub(super) fn decode(&self, slot: &mut dyn OutputSlot) -> Result<(), MissReason> {
        let wanted = slot.stored_type();
        let entry = self.entry();
        if entry.type_hash() != entry::type_hash(wanted) {
            return Err(MissReason::TypeChanged { wanted });
        }
        let Target {
            function,
            memory,
            key,
            ..
        } = self.target;
        entry
            .output_into(
                self.stored.file.as_ref(),
                function.array_mode(memory),
                memory.store().and_then(|store| store.blob_reader()),
                slot,
            )
            .map_err(|error| MissReason::Undecodable { wanted, error })?;
        served(function, memory, &entry);
        if let Some(recorder) = memory.recorder() {
            recorder.hit(function.used(), key);
        }
        Ok(())
    }

    /// This entry, kept by the in-process tier if `store` has one and it
    /// is the entry of the call's `key` (not an alternative found for
    /// changed recorded dependencies).
    pub(super) fn kept_as(self, store: &dyn EntryStore, key: Digest) -> Found {
        if let Some(tier) = store.in_process()
            && self.target.key == key
        {
            let Target {
                function,
                memory,
                ref path,
                ..
            } = self.target;
            tier.keep(function, memory, key, path, &self.stored);
        }
        self
    }
}

/// Decodes the output of an in-process copy into `slot`, or says why it
/// cannot be used: [`Found::decode`] without the read, the checksum or a
/// path.
pub(super) fn decode_kept(kept: &Kept, slot: &mut dyn OutputSlot) -> Result<(), MissReason> {
    let wanted = slot.stored_type();
    if !kept.stores_type(wanted) {
        return Err(MissReason::TypeChanged { wanted });
    }
    let entry = kept.entry();
    let (function, memory) = (kept.function, kept.memory);
    match &kept.uncompressed {
        // What `output_into` decodes after uncompressing.
        Some(raw) => slot
            .decode_output(raw)
            .map_err(|e| entry::EntryError::Output(e.to_string())),
        // No arrays out of line (or the copy would not be kept): nothing
        // to read beside the bytes.
        None => entry.output_into(None, function.array_mode(memory), None, slot),
    }
    .map_err(|error| MissReason::Undecodable { wanted, error })?;
    served(function, memory, &entry);
    kept.count_hit();
    Ok(())
}

/// An in-process copy as an entry read from the store: for what is rare
/// (a type change, a handle's call), so the rest of the call path has one
/// kind of found entry.
#[cold]
pub(super) fn found_from(kept: &Kept) -> Found {
    Found {
        target: Target {
            function: kept.function,
            memory: kept.memory,
            key: kept.key,
            path: kept.path.to_string(),
        },
        stored: StoredEntry {
            bytes: kept.bytes.to_vec(),
            len: kept.bytes.len() as u64,
            file: None,
        },
    }
}

/// What every served hit does beside decoding: `ignore_code`'s note, the
/// verbose trace and tracing, and the recorded dependencies of a callee
/// handed to the caller computing around it.
pub(super) fn served(function: &CachedFn, memory: &Memory, entry: &Entry<'_>) {
    if function.spec.ignore_code {
        compare_code(function, memory, entry);
    }
    if verbosity(function, memory) >= 2 {
        trace::loading(function.spec.name, &function.derived().identity);
    }
    tracing::debug!(target: "memory", function = function.derived().identity, "cache hit");
    if recorded::active() {
        // The callee's result shaped the caller's: so did what it
        // recorded.
        recorded::extend(recorded::recorded_by(entry));
    }
}

/// For an `ignore_code` function, once per process: says when the entry
/// served was computed by other code than this build's (kept, as
/// `ignore_code` asks, until the version changes).
#[cold]
fn compare_code(function: &CachedFn, memory: &Memory, entry: &Entry<'_>) {
    #[derive(serde::Deserialize)]
    struct Code {
        #[serde(default)]
        origin: Origin,
    }
    if function.code_compared.swap(true, Ordering::Relaxed) {
        return;
    }
    let Ok(Code { origin }) = entry.meta_as::<Code>() else {
        return;
    };
    let code = format!("{:032x}", function.spec.code);
    if origin.code.is_empty() || origin.code == code {
        return;
    }
    let version = match function.spec.version {
        Some(version) => format!("version {version}"),
        None => "no version given".to_owned(),
    };
    trace::note(
        verbosity(function, memory),
        format_args!(
            "{}: code changed since these results were computed; kept by ignore_code, {version}",
            function.derived().identity
        ),
    );
}
