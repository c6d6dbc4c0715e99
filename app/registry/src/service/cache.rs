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
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, Weak};

use futures::future::{BoxFuture, FutureExt, Shared, WeakShared};

use crate::error::{Error, Result};
use crate::model::Millis;

/// A value and the instant it stops being valid (`None`: when the version changes).
type Timed<V> = (V, Option<Millis>);

/// The read of a value.
type Read<V> = BoxFuture<'static, Result<Timed<V>>>;

/// A read under way, that every caller missing its key at its version awaits.
type Flight<V> = Shared<Read<V>>;

pub(super) struct VersionedCache<K, V> {
    state: Mutex<State<K, V>>,
    max_entries: usize,
}

struct State<K, V> {
    entries: HashMap<K, Versioned<V>>,
    /// The reads under way by key and version, each with its number. Only their callers hold
    /// them: when the last goes away (a client that hung up), the read is dropped with its
    /// database connection, and the next caller reads anew.
    flights: HashMap<(K, i64), Flying<V>>,
    flights_started: u64,
}

/// A read under way as the map holds it: not keeping it alive.
struct Flying<V> {
    number: u64,
    read: WeakShared<Read<V>>,
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
        let state = State { entries: HashMap::new(), flights: HashMap::new(), flights_started: 0 };
        Self { state: Mutex::new(state), max_entries }
    }

    /// The value cached for `key` at `version` and valid at `now`; otherwise the read `load`
    /// makes (called only then), which answers the value and until when it is valid. Read it
    /// after the version: a change in between is then cached under the older version, and so
    /// never served once the newer one is seen. When a read of `key` at `version` is under way,
    /// its result is awaited instead of making another (an error too; errors are not kept).
    pub(super) async fn get_or_load<L, F>(self: &Arc<Self>, key: K, version: i64, now: Millis, load: L) -> Result<V>
    where
        L: FnOnce() -> F,
        F: Future<Output = Result<Timed<V>>> + Send + 'static,
    {
        let (step, dropped) = {
            let Ok(mut state) = self.state.lock() else { return Ok(load().await?.0) };
            if let Some(hit) = state.entries.get(&key).filter(|hit| hit.version == version && valid(hit.valid_until, now)) {
                return Ok(hit.value.clone());
            }
            let id = (key, version);
            match state.flights.get(&id).and_then(|flying| flying.read.upgrade()) {
                Some(flight) => (Step::Join(flight, load), None),
                None => {
                    state.flights_started += 1;
                    let number = state.flights_started;
                    let flight = Self::fly(Arc::downgrade(self), id.clone(), number, load());
                    let dropped = take_if_full(&mut state.flights, self.max_entries);
                    if let Some(read) = flight.downgrade() {
                        state.flights.insert(id, Flying { number, read });
                    }
                    (Step::Lead(flight), dropped)
                }
            }
        };
        drop(dropped);
        match step {
            Step::Lead(flight) => Ok(flight.await?.0),
            Step::Join(flight, load) => match flight.await? {
                // A read for an instant before `now` that ended since (a tag expired
                // meanwhile): read again, alone.
                (_, until) if !valid(until, now) => Ok(load().await?.0),
                (value, _) => Ok(value),
            },
        }
    }

    /// The shared read: runs `load`, keeps what it read and lands. A read that panics fails
    /// (rather than leave its callers waiting on a poisoned flight).
    fn fly<F>(cache: Weak<Self>, id: (K, i64), number: u64, load: F) -> Flight<V>
    where
        F: Future<Output = Result<Timed<V>>> + Send + 'static,
    {
        async move {
            let out = AssertUnwindSafe(load).catch_unwind().await.unwrap_or(Err(Error::Storage));
            if let Some(cache) = cache.upgrade() {
                cache.land(id, number, &out);
            }
            out
        }
        .boxed()
        .shared()
    }

    /// Ends flight `number` and keeps what it read, unless a newer version is kept already.
    fn land(&self, id: (K, i64), number: u64, out: &Result<Timed<V>>) {
        let Ok(mut state) = self.state.lock() else { return };
        if state.flights.get(&id).is_some_and(|flying| flying.number == number) {
            state.flights.remove(&id);
        }
        let ((key, version), Ok((value, valid_until))) = (id, out) else { return };
        if state.entries.get(&key).is_some_and(|kept| kept.version > version) {
            return;
        }
        let dropped = take_if_full(&mut state.entries, self.max_entries);
        state.entries.insert(key, Versioned { version, valid_until: *valid_until, value: value.clone() });
        drop(state);
        drop(dropped);
    }
}

fn valid(until: Option<Millis>, now: Millis) -> bool {
    until.is_none_or(|t| now < t)
}

