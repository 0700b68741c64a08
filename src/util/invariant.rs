//! Broken invariants: a bug must never turn into a silent wrong answer.
//! A debug build (every test) panics at once; a release build logs the bug
//! and the caller goes on with an error for the client.

/// Reports a broken invariant (see the module documentation).
#[track_caller]
pub fn broken(what: std::fmt::Arguments<'_>) {
    if cfg!(debug_assertions) {
        panic!("invariant broken: {what}");
    }
    eprintln!(
        "BUG: invariant broken at {}: {what}",
        std::panic::Location::caller()
    );
}

/// Checks `cond`; when it fails, reports it with [`broken`] and evaluates
/// to false, so the caller can answer with an error instead.
#[macro_export]
macro_rules! invariant {
    ($cond:expr, $($what:tt)+) => {{
        let holds: bool = $cond;
        if !holds {
            $crate::util::invariant::broken(format_args!($($what)+));
        }
        holds
    }};
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kept_invariant_is_true() {
        assert!(crate::invariant!(1 + 1 == 2, "arithmetic"));
    }

    #[test]
    #[should_panic(expected = "invariant broken: 2 replies for 3 calls")]
    fn a_broken_invariant_panics_in_a_test_build() {
        let (got, sent) = (2, 3);
        crate::invariant!(got == sent, "{got} replies for {sent} calls");
    }
}
