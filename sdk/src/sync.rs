//! Single-threaded future plumbing: a one-shot channel, polling a future once, and a race
//! between two futures. The browser has one thread, so none of this needs `Send`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A boxed, non-`Send` future, as returned by processors and exporters.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

#[derive(Debug)]
struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    closed: bool,
}

/// The sending half of [`oneshot`].
#[derive(Debug)]
pub(crate) struct Sender<T>(Rc<RefCell<Slot<T>>>);

/// The receiving half of [`oneshot`]; resolves to `None` if the sender was dropped.
#[derive(Debug)]
pub(crate) struct Receiver<T>(Rc<RefCell<Slot<T>>>);

pub(crate) fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Rc::new(RefCell::new(Slot { value: None, waker: None, closed: false }));
    (Sender(Rc::clone(&slot)), Receiver(slot))
}

impl<T> Sender<T> {
    /// Whether the receiver is gone, so sending would reach no one.
    pub(crate) fn is_abandoned(&self) -> bool {
        Rc::strong_count(&self.0) == 1
    }

    pub(crate) fn send(self, value: T) {
        if let Ok(mut slot) = self.0.try_borrow_mut() {
            slot.value = Some(value);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = self.0.try_borrow_mut().ok().and_then(|mut slot| {
            slot.closed = true;
            slot.waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Unpin for Receiver<T> {}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Ok(mut slot) = self.0.try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Some(value));
        }
        if slot.closed {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A flag that can be raised once and awaited by any number of futures: "hurry up, the page
/// is going away". Clones share the flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signal(Rc<RefCell<SignalState>>);

#[derive(Debug, Default)]
struct SignalState {
    raised: bool,
    wakers: Vec<Waker>,
}

impl Signal {
    /// Raises the flag and wakes every waiting future.
    pub(crate) fn raise(&self) {
        let wakers = match self.0.try_borrow_mut() {
            Ok(mut state) => {
                state.raised = true;
                std::mem::take(&mut state.wakers)
            }
            Err(_) => return,
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Resolves once the flag is raised (at once if it already is).
    pub(crate) async fn raised(&self) {
        std::future::poll_fn(|cx| match self.0.try_borrow_mut() {
            Ok(state) if state.raised => Poll::Ready(()),
            Ok(mut state) => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
            Err(_) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }
}

/// Polls `future` once right now, so that work it starts synchronously (a `fetch` during
/// `pagehide`, say) happens before the caller returns; hands the rest to the browser's
/// microtask queue (natively, to [`native`]'s executor).
pub(crate) fn drive(future: impl Future<Output = ()> + 'static) {
    #[cfg(target_arch = "wasm32")]
    {
        let mut future = Box::pin(future);
        let mut cx = Context::from_waker(Waker::noop());
        if future.as_mut().poll(&mut cx).is_pending() {
            wasm_bindgen_futures::spawn_local(future);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::drive(Box::pin(future));
}

/// Runs `future` in the background: on the browser's microtask queue (so work started in the
/// current task is coalesced); natively, at once on [`native`]'s executor.
pub(crate) fn spawn(future: impl Future<Output = ()> + 'static) {
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_futures::spawn_local(future);
    #[cfg(not(target_arch = "wasm32"))]
    native::drive(Box::pin(future));
}

/// A single-threaded executor for the native unit tests: a task is polled when spawned and
/// again whenever it is woken, so an exporter that resolves later (a paused test exporter)
/// lets the processor go on exactly as the browser's microtasks would. Timers never fire
/// natively, so a task waiting on one stays pending.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    use std::thread::{self, ThreadId};

    use super::LocalBoxFuture;

    thread_local! {
        static TASKS: RefCell<Vec<Option<LocalBoxFuture<'static, ()>>>> = const { RefCell::new(Vec::new()) };
        static READY: RefCell<VecDeque<usize>> = const { RefCell::new(VecDeque::new()) };
        static RUNNING: Cell<bool> = const { Cell::new(false) };
    }

    struct TaskWaker {
        id: usize,
        thread: ThreadId,
    }

    impl Wake for TaskWaker {
        fn wake(self: Arc<Self>) {
            if thread::current().id() == self.thread {
                READY.with(|r| r.borrow_mut().push_back(self.id));
                run();
            }
        }
    }

    fn poll(id: usize, mut future: LocalBoxFuture<'static, ()>) {
        let waker = Waker::from(Arc::new(TaskWaker { id, thread: thread::current().id() }));
        if future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
            TASKS.with(|t| t.borrow_mut()[id] = Some(future));
        }
    }

    pub(super) fn drive(future: LocalBoxFuture<'static, ()>) {
        let id = TASKS.with(|t| {
            let mut tasks = t.borrow_mut();
            tasks.push(None);
            tasks.len() - 1
        });
        // Wakes during the first poll are queued and handled by `run` below.
        let was_running = RUNNING.replace(true);
        poll(id, future);
        RUNNING.set(was_running);
        run();
    }

    fn run() {
        if RUNNING.replace(true) {
            return;
        }
        while let Some(id) = READY.with(|r| r.borrow_mut().pop_front()) {
            if let Some(future) = TASKS.with(|t| t.borrow_mut().get_mut(id).and_then(Option::take)) {
                poll(id, future);
            }
        }
        RUNNING.set(false);
    }
}

/// The outcome of [`race`].
#[derive(Debug)]
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Resolves with whichever future finishes first; the other is dropped.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_now<F: Future>(future: F) -> Poll<F::Output> {
        let mut future = std::pin::pin!(future);
        future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_sender_knows_when_its_receiver_is_gone() {
        let (sender, receiver) = oneshot::<()>();
        assert!(!sender.is_abandoned());
        drop(receiver);
        assert!(sender.is_abandoned());
    }

    #[test]
    fn oneshot_delivers_or_reports_a_dropped_sender() {
        let (tx, rx) = oneshot();
        tx.send(7);
        assert_eq!(poll_now(rx), Poll::Ready(Some(7)));
        let (tx, rx) = oneshot::<u8>();
        drop(tx);
        assert_eq!(poll_now(rx), Poll::Ready(None));
    }

    #[test]
    fn a_signal_resolves_its_waiters_once_raised() {
        let signal = Signal::default();
        let waiting = signal.clone();
        let mut future = Box::pin(async move { waiting.raised().await });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        signal.raise();
        assert!(future.as_mut().poll(&mut cx).is_ready());
        assert_eq!(poll_now(signal.raised()), Poll::Ready(()));
    }

    #[test]
    fn race_takes_the_ready_side() {
        let result = poll_now(race(std::future::pending::<u8>(), async { 3 }));
        assert!(matches!(result, Poll::Ready(Either::Right(3))));
    }
}