/// A full map starts again empty: its old contents, for the caller to drop once it has let go
/// of the lock (dropping a read can take a while).
fn take_if_full<K, T>(map: &mut HashMap<K, T>, max_entries: usize) -> Option<HashMap<K, T>> {
    (map.len() >= max_entries).then(|| std::mem::take(map))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::channel::oneshot;
    use futures::executor::block_on;

    use super::*;

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

    /// An empty cache and a count of the reads made for it.
    fn fresh() -> (Arc<VersionedCache<&'static str, u32>>, Arc<AtomicUsize>) {
        (Arc::new(VersionedCache::new(8)), Arc::new(AtomicUsize::new(0)))
    }

    fn ready(reads: &Arc<AtomicUsize>, value: u32) -> BoxFuture<'static, Result<Timed<u32>>> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(());
        read(reads, rx, Ok(value), None)
    }

    /// Two callers missing `key` together, at version `.0` and instant `.1`, each with its own
    /// read of the value `.2` valid until `.3`; both reads held until both callers wait.
    fn together(
        cache: &Arc<VersionedCache<&'static str, u32>>,
        reads: &Arc<AtomicUsize>,
        key: &'static str,
        a: (i64, Millis, Result<u32>, Option<Millis>),
        b: (i64, Millis, Result<u32>, Option<Millis>),
    ) -> (Result<u32>, Result<u32>) {
        let ((go_a, wait_a), (go_b, wait_b)) = (oneshot::channel(), oneshot::channel());
        let (a, b, ()) = block_on(async {
            futures::join!(
                cache.get_or_load(key, a.0, a.1, || read(reads, wait_a, a.2, a.3)),
                cache.get_or_load(key, b.0, b.1, || read(reads, wait_b, b.2, b.3)),
                async {
                    let _ = go_a.send(());
                    let _ = go_b.send(());
                },
            )
        });
        (a, b)
    }

    #[test]
    fn callers_missing_together_share_one_read() {
        let (cache, reads) = fresh();
        // The second caller's own read must not run.
        assert_eq!(together(&cache, &reads, "page", (1, 0, Ok(7), None), (1, 0, Ok(8), None)), (Ok(7), Ok(7)));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Kept: the next caller reads nothing; another version reads again.
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, || ready(&reads, 9))), Ok(7));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert_eq!(block_on(cache.get_or_load("page", 2, 0, || ready(&reads, 9))), Ok(9));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_error_is_shared_but_not_kept() {
        let (cache, reads) = fresh();
        let both = together(&cache, &reads, "page", (1, 0, Err(Error::Storage), None), (1, 0, Ok(8), None));
        assert_eq!(both, (Err(Error::Storage), Err(Error::Storage)));
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, || ready(&reads, 9))), Ok(9));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_value_is_served_until_it_ends() {
        let (cache, reads) = fresh();
        let (go, wait) = oneshot::channel();
        let _ = go.send(());
        assert_eq!(block_on(cache.get_or_load("tags", 1, 100, || read(&reads, wait, Ok(1), Some(200)))), Ok(1));
        assert_eq!(block_on(cache.get_or_load("tags", 1, 199, || ready(&reads, 2))), Ok(1));
        assert_eq!(block_on(cache.get_or_load("tags", 1, 200, || ready(&reads, 3))), Ok(3));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_caller_later_than_the_shared_read_ends_reads_alone() {
        let (cache, reads) = fresh();
        assert_eq!(together(&cache, &reads, "tags", (1, 100, Ok(1), Some(150)), (1, 160, Ok(2), None)), (Ok(1), Ok(2)));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn callers_at_another_version_read_their_own() {
        let (cache, reads) = fresh();
        // The read at version 2 lands first.
        assert_eq!(together(&cache, &reads, "page", (2, 0, Ok(8), None), (1, 0, Ok(7), None)), (Ok(8), Ok(7)));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        // The newer version is kept.
        assert_eq!(block_on(cache.get_or_load("page", 2, 0, || ready(&reads, 9))), Ok(8));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_read_left_by_all_its_callers_is_dropped() {
        let (cache, reads) = fresh();
        let (go, wait) = oneshot::channel();
        // Polled once, then dropped: nothing holds the read any more (its end of the channel
        // is gone), and the next caller reads anew.
        let first = cache.get_or_load("page", 1, 0, || read(&reads, wait, Ok(5), None));
        assert!(block_on(futures::future::poll_immediate(Box::pin(first))).is_none());
        assert!(go.send(()).is_err());
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, || ready(&reads, 6))), Ok(6));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_read_that_panics_fails_every_caller_and_is_not_kept() {
        let (cache, reads) = fresh();
        let (go, wait) = oneshot::channel::<()>();
        let panicking = async move {
            let _ = wait.await;
            panic!("a read that panics")
        };
        let joining = ready(&reads, 2);
        let (a, b, ()) = block_on(async {
            futures::join!(cache.get_or_load("page", 1, 0, || panicking), cache.get_or_load("page", 1, 0, || joining), async {
                let _ = go.send(());
            })
        });
        assert_eq!((a, b), (Err(Error::Storage), Err(Error::Storage)));
        assert_eq!(block_on(cache.get_or_load("page", 1, 0, || ready(&reads, 3))), Ok(3));
    }
}
