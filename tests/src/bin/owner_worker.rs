//! A program for the ownership tests, run as a real process:
//! `owner_worker COMMAND ARGS...`, caching in `$MEMO_CACHE_DIR`.
//!
//! - `square N...`: calls the cached `square`, printing `computing ...`
//!   when its body runs;
//! - `clear`, `gc`, `reduce`, `forget N`: every library operation that
//!   removes files (`Memory::clear`, `gc_stale`, `reduce_size` to nothing,
//!   a handle's `clear`), printing `ok` or `error: ...`;
//! - `fill FROM TO`: calls `square` for every number in `FROM..TO`, and
//!   `limited` the same for `bounded`, whose `Memory` enforces an item
//!   limit in the background while it writes;
//! - `relative FROM TO`: with a `Memory` on the relative location `rel`,
//!   computes in `FROM`, then changes into `TO` and clears: the clear must
//!   act on `FROM/rel`, where the `Memory` first resolved it.

use std::sync::LazyLock;

use memory::Memory;
use memory::manage::Limits;

#[memory::cache]
fn square(x: u64) -> u64 {
    println!("computing square({x})");
    x * x
}

static BOUNDED: LazyLock<Memory> = LazyLock::new(|| Memory::from_env().items_limit(20));

#[memory::cache(memory = BOUNDED)]
fn bounded(x: u64) -> u64 {
    x + 1
}

static RELATIVE: LazyLock<Memory> = LazyLock::new(|| Memory::new("rel"));

#[memory::cache(memory = RELATIVE)]
fn cube(x: u64) -> u64 {
    println!("computing cube({x})");
    x * x * x
}

fn report<T, E: std::fmt::Display>(result: Result<T, E>) {
    match result {
        Ok(_) => println!("ok"),
        Err(e) => println!("error: {e}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers = || {
        args[1..]
            .iter()
            .map(|a| a.parse::<u64>().expect("a number"))
    };
    let memory = memory::default_memory();
    match args.first().map(String::as_str) {
        Some("square") => numbers().for_each(|x| println!("square({x}) = {}", square(x))),
        Some("clear") => report(memory.clear()),
        Some("gc") => report(memory.gc_stale()),
        Some("reduce") => report(memory.reduce_size(Limits::new().items(0))),
        Some("forget") => numbers().for_each(|x| report(memory::handle(|| square(x)).clear())),
        Some("fill") | Some("limited") => {
            let range = numbers().next().unwrap()..numbers().nth(1).unwrap();
            for x in range {
                if args[0] == "fill" {
                    assert_eq!(square(x), x * x);
                } else {
                    assert_eq!(bounded(x), x + 1);
                }
            }
        }
        Some("relative") => {
            std::env::set_current_dir(&args[1]).unwrap();
            println!("cube(2) = {}", cube(2));
            std::env::set_current_dir(&args[2]).unwrap();
            report(RELATIVE.clear());
        }
        other => panic!("unknown command {other:?}"),
    }
}
