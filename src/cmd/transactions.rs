//! Transactions (Redis's `transactions` group): MULTI EXEC DISCARD WATCH
//! UNWATCH. They change the connection's own transaction state, so the
//! connection runs them (src/server/connection/transaction.rs); the table
//! names the step each one is.

use super::flags::*;
use super::{command, Command};

/// A transaction step, as the connection runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tx {
    Multi,
    Exec,
    Discard,
    Watch,
    /// Queued inside MULTI, as in Redis (EXEC forgets the watched keys
    /// anyway).
    Unwatch,
    /// RESET (a connection command): ends any transaction and forgets the
    /// watched keys, then resets the session.
    Reset,
}

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("multi",   1,  NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | RUNS_IN_MULTI).transaction(Tx::Multi),
    command("exec",    1,  NOSCRIPT | LOADING | STALE | RUNS_IN_MULTI)                     .transaction(Tx::Exec),
    command("discard", 1,  NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | RUNS_IN_MULTI).transaction(Tx::Discard),
    command("watch",   -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | RUNS_IN_MULTI).keys(1, -1, 1).transaction(Tx::Watch),
    command("unwatch", 1,  NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY)                .transaction(Tx::Unwatch),
];
