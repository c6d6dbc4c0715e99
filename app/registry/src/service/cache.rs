//! Recent listings of repositories, each valid while the repository's `tag_version` is unchanged
//! (and, for those that change with the clock, until an instant): exact across instances sharing
//! one database. Full, it starts again empty.
//!
//! Callers that miss the same listing at the same version together share one read (a single
//! flight): after a push every open page's live refresh asks for its first page at once, and
//! only one of them reads it from the store.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::error::Result;
use crate::model::Millis;

/// A value and the instant it stops being valid (`None`: when the version changes).
type Timed<V> = (V, Option<Millis>);

/// A read under way, that every caller missing its key at its version awaits.
type Flight<V> = Shared<BoxFuture<'static, Result<Timed<V>>>>;

pub(super) struct VersionedCache<K, V> {
    state: Mutex<State<K, V>>,
    max_entries: usize,
}

struct State<K, V> {
    entries: HashMap<K, Versioned<V>>,
    flights: HashMap<(K, i64), Flight<V>>,
}

/// What a caller that missed does: run the read, or await one under way (its own `load` kept
/// for when that read turns out too old for it).
enum Step<V, F> {
    Lead(Flight<V>),
    Join(Flight<V>, F),
}

struct Versioned<V> {
    version: i64,
    valid_until: Option<Millis>,
    value: V,
}

impl<K, V> VersionedCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn new(max_entries: usize) -> Self {
        let state = State { entries: HashMap::new(), flights: HashMap::new() };
        Self { state: Mutex::new(state), max_entries }
    }

    /// The value cached for `key` at `version` and valid at `now`; otherwise `load`'s, which
    /// answers the value and until when it is valid. Read it after the version: a change in
    /// between is then cached under the older version, and so never served once the newer one is
    /// seen. When a read of `key` at `version` is under way, its result is awaited instead of
    /// running `load` (an error too; errors are not kept). A read whose callers all went away
    /// is taken up by the next caller.
    pub(super) async fn get_or_load<F>(self: &Arc<Self>, key: K, version: i64, now: Millis, load: F) -> Result<V>
    where
        F: Future<Output = Result<Timed<V>>> + Send + 'static,
    {
        let step = {
            let Ok(mut state) = self.state.lock() else { return Ok(load.await?.0) };
            if let Some(hit) = state.entries.get(&key).filter(|hit| hit.version == version && valid(hit.valid_until, now)) {
                return Ok(hit.value.clone());
            }
            let id = (key, version);
            match state.flights.get(&id) {
                Some(flight) => Step::Join(flight.clone(), load),
                None => {
                    let flight = Self::fly(Arc::downgrade(self), id.clone(), load);
                    if state.flights.len() >= self.max_entries {
                        state.flights.clear();
                    }
                    state.flights.insert(id, flight.clone());
                    Step::Lead(flight)
                }
            }
        };
        match step {
            Step::Lead(flight) => Ok(flight.await?.0),
            Step::Join(flight, load) => match flight.await? {
                // A read for an instant before `now` that ended since (a tag expired
                // meanwhile): read again, alone.
                (_, until) if !valid(until, now) => Ok(load.await?.0),
                (value, _) => Ok(value),
            },
        }
    }

    /// The shared read: runs `load`, keeps what it read and lands.
    fn fly<F>(cache: Weak<Self>, id: (K, i64), load: F) -> Flight<V>
    where
        F: Future<Output = Result<Timed<V>>> + Send + 'static,
    {
        async move {
            let out = load.await;
            if let Some(cache) = cache.upgrade() {
                cache.land(id, &out);
            }
            out
        }
        .boxed()
        .shared()
    }

    fn land(&self, (key, version): (K, i64), out: &Result<Timed<V>>) {
        let Ok(mut state) = self.state.lock() else { return };
        state.flights.remove(&(key.clone(), version));
        if let Ok((value, valid_until)) = out {
            if state.entries.len() >= self.max_entries {
                state.entries.clear();
            }
            state.entries.insert(key, Versioned { version, valid_until: *valid_until, value: value.clone() });
        }
    }
}

