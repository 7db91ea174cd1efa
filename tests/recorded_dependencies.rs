//! Dependencies recorded as they run: a cached function's result is
//! invalidated when an annotated function it called (`#[memory::fingerprint]`
//! or `#[memory::cache]`, at any depth, through an `async fn` too) changes,
//! without `depends_on`; comment-only edits do not invalidate; reverting
//! finds the old results.
//!
//! Like `code_change.rs`, this builds real variants of a small crate with
//! cargo, one after the other in one directory, against one shared cache.
//! Builds are slow, so one program holds every scenario and each variant
//! changes what several scenarios look at.

use memo_tests::FixtureCrate;

/// The fixture's source; `{NAME}` placeholders are filled per variant.
const TEMPLATE: &str = r#"
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

mod util {
    #[memory::fingerprint]
    pub fn h(x: u64) -> u64 {
        // {H_COMMENT}
        x + {H}
    }

    #[memory::fingerprint]
    pub fn g(x: u64) -> u64 {
        // {G_COMMENT}
        h(x) * {G}
    }

    /// An async helper: records across an `.await` that yields.
    #[memory::fingerprint]
    pub async fn g_later(x: u64) -> u64 {
        super::YieldOnce(false).await;
        g(x)
    }

    #[memory::fingerprint]
    pub const SCALE: u64 = {K};

    /// A helper reading a constant names it in `depends_on`.
    #[memory::fingerprint(depends_on = [SCALE])]
    pub fn scaled(x: u64) -> u64 {
        x * SCALE
    }

    pub struct Shape;

    /// Two methods of one identity (`util::unit`) and, at first, the same
    /// code: an edit of one is not hidden by the other.
    pub struct A;
    pub struct B;

    impl A {
        #[memory::fingerprint]
        pub fn unit(&self) -> u64 {
            {A}
        }
    }

    impl B {
        #[memory::fingerprint]
        pub fn unit(&self) -> u64 {
            1
        }
    }

    impl Shape {
        /// A generic method, with a nested helper.
        #[memory::fingerprint]
        pub fn area<T: Into<u64>>(&self, x: T) -> u64 {
            #[memory::fingerprint]
            fn side(x: u64) -> u64 {
                x + {M}
            }
            side(x.into()) * 2
        }
    }
}

#[memory::cache(verbose = 1)]
fn f(x: u64) -> u64 {
    println!("computing f({x})");
    util::g(x)
}

#[memory::cache]
async fn fa(x: u64) -> u64 {
    println!("computing fa({x})");
    util::g_later(x).await + 1
}

#[memory::cache]
fn callee(x: u64) -> u64 {
    println!("computing callee({x})");
    x * {C}
}

#[memory::cache]
fn caller(x: u64) -> u64 {
    println!("computing caller({x})");
    callee(x) + 1
}

#[memory::cache]
fn fk(x: u64) -> u64 {
    println!("computing fk({x})");
    util::scaled(x)
}

#[memory::cache(depends_on = [util::SCALE])]
fn fk_listed(x: u64) -> u64 {
    println!("computing fk_listed({x})");
    x * util::SCALE
}

#[memory::cache]
fn fm(x: u64) -> u64 {
    println!("computing fm({x})");
    util::Shape.area(x as u32)
}

#[memory::cache]
fn fu(x: u64) -> u64 {
    println!("computing fu({x})");
    util::A.unit() + util::B.unit() * 0 + x
}

/// Pending once, then ready: the caller's future is polled twice.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn main() {
    println!("variant {VARIANT}");
    println!("f(1) = {}", f(1));
    println!("fa(1) = {}", block_on(fa(1)));
    // `callee(2)` is stored first, so inside `caller`'s miss it hits.
    println!("callee(2) = {}", callee(2));
    println!("caller(2) = {}", caller(2));
    println!("fk(1) = {}", fk(1));
    println!("fk_listed(1) = {}", fk_listed(1));
    println!("fm(1) = {}", fm(1));
    println!("fu(1) = {}", fu(1));
}
"#;

#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    h: u64,
    g: u64,
    h_comment: &'static str,
    g_comment: &'static str,
    c: u64,
    k: u64,
    m: u64,
    a: u64,
}

const ORIGINAL: Variant = Variant {
    name: "original",
    h: 1,
    g: 2,
    h_comment: "adds",
    g_comment: "multiplies",
    c: 10,
    k: 3,
    m: 1,
    a: 1,
};

