//! The verdict of a command or a daemon run, decided once by the domain.
//!
//! Each report says what it means (`Report::verdict`, `LoadReport::verdict`,
//! `Plan::verdict`, `LintReport::verdict`); `main.rs` alone turns a verdict
//! into an exit status and the daemon alone turns it into an outcome label.
//! Nothing here knows about processes or HTTP.

/// How a command or a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything checked and in order (warnings allowed).
    InOrder,
    /// At least one error finding, a system that could not be checked, or
    /// a load blocked by large data change protection.
    Problems,
    /// Input that cannot be read (a source export): nothing was written.
    Refused,
}

impl Verdict {
    /// `Problems` when `has_errors`, else `InOrder`.
    pub fn from_errors(has_errors: bool) -> Verdict {
        if has_errors {
            Verdict::Problems
        } else {
            Verdict::InOrder
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_make_problems_and_no_errors_is_in_order() {
        assert_eq!(Verdict::from_errors(true), Verdict::Problems);
        assert_eq!(Verdict::from_errors(false), Verdict::InOrder);
    }
}
