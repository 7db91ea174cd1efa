//! The compile-time warnings `allow(..)` can silence: one table, read by
//! the argument parser (which names `allow` accepts) and by `warnings.rs`
//! (which name each warning carries).

use std::fmt;

/// One kind of compile-time warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lint {
    /// The function returns `()`.
    UnitOutput,
    /// Every parameter is in `ignore`.
    AllIgnored,
    /// A parameter in `ignore` is a `&mut` reference.
    MutArgument,
    /// A parameter looks like a handle (`File`, `Mutex`, ...).
    HandleArgument,
}

impl Lint {
    /// Every lint, with its `allow(..)` name.
    const TABLE: &[(Lint, &'static str)] = &[
        (Lint::UnitOutput, "unit_output"),
        (Lint::AllIgnored, "all_ignored"),
        (Lint::MutArgument, "mut_argument"),
        (Lint::HandleArgument, "handle_argument"),
    ];

    /// The lint `allow(..)` calls `name`.
    pub fn named(name: &str) -> Option<Lint> {
        Self::TABLE
            .iter()
            .find(|(_, known)| *known == name)
            .map(|&(lint, _)| lint)
    }

    /// Its name in `allow(..)`.
    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(lint, _)| *lint == self)
            .map_or("", |&(_, name)| name)
    }

    /// Every name `allow(..)` takes, quoted, for an error message.
    pub fn known_names() -> String {
        let names: Vec<String> = Self::TABLE
            .iter()
            .map(|(_, name)| format!("`{name}`"))
            .collect();
        names.join(", ")
    }
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lint_has_one_name() {
        for &(lint, name) in Lint::TABLE {
            assert_eq!(Lint::named(name), Some(lint));
            assert_eq!(lint.name(), name);
        }
        assert_eq!(Lint::named("nothing"), None);
    }
}