fn program(variant: Variant) -> String {
    TEMPLATE
        .replace("{H}", &variant.h.to_string())
        .replace("{G}", &variant.g.to_string())
        .replace("{H_COMMENT}", variant.h_comment)
        .replace("{G_COMMENT}", variant.g_comment)
        .replace("{C}", &variant.c.to_string())
        .replace("{K}", &variant.k.to_string())
        .replace("{M}", &variant.m.to_string())
        .replace("{A}", &variant.a.to_string())
        .replace("{VARIANT}", variant.name)
}

/// What one run computed, and its results, for `variant`.
struct Ran {
    run: memo_tests::Run,
    variant: Variant,
}

impl Ran {
    fn computed(&self, call: &str) -> bool {
        let times = self.run.count(&format!("computing {call}"));
        assert!(times <= 1, "{call} computed {times} times: {:?}", self.run);
        times == 1
    }

    /// Every result is what this variant's code computes: never another
    /// variant's (a wrong hit).
    fn results_are_right(&self) {
        let v = self.variant;
        let f = (1 + v.h) * v.g;
        let expected = [
            format!("f(1) = {f}"),
            format!("fa(1) = {}", f + 1),
            format!("callee(2) = {}", 2 * v.c),
            format!("caller(2) = {}", 2 * v.c + 1),
            format!("fk(1) = {}", v.k),
            format!("fk_listed(1) = {}", v.k),
            format!("fm(1) = {}", (1 + v.m) * 2),
            format!("fu(1) = {}", v.a + 1),
        ];
        for line in expected {
            assert_eq!(
                self.run.count(&line),
                1,
                "{} wants {line}: {:?}",
                v.name,
                self.run
            );
        }
    }

    /// Asserts which of the cached calls computed (the others hit).
    fn computes_exactly(&self, expected: &[&str]) {
        self.results_are_right();
        for call in CALLS {
            assert_eq!(
                self.computed(call),
                expected.contains(&call),
                "{}: {call} {} expected: {:?}",
                self.variant.name,
                if expected.contains(&call) {
                    "computing"
                } else {
                    "a hit"
                },
                self.run
            );
        }
    }
}

/// Every cached call the fixture's `main` makes.
const CALLS: [&str; 8] = [
    "f(1)",
    "fa(1)",
    "callee(2)",
    "caller(2)",
    "fk(1)",
    "fk_listed(1)",
    "fm(1)",
    "fu(1)",
];

fn build_and_run(fixture: &FixtureCrate, variant: Variant) -> Ran {
    Ran {
        run: fixture.build_and_run(variant.name, &program(variant)),
        variant,
    }
}

#[test]
fn annotated_callees_invalidate_their_callers_as_recorded() {
    let fixture = FixtureCrate::new("recorded-fixture");
    build_and_run(&fixture, ORIGINAL).computes_exactly(&CALLS);

    // Comment-only edits of `g` and `h`: everything hits.
    let comments = Variant {
        name: "comments",
        h_comment: "adds one, or so",
        g_comment: "scales by two",
        ..ORIGINAL
    };
    build_and_run(&fixture, comments).computes_exactly(&[]);

    // `h` is two calls down from `f`, and below an `.await` in `fa`.
    let h_edited = Variant {
        name: "h-edited",
        h: 5,
        ..ORIGINAL
    };
    let ran = build_and_run(&fixture, h_edited);
    ran.computes_exactly(&["f(1)", "fa(1)"]);
    assert!(
        ran.run
            .stderr
            .contains("dependency `recorded_fixture::util::h` changed"),
        "the miss says why: {:?}",
        ran.run
    );

    // `g` edited too.
    let g_edited = Variant {
        name: "g-edited",
        g: 7,
        ..h_edited
    };
    build_and_run(&fixture, g_edited).computes_exactly(&["f(1)", "fa(1)"]);

    // Reverting both edits finds the first results; so does going back to
    // the last edit.
    build_and_run(
        &fixture,
        Variant {
            name: "reverted",
            ..ORIGINAL
        },
    )
    .computes_exactly(&[]);
    build_and_run(
        &fixture,
        Variant {
            name: "g-edited-again",
            ..g_edited
        },
    )
    .computes_exactly(&[]);

    // A cached callee that hit inside its caller's miss, a constant read
    // through a helper and listed in `depends_on`, a nested helper of a
    // generic method, and a method whose identity another method with (until
    // now) the same code shares.
    let others = Variant {
        name: "others",
        c: 11,
        k: 4,
        m: 2,
        a: 2,
        ..ORIGINAL
    };
    build_and_run(&fixture, others).computes_exactly(&[
        "callee(2)",
        "caller(2)",
        "fk(1)",
        "fk_listed(1)",
        "fm(1)",
        "fu(1)",
    ]);
}
