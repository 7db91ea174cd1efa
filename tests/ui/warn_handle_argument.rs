// An argument that looks like a handle is keyed by the handle's own state,
// not by what it refers to: a warning, at its type. (Denied here to show it.)
#![deny(deprecated)]

use std::cell::RefCell;
use std::sync::{Mutex, RwLock};

#[memory::cache]
fn total(counts: &Mutex<Vec<u64>>) -> u64 {
    counts.lock().unwrap().iter().sum()
}

// Looked through a smart pointer.
#[memory::cache]
fn boxed(lock: Box<RwLock<u64>>) -> u64 {
    *lock.read().unwrap()
}

#[memory::cache]
fn borrowed(cell: &RefCell<u64>) -> u64 {
    *cell.borrow()
}

// Ignored, or silenced: no warning.
#[memory::cache(ignore = ["log"])]
fn ignored(x: u64, log: &Mutex<Vec<String>>) -> u64 {
    log.lock().unwrap().push(x.to_string());
    x
}

#[memory::cache(allow(handle_argument))]
fn silenced(counts: &Mutex<Vec<u64>>) -> u64 {
    counts.lock().unwrap().len() as u64
}

fn main() {}
