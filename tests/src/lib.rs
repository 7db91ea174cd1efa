//! Shared helpers for memo's behaviour tests: temporary cache directories and
//! running the helper programs in `src/bin` as real, separate processes.