fn valid(until: Option<Millis>, now: Millis) -> bool {
    until.is_none_or(|t| now < t)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::channel::oneshot;
    use futures::executor::block_on;

    use super::*;
    use crate::error::Error;

    /// A read that counts itself and answers `value`, valid until `until`, once `go` fires.
    fn read(
        reads: &Arc<AtomicUsize>,
        go: oneshot::Receiver<()>,
        value: Result<u32>,
        until: Option<Millis>,
    ) -> BoxFuture<'static, Result<Timed<u32>>> {
        let reads = reads.clone();
        async move {
            reads.fetch_add(1, Ordering::SeqCst);
            let _ = go.await;
            value.map(|v| (v, until))
        }
        .boxed()
    }

    fn ready(reads: &Arc<AtomicUsize>, value: u32) -> BoxFuture<'static, Result<Timed<u32>>> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(());
        read(reads, rx, Ok(value), None)
    }

    #[test]
    fn callers_missing_together_share_one_read() {
        let cache = Arc::new(VersionedCache::<&str, u32>::new(8));
        let reads = Arc::new(AtomicUsize::new(0));
        let ((go, wait), (go_too, wait_too)) = (oneshot::channel(), oneshot::channel());
        // The second caller's own read must not run.
        let (a, b, ()) = block_on(async {
            futures::join!(
                cache.get_or_load("page", 1, 0, read(&reads, wait, Ok(7), None)),
                cache.get_or_load("page", 1, 0, read(&reads, wait_too, Ok(8), None)),
                async {
                    go.send(()).unwrap();
                    let _ = go_too.send(());
                },
            )
        });
        assert_eq!((a, b), (Ok(7), Ok(7)));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Kept: the next caller reads nothing; another version reads again.
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, ready(&reads, 9))), Ok(7));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert_eq!(block_on(cache.get_or_load("page", 2, 0, ready(&reads, 9))), Ok(9));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_error_is_shared_but_not_kept() {
        let cache = Arc::new(VersionedCache::<&str, u32>::new(8));
        let reads = Arc::new(AtomicUsize::new(0));
        let ((go, wait), (go_too, wait_too)) = (oneshot::channel(), oneshot::channel());
        let (a, b, ()) = block_on(async {
            futures::join!(
                cache.get_or_load("page", 1, 0, read(&reads, wait, Err(Error::Storage), None)),
                cache.get_or_load("page", 1, 0, read(&reads, wait_too, Ok(8), None)),
                async {
                    go.send(()).unwrap();
                    let _ = go_too.send(());
                },
            )
        });
        assert_eq!((a, b), (Err(Error::Storage), Err(Error::Storage)));
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, ready(&reads, 9))), Ok(9));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_value_is_served_until_it_ends() {
        let cache = Arc::new(VersionedCache::<&str, u32>::new(8));
        let reads = Arc::new(AtomicUsize::new(0));
        let (go, wait) = oneshot::channel();
        let _ = go.send(());
        assert_eq!(block_on(cache.get_or_load("tags", 1, 100, read(&reads, wait, Ok(1), Some(200)))), Ok(1));
        assert_eq!(block_on(cache.get_or_load("tags", 1, 199, ready(&reads, 2))), Ok(1));
        assert_eq!(block_on(cache.get_or_load("tags", 1, 200, ready(&reads, 3))), Ok(3));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_caller_later_than_the_shared_read_ends_reads_alone() {
        let cache = Arc::new(VersionedCache::<&str, u32>::new(8));
        let reads = Arc::new(AtomicUsize::new(0));
        let (go, wait) = oneshot::channel();
        let (a, b, ()) = block_on(async {
            futures::join!(
                cache.get_or_load("tags", 1, 100, read(&reads, wait, Ok(1), Some(150))),
                cache.get_or_load("tags", 1, 160, ready(&reads, 2)),
                async { go.send(()).unwrap() },
            )
        });
        assert_eq!((a, b), (Ok(1), Ok(2)));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_read_left_by_its_callers_is_taken_up() {
        let cache = Arc::new(VersionedCache::<&str, u32>::new(8));
        let reads = Arc::new(AtomicUsize::new(0));
        let (go, wait) = oneshot::channel();
        // Polled once, then dropped: the read is under way with no caller.
        let first = cache.get_or_load("page", 1, 0, read(&reads, wait, Ok(5), None));
        assert!(block_on(futures::future::poll_immediate(Box::pin(first))).is_none());
        go.send(()).unwrap();
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, ready(&reads, 6))), Ok(5));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
