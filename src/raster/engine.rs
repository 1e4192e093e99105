//! The streaming engine: windows are computed in parallel on rayon workers, each with its own
//! state (its own GDAL handles and scratch buffers), and handed in their order to one sink on the
//! calling thread (the writer). Workers take windows in order and run at most `2 × threads`
//! windows ahead of the sink, so memory stays bounded whatever the raster size, and the sink sees
//! the same order on every run: outputs are written tile after tile in row-major order (their
//! bytes do not depend on thread timing), and a partly written overview tile is finished by the
//! next row of windows instead of waiting for another worker's half of the raster.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Condvar, Mutex};

use rayon::prelude::*;

use super::Window;
use crate::error::{Error, Result};

static STOP: AtomicBool = AtomicBool::new(false);

/// The most worker threads a command or run file may ask for: more is a typo, not a machine.
pub const MAX_THREADS: usize = 1024;

/// Ask running streams to stop (from a Ctrl-C handler): they end with [`Error::Interrupted`].
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for: long work between windows (a batch's next unit, publishing a
/// finished file) checks it too.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// How far the workers may run ahead of the sink: the index of the window the sink waits for,
/// or `None` once it has stopped (finished or failed).
struct Gate {
    next: Mutex<Option<usize>>,
    moved: Condvar,
}

impl Gate {
    /// Wait until window `i` is within `ahead` of the sink; false when the sink has stopped.
    fn admit(&self, i: usize, ahead: usize) -> bool {
        let Ok(mut next) = self.next.lock() else {
            return false;
        };
        loop {
            match *next {
                None => return false,
                Some(n) if i < n + ahead => return true,
                Some(_) => match self.moved.wait(next) {
                    Ok(g) => next = g,
                    Err(_) => return false,
                },
            }
        }
    }

    fn set(&self, next: Option<usize>) {
        if let Ok(mut g) = self.next.lock() {
            *g = next;
        }
        self.moved.notify_all();
    }
}

/// Run `compute` over `windows` on `threads` workers (None: all cores) and feed each result to
/// `sink` on this thread, in the windows' order. Worker states are made by `init` on demand and
/// kept for the worker's next window. The first error, from either side, stops the run and is
/// returned.
pub fn stream<S, T>(
    windows: &[Window],
    threads: Option<usize>,
    init: impl Fn() -> Result<S> + Sync,
    compute: impl Fn(&mut S, Window) -> Result<T> + Sync,
    mut sink: impl FnMut(Window, T) -> Result<()>,
) -> Result<()>
where
    T: Send,
{
    let pool = pool(threads)?;
    let ahead = 2 * pool.current_num_threads();
    let taken = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let gate = Gate {
        next: Mutex::new(Some(0)),
        moved: Condvar::new(),
    };
    let (tx, rx) = sync_channel::<(usize, Result<T>)>(ahead);

    std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            pool.broadcast(|_| {
                let tx = tx.clone();
                let mut state = None;
                loop {
                    let i = taken.fetch_add(1, Ordering::SeqCst);
                    if i >= windows.len() || failed.load(Ordering::SeqCst) || !gate.admit(i, ahead)
                    {
                        return;
                    }
                    let result = match state.take().map_or_else(&init, Ok) {
                        Err(e) => Err(e),
                        Ok(_) if STOP.load(Ordering::Relaxed) => Err(Error::Interrupted),
                        Ok(mut s) => {
                            let r = compute(&mut s, windows[i]);
                            state = Some(s);
                            r
                        }
                    };
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    // A send fails only when the sink has stopped: stop too.
                    if tx.send((i, result)).is_err() || failed.load(Ordering::SeqCst) {
                        return;
                    }
                }
            });
            drop(tx);
        });
        let outcome = deliver(rx, windows, &gate, &mut sink);
        // Workers waiting to run ahead, or blocked on a full channel, see that the sink stopped.
        gate.set(None);
        let _ = producer.join();
        outcome
    })
}

