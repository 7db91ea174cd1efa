//! A miss: the body runs with its dependencies recorded, and its output is
//! stored (arrays out of line) and, when mapped, reloaded as a hit would
//! return it.

use super::*;
use crate::usage::MissKind;

/// A miss whose body is running: its dependencies are being recorded.
pub(super) struct Running {
    missing: Missing,
    started: Instant,
    frame: recorded::Frame,
}

impl Missing {
    /// Starts the computation: the body runs next, with its dependencies
    /// recorded until [`Running::complete`].
    ///
    /// With memory-mapped arrays, the output is returned as every later hit
    /// will return it: reloaded from its entry (and rebuilt into an
    /// output), so the first call does not hand back a plain array where the
    /// next ones hand back a map (a joblib gotcha).
    pub(super) fn begin_run(mut self) -> Running {
        let started = self.start();
        Running {
            missing: self,
            started,
            frame: recorded::Frame::open(Vec::new()),
        }
    }

    /// Decides why this call computes, traces the start of the
    /// computation with it; returns when it started.
    pub(super) fn start(&mut self) -> Instant {
        let function = self.target.function;
        let reason = self.decide_reason();
        let identity = &function.derived().identity;
        if verbosity(function, self.target.memory) >= 1 {
            trace::calling(identity, &self.call, &reason);
        }
        tracing::info!(target: "memory", function = identity, call = self.call, kind = reason.kind(), %reason, "miss");
        self.why = Some(reason);
        Instant::now()
    }

    /// Why this call computes: why the entry found was not used, else what
    /// the store holds near the call (`explain.rs`).
    pub(super) fn decide_reason(&self) -> MissReason {
        match self.reason() {
            MissReason::Absent => match self.target.memory.store() {
                Some(store) => {
                    explain::absent(store, self.target.function, &self.args, &self.type_args)
                }
                None => MissReason::Absent,
            },
            reason => reason.clone(),
        }
    }

    /// Stores `kept`, what is kept of the body's output (`None`: nothing);
    /// reloads the entry into `slot` when the output is returned as stored
    /// (arrays mapped). `deps`: the annotated functions that ran meanwhile
    /// (`recorded.rs`).
    pub(super) fn complete(
        self,
        started: Instant,
        kept: Option<&dyn Encode>,
        slot: &mut dyn OutputSlot,
        deps: &[recorded::Recorded],
    ) {
        let Target {
            function,
            memory,
            key,
            ref path,
        } = self.target;
        let derived = function.derived();
        let verbose = verbosity(function, memory);
        let duration = started.elapsed();
        if verbose >= 1 {
            trace::computed(function.spec.name, duration);
        }
        tracing::info!(target: "memory", function = derived.identity, call = self.call, ?duration, "computed");
        let kind = self
            .why
            .as_ref()
            .map_or(MissKind::Unknown, MissReason::miss_kind);
        if let Some(stored) = kept {
            let spec = &function.spec;
            let origin = Origin {
                code: crate::layout::hex(spec.code),
                version: spec.version.map(str::to_owned),
                ignore_code: spec.ignore_code,
                arg_types: self.arg_types,
                expires_after_s: function.max_age(memory).map(|limit| limit.as_secs_f64()),
                miss: self.why.map(|reason| MissRecord {
                    kind: reason.kind().to_owned(),
                    reason: reason.to_string(),
                }),
            };
            let meta = EntryMeta {
                deps: deps.iter().map(recorded::Recorded::to_record).collect(),
                identity: derived.identity.clone(),
                fingerprint: crate::layout::hex(function.spec.fingerprint),
                output_type: slot.stored_type().to_owned(),
                call: self.call,
                args: self.args,
                type_args: self.type_args,
                created_ms: crate::sys::now_ms(),
                duration_s: duration.as_secs_f64(),
                origin,
            };
            let written = store(function, memory, path, key, &meta, stored);
            if written.is_some() {
                explain::remember(function, meta);
            }
            let mapped = written == Some(true) && function.array_mode(memory).is_some();
            if let Some(recorder) = memory.recorder() {
                recorder.miss(function.used(), key, duration, kind, true);
            }
            if mapped {
                reload(function, memory, path, key, slot);
            }
        } else if let Some(recorder) = memory.recorder() {
            recorder.miss(function.used(), key, duration, kind, false);
        }
    }
}

impl Running {
    /// Stores `kept` (see [`Missing::complete`]).
    pub(super) fn complete(self, kept: Option<&dyn Encode>, slot: &mut dyn OutputSlot) {
        let deps = self.frame.close_sorted();
        self.missing.complete(self.started, kept, slot, &deps);
    }
}

/// Reads back the entry just stored at `path` into `slot`, arrays mapped;
/// leaves `slot` empty if it cannot.
fn reload(
    function: &CachedFn,
    memory: &Memory,
    path: &str,
    key: Digest,
    slot: &mut dyn OutputSlot,
) {
    let Some(store) = memory.store() else { return };
    let Ok(Some(stored)) = store.read(path) else {
        return;
    };
    let Ok(entry) = Entry::parse_head(&stored.bytes, stored.len, Some(key)) else {
        return;
    };
    let _ = entry.output_into(
        stored.file.as_ref(),
        function.array_mode(memory),
        store.blob_reader(),
        slot,
    );
}

/// Stores an entry; `Some` if it was written, `Some(true)` if it holds
/// out-of-line arrays.
fn store(
    function: &CachedFn,
    memory: &Memory,
    path: &str,
    key: Digest,
    meta: &EntryMeta,
    stored: &dyn Encode,
) -> Option<bool> {
    let type_hash = entry::type_hash(&meta.output_type);
    let store = memory.store();
    // Large arrays go to the store's blob area as they are encoded; the
    // writer keeps them from a concurrent sweep until the entry is linked.
    let blob_writer = store.and_then(|store| store.blob_writer());
    let zstd_level = function.zstd_level(memory);
    let encoded = match entry::encode_with(
        key,
        type_hash,
        meta,
        &mut |out| stored.encode(out),
        zstd_level,
        blob_writer.as_deref(),
    ) {
        Ok(encoded) => encoded,
        Err(e) => {
            trace::warn(format_args!(
                "{}: cannot encode the output ({e}); it is not cached",
                meta.identity
            ));
            return None;
        }
    };
    let store = store?;
    // `encoded` borrows the arrays of `stored`, alive for this whole call.
    let written = store.write(path, &encoded.parts());
    drop(blob_writer);
    match written {
        Ok(()) => {
            if let Some(recorder) = memory.recorder() {
                recorder.written(encoded.stored_len());
            }
            Some(encoded.has_blobs())
        }
        Err(e) => {
            memory.report_write_failure(path, &e);
            None
        }
    }
}
