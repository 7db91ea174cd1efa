//! Generated functions (see `build.rs`), compiled to measure what
//! `#[memory::cache]` costs per function: `bash bench/compile_time.sh`.
#![allow(missing_docs, clippy::identity_op)]

include!(concat!(env!("OUT_DIR"), "/functions.rs"));
