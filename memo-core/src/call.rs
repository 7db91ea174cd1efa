//! The call path: hash the arguments, look the key up, and on a miss run the
//! body and store its output.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::function::CachedFn;
use crate::__private::Arg;

/// A cached call between the lookup and the result.
pub struct Call {
    _todo: (),
}

/// Starts a cached call: hashes `args` and looks the key up.
pub fn begin(function: &'static CachedFn, args: &[&dyn Arg]) -> Call {
    let _ = (function, args);
    todo!()
}

impl Call {
    /// Returns the stored output on a hit; runs `body` and stores on a miss.
    pub fn finish_value<R, F>(self, body: F) -> R
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> R,
    {
        let _ = body;
        todo!()
    }

    /// Like [`Call::finish_value`], but stores only `Ok` values.
    pub fn finish_ok<T, E, F>(self, body: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T, E>,
    {
        let _ = body;
        todo!()
    }
}
