//! A found entry that is not used becomes a recomputation one way: it
//! is reported with its [`MissReason`], marked for replacement, and handed
//! on as a miss that takes the key's compute-once lock and looks again,
//! like any other miss.

use super::stored::OutputSlot;
use super::{Found, MissReason, Missing, Passed, Target, read_entry};
use crate::entry::{EntryMeta, HEADER_LEN};
use crate::store::{EntryStore, KeyGuard, StoredEntry};
use crate::trace;

/// An entry that was read and not used, and why.
#[derive(Clone)]
pub(super) struct Unused {
    /// Its header, which names it: the checksum in it covers the metadata
    /// (with its creation time) and the output. A look under the lock
    /// skips this same entry instead of checking it again, so a validation
    /// callback that rejects it runs once per call.
    pub(super) header: [u8; HEADER_LEN],
    pub(super) reason: MissReason,
}

impl Unused {
    pub(super) fn is(&self, stored: &StoredEntry) -> bool {
        stored.bytes.get(..HEADER_LEN) == Some(&self.header[..])
    }
}

/// A found entry's fate once the caller's output type is known: decoded
/// into its slot, or to be computed (the lock held where one could be taken).
#[allow(
    clippy::large_enum_variant,
    reason = "made and matched once per miss, never stored"
)]
pub(super) enum Settled {
    /// Decoded into the caller's slot.
    Stored,
    Compute(Missing),
}

/// Reports a found entry that is not used: a damaged one always (a
/// warning), every one as a `tracing` event.
pub(super) fn report_unused(target: &Target, reason: &MissReason) {
    let function = target.function;
    let identity = &function.derived().identity;
    // The others are said when the computation starts (`Missing::start`).
    if let MissReason::Damaged(e) = reason {
        trace::warn(format_args!(
            "corrupt cache entry {} ({e}); recomputing {identity}",
            target.path
        ));
    }
    tracing::debug!(target: "memory", function = identity, path = target.path, %reason, "stored entry not used");
}

impl Found {
    /// The one way a found entry becomes a recomputation: it is reported
    /// (why it is not used), marked for replacement, and handed on as a
    /// miss that still has to take the key's lock and look again
    /// ([`Missing::settle`], or `lock_async`), like any other miss.
    pub(super) fn into_missing(self, reason: MissReason) -> Missing {
        if let Some(store) = self.target.memory.store() {
            store.rejected(&self.target.path);
        }
        report_unused(&self.target, &reason);
        let mut header = [0; HEADER_LEN];
        header.copy_from_slice(&self.stored.bytes[..HEADER_LEN]);
        // Same key, same arguments: the old metadata renders this call.
        let meta: Option<EntryMeta> = self.entry().meta().ok();
        let (call, args, arg_types, type_args) = match meta {
            Some(meta) => (meta.call, meta.args, meta.origin.arg_types, meta.type_args),
            None => (
                format!("{}(…)", self.target.function.spec.name),
                Vec::new(),
                Vec::new(),
                Vec::new(),
            ),
        };
        Missing {
            target: self.target,
            call,
            args,
            arg_types,
            type_args,
            why: None,
            unused: Some(Box::new(Unused { header, reason })),
            _lock: None,
            lock_tried: false,
        }
    }
}

impl Missing {
    /// Why this call computes.
    pub(super) fn reason(&self) -> &MissReason {
        self.unused
            .as_ref()
            .map_or(&MissReason::Absent, |unused| &unused.reason)
    }

    /// Takes the compute-once lock (waiting for another caller that holds
    /// it) unless that was tried already, then looks again.
    pub(super) fn settle(mut self, slot: &mut dyn OutputSlot) -> Settled {
        if self.lock_tried {
            return Settled::Compute(self);
        }
        self.lock_tried = true;
        let Some(store) = self.target.memory.store() else {
            return Settled::Compute(self);
        };
        let limit = self.target.wait_limit();
        match store.lock_within(self.target.key, limit) {
            Ok(Some(guard)) => self.relook(store, guard, slot),
            Ok(None) => {
                let call = self.call.clone();
                super::gave_up_waiting(&self.target, limit, || call);
                Settled::Compute(self)
            }
            Err(e) => {
                tracing::debug!(target: "memory", path = self.target.path, %e, "no compute-once lock");
                Settled::Compute(self)
            }
        }
    }

    /// With the compute-once lock held, looks again: another caller may
    /// have stored the output while this one waited (then it is decoded
    /// into `slot`). A refresh computes whatever is stored.
    pub(super) fn relook(
        mut self,
        store: &dyn EntryStore,
        lock: KeyGuard,
        slot: &mut dyn OutputSlot,
    ) -> Settled {
        if matches!(self.reason(), MissReason::Refresh) {
            self._lock = Some(lock);
            return Settled::Compute(self);
        }
        match read_entry(store, self.target, false, self.unused.as_deref(), true) {
            Ok(found) => match found.decode(slot) {
                Ok(()) => Settled::Stored,
                Err(reason) => {
                    let mut missing = found.into_missing(reason);
                    missing._lock = Some(lock);
                    missing.lock_tried = true;
                    Settled::Compute(missing)
                }
            },
            Err(Passed { target, unused }) => {
                self.target = target;
                self.unused = unused;
                self._lock = Some(lock);
                Settled::Compute(self)
            }
        }
    }
}
