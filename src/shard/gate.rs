//! Who may touch a core's shard across an `await`. A script suspends at
//! the executor's request while it runs, so while it (or an EXEC that runs
//! scripts) holds the gate, every other request for the shard waits here,
//! or gets `-BUSY` once the script is past the threshold. Plain commands
//! never await, so they need only check that the gate is open.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Proof that its holder may touch the shard's keyspace now; every
/// shard-side command runs with one (`Core::execute`). It comes from an
/// open gate ([`Gate::open`]), for work that runs to its end without an
/// await, so nothing can take the gate meanwhile; or from the gate's
/// holder ([`Gate::for_holder`]): a script's `redis.call`, an EXEC batch.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    _gate: PhantomData<&'a Gate>,
}

#[derive(Default)]
pub struct Gate {
    held: Cell<bool>,
    /// Bumped by every notification; a waiter resolves when it changes.
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    pub fn is_held(&self) -> bool {
        self.held.get()
    }

    /// Access while no script or EXEC holds the shard: valid until the
    /// caller's next await.
    pub fn open(&self) -> Option<Access<'_>> {
        (!self.held.get()).then_some(Access { _gate: PhantomData })
    }

    /// Access for the gate's guard (the holder itself).
    pub(crate) fn holder_access(&self) -> Access<'_> {
        Access { _gate: PhantomData }
    }

    /// Access for code that runs on behalf of the gate's holder (the
    /// holder's own task: a running script's `redis.call`, an EXEC batch).
    /// `None` (a bug) when nobody holds the gate.
    pub fn for_holder(&self) -> Option<Access<'_>> {
        let held = self.held.get();
        crate::invariant!(held, "shard access for a holder while the gate is open");
        held.then_some(Access { _gate: PhantomData })
    }

    /// Takes the gate, open as `_open` proves.
    pub fn hold(&self, _open: Access<'_>) {
        crate::invariant!(!self.held.get(), "the shard gate is taken twice");
        self.held.set(true);
    }

    pub fn release(&self) {
        self.held.set(false);
        self.notify();
    }

    /// Wakes every waiter (gate released, or its script became busy).
    pub fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        for waker in self.waiters.take() {
            waker.wake();
        }
    }

    /// Resolves at the next notification.
    pub fn changed(&self) -> Changed<'_> {
        Changed {
            gate: self,
            seen: self.generation.get(),
            registered: None,
        }
    }
}

pub struct Changed<'a> {
    gate: &'a Gate,
    seen: u64,
    /// Where this future's waker sits in the waiters (registered in the
    /// generation it waits out), so a poll for another reason does not
    /// search the whole list again.
    registered: Option<usize>,
}

impl Future for Changed<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.gate.generation.get() != self.seen {
            return Poll::Ready(());
        }
        let mut waiters = self.gate.waiters.borrow_mut();
        // The list only grows within a generation, so the slot is ours.
        match self.registered.and_then(|i| waiters.get_mut(i)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => {
                waiters.push(cx.waker().clone());
                let at = waiters.len() - 1;
                drop(waiters);
                self.registered = Some(at);
            }
        }
        Poll::Pending
    }
}
