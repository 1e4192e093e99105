//! The streaming engine: windows are computed in parallel on rayon workers, each with its own
//! state (its own GDAL handles and scratch buffers), and handed in any order to one sink on the
//! calling thread (the writer). A bounded channel between them keeps memory bounded whatever the
//! raster size: at most `2 × threads` finished windows wait for the sink.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

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

/// Run `compute` over `windows` on `threads` workers (None: all cores) and feed each result to
/// `sink` on this thread. Worker states are made by `init` on demand and reused. The first error,
/// from either side, stops the run and is returned.
pub fn stream<S, T>(
    windows: &[Window],
    threads: Option<usize>,
    init: impl Fn() -> Result<S> + Sync,
    compute: impl Fn(&mut S, Window) -> Result<T> + Sync,
    mut sink: impl FnMut(Window, T) -> Result<()>,
) -> Result<()>
where
    S: Send,
    T: Send,
{
    let pool = pool(threads)?;
    let workers = pool.current_num_threads();
    let states: Mutex<Vec<S>> = Mutex::new(Vec::with_capacity(workers));
    let (tx, rx) = sync_channel::<(Window, Result<T>)>(2 * workers);

    std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            pool.install(|| {
                // `try_for_each` stops handing out windows once one returns Err(()).
                let _ = windows.par_iter().try_for_each_with(tx, |tx, &window| {
                    let taken = states.lock().ok().and_then(|mut s| s.pop());
                    let mut state = match taken.map_or_else(&init, Ok) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = tx.send((window, Err(e)));
                            return Err(());
                        }
                    };
                    let result = if STOP.load(Ordering::Relaxed) {
                        Err(Error::Interrupted)
                    } else {
                        compute(&mut state, window)
                    };
                    if let Ok(mut s) = states.lock() {
                        s.push(state);
                    }
                    let failed = result.is_err();
                    // A send fails only when the sink has stopped: stop too.
                    tx.send((window, result)).map_err(|_| ())?;
                    if failed {
                        Err(())
                    } else {
                        Ok(())
                    }
                });
            })
        });
        let mut outcome = Ok(());
        for (window, result) in rx {
            if let Err(e) = result.and_then(|value| sink(window, value)) {
                outcome = Err(e);
                break; // dropping the receiver makes the workers' sends fail, so they stop
            }
        }
        let _ = producer.join();
        outcome
    })
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
    fn every_window_reaches_the_sink_once() {
        let windows = plan_windows(1000, 1000, (64, 64), 64 * 64);
        let mut seen = Vec::new();
        stream(
            &windows,
            Some(3),
            || Ok(0usize),
            |count, w| {
                *count += 1;
                Ok(w.x + w.y * 1000)
            },
            |w, v| {
                assert_eq!(v, w.x + w.y * 1000);
                seen.push(v);
                Ok(())
            },
        )
        .unwrap();
        seen.sort_unstable();
        let mut expected: Vec<_> = windows.iter().map(|w| w.x + w.y * 1000).collect();
        expected.sort_unstable();
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
