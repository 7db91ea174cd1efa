//! Not public API, used by code that `#[memory::cache]` generates.
//!
//! Everything the expansion names is re-exported here, so the macro reaches
//! the runtime through one path (`::memory::__private`, or
//! `$krate::__private` with `#[cache(crate = path)]`). Nothing here is
//! covered by semver. Each item lives in the module that owns it; the
//! runtime never imports from here.

// Not public API, used by generated code.
#[doc(hidden)]
pub use crate::call::{Arg, AsyncRun, Call, Run, begin_async};
// Not public API, used by generated code.
#[doc(hidden)]
pub use crate::call::{FinishResult, FinishValue, Output, typed};
// Not public API, used by generated code.
#[doc(hidden)]
pub use crate::fingerprint::fold_fingerprints;
// Not public API, used by generated code.
#[doc(hidden)]
pub use crate::function::{CachedFn, FnSpec, MemorySource};
// Not public API, used by generated code.
#[doc(hidden)]
pub use crate::__memo_register as register;
// Not public API, used by generated code.
#[doc(hidden)]
pub use crate::recorded::Dependency;
