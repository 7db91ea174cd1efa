//! Cached functions that share an identity, run as a real process by
//! `tests/collisions.rs`: `collisions COMMAND`, caching in
//! `$MEMO_CACHE_DIR`. Rust counterparts of joblib's name collisions: a
//! function nested in another has its module's path, so two nested
//! functions of one name collide (joblib's `<locals>`), as do two
//! `name = "..."` in different modules.

#![allow(clippy::items_after_statements)]

/// Two nested `helper`s with different code. `first(true)` clears its
/// helper's results through a handle first.
fn first(clear: bool) -> u64 {
    #[memory::cache]
    fn helper(x: u64) -> u64 {
        println!("computing first helper({x})");
        x + 1
    }
    if clear {
        memory::handle(|| helper(1)).clear().expect("clear");
    }
    helper(1)
}

fn second() -> u64 {
    #[memory::cache]
    fn helper(x: u64) -> u64 {
        println!("computing second helper({x})");
        x + 2
    }
    helper(1)
}

/// Two nested `shift`s with the *same* code, meaning different things: each
/// sees its own `OFFSET`. Same identity, same fingerprint: their keys hold
/// their source locations.
fn third() -> u64 {
    const OFFSET: u64 = 100;
    #[memory::cache]
    fn shift(x: u64) -> u64 {
        println!("computing shift({x})");
        x + OFFSET
    }
    shift(1)
}

fn fourth() -> u64 {
    const OFFSET: u64 = 200;
    #[memory::cache]
    fn shift(x: u64) -> u64 {
        println!("computing shift({x})");
        x + OFFSET
    }
    shift(1)
}

/// One explicit name in two modules.
mod reports {
    #[memory::cache(name = "reports::total")]
    pub fn total(x: u64) -> u64 {
        println!("computing reports total({x})");
        x * 10
    }
}

mod legacy {
    #[memory::cache(name = "reports::total")]
    pub fn total(x: u64) -> u64 {
        println!("computing legacy total({x})");
        x * 100
    }
}

/// An inherent method and a trait method of one name on one type: both are
/// `collisions::Tool::run`.
#[derive(serde::Serialize)]
struct Tool(u64);

impl Tool {
    #[memory::cache]
    fn run(&self) -> u64 {
        println!("computing inherent run");
        self.0 + 1
    }
}

trait Runner {
    fn run(&self) -> u64;
}

impl Runner for Tool {
    #[memory::cache]
    fn run(&self) -> u64 {
        println!("computing trait run");
        self.0 + 2
    }
}

#[memory::cache]
fn unrelated(x: u64) -> u64 {
    println!("computing unrelated({x})");
    x
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("all") => {
            println!("first = {}", first(false));
            println!("second = {}", second());
            println!("third = {}", third());
            println!("fourth = {}", fourth());
            println!("reports = {}", reports::total(1));
            println!("legacy = {}", legacy::total(1));
            let tool = Tool(1);
            println!("inherent = {}", tool.run());
            println!("trait = {}", Runner::run(&tool));
        }
        Some("unrelated") => println!("unrelated = {}", unrelated(5)),
        Some("helpers") => {
            println!("first = {}", first(false));
            println!("second = {}", second());
        }
        Some("clear-first") => println!("first = {}", first(true)),
        Some("gc") => {
            let report = memory::default_memory().gc_stale().expect("gc_stale");
            println!("gc removed {} entries", report.removed.entries);
        }
        Some("registry") => {
            let _ = Tool(1).run();
            let _ = Runner::run(&Tool(1));
            for function in memory::registry() {
                println!(
                    "{} {} keyed_by_location={}",
                    function.identity,
                    function.location(),
                    function.keyed_by_location
                );
            }
        }
        other => panic!("unknown command {other:?}"),
    }
}