/// The sink's side of [`stream`]: results arrive in any order and go to `sink` in the windows'
/// order; the first error (a window's or the sink's) ends it.
fn deliver<T>(
    rx: std::sync::mpsc::Receiver<(usize, Result<T>)>,
    windows: &[Window],
    gate: &Gate,
    sink: &mut impl FnMut(Window, T) -> Result<()>,
) -> Result<()> {
    let mut waiting = BTreeMap::new();
    let mut next = 0usize;
    for (i, result) in rx {
        waiting.insert(i, result?);
        while let Some(value) = waiting.remove(&next) {
            sink(windows[next], value)?;
            next += 1;
            gate.set(Some(next));
        }
    }
    if next < windows.len() {
        // Every sender is gone with windows missing: a worker panicked.
        return Err(Error::Internal(format!(
            "a worker stopped at window {next} of {} without a result",
            windows.len()
        )));
    }
    Ok(())
}

/// A pool of `threads` workers (None: all cores).
fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n.max(1));
    }
    builder
        .build()
        .map_err(|e| Error::usage(format!("cannot start worker threads: {e}")))
}

/// `f` of every item (with its index) on `threads` workers (None: all cores), in `items`'
/// order.
pub fn map<T, U>(
    items: &[T],
    threads: Option<usize>,
    f: impl Fn(usize, &T) -> U + Sync,
) -> Result<Vec<U>>
where
    T: Sync,
    U: Send,
{
    let pool = pool(threads)?;
    Ok(pool.install(|| items.par_iter().enumerate().map(|(i, t)| f(i, t)).collect()))
}

/// `a` and `b` side by side on `threads` workers (None: all cores; one: one after the other).
pub fn join<A, B>(
    threads: Option<usize>,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> Result<(A, B)>
where
    A: Send,
    B: Send,
{
    let pool = pool(threads)?;
    Ok(pool.install(|| rayon::join(a, b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::plan_windows;

    #[test]
    fn map_keeps_the_order_and_join_runs_both() {
        let items: Vec<usize> = (0..1000).collect();
        for threads in [None, Some(1), Some(3)] {
            let doubled = map(&items, threads, |i, v| (i, v * 2)).unwrap();
            assert!(doubled
                .iter()
                .enumerate()
                .all(|(k, &(i, v))| i == k && v == 2 * k));
            assert_eq!(join(threads, || 1, || "two").unwrap(), (1, "two"));
        }
    }

    #[test]
    fn every_window_reaches_the_sink_once_in_order() {
        let windows = plan_windows(1000, 1000, (64, 64), 64 * 64);
        let mut seen = Vec::new();
        stream(
            &windows,
            Some(3),
            || Ok(0usize),
            |count, w| {
                *count += 1;
                // Uneven work, so that windows finish out of order.
                let spin = (w.x * 7 + w.y * 13) % 5000;
                let noise = (0..spin).fold(0usize, |a, i| a.wrapping_mul(31).wrapping_add(i));
                Ok((w.x + w.y * 1000, std::hint::black_box(noise)))
            },
            |w, (v, _)| {
                assert_eq!(v, w.x + w.y * 1000);
                seen.push(v);
                Ok(())
            },
        )
        .unwrap();
        let expected: Vec<_> = windows.iter().map(|w| w.x + w.y * 1000).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_failing_window_stops_the_run_with_its_error() {
        let windows = plan_windows(1000, 1000, (10, 10), 100);
        let err = stream(
            &windows,
            Some(2),
            || Ok(()),
            |_, w| {
                if w.y == 500 {
                    Err(Error::usage("boom at row 500"))
                } else {
                    Ok(())
                }
            },
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "boom at row 500");
    }

    #[test]
    fn a_failing_sink_stops_the_workers() {
        let windows = plan_windows(1000, 1000, (10, 10), 100);
        let mut calls = 0;
        let err = stream(
            &windows,
            Some(2),
            || Ok(()),
            |_, _| Ok(()),
            |_, _| {
                calls += 1;
                Err(Error::usage("disk full"))
            },
        )
        .unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(err.to_string(), "disk full");
    }

    #[test]
    fn a_failing_init_is_reported() {
        let windows = plan_windows(100, 100, (10, 10), 100);
        let err = stream(
            &windows,
            Some(2),
            || -> Result<()> { Err(Error::usage("cannot open")) },
            |_, _| Ok(()),
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "cannot open");
    }
}
