//! Changes to tags applied together: one tag's several changes in one transaction (the REST
//! `PUT .../tag/{tag}` keys), and batches over many tags, all-or-nothing or each on its own.
//!
//! Every change goes through the same `*_in` functions as the single-change calls, so the rules
//! (SPEC §2.3–§2.9) and the audit records are the same whichever way a change arrives.

use super::*;

/// One change to one tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TagChange {
    /// Sets (seconds since epoch) or clears the expiration (SPEC §2.7).
    Expiration(Option<i64>),
    /// Locks (needs write) or unlocks (needs admin) the tag (SPEC §2.9).
    Immutable(bool),
    /// Points the tag at an available manifest, by digest (SPEC §2.3).
    Move(String),
    /// Points the tag at any manifest still stored, by digest (SPEC §2.5).
    Restore(String),
    /// Ends the alive row (SPEC §2.4).
    Delete,
}

/// A change and the tag it is for, as a batch lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TagChangeRequest {
    pub tag: String,
    pub change: TagChange,
    /// Applies the change only while the tag is as expected; otherwise it is refused with
    /// [`Error::Conflict`]. An undo carries one, so it never takes back a change made meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expected>,
}

impl TagChangeRequest {
    /// A change with no expectation of the tag's state.
    pub fn new(tag: impl Into<String>, change: TagChange) -> Self {
        Self { tag: tag.into(), change, expect: None }
    }
}

/// What a tag points at, as a guarded change expects it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Expected {
    /// The tag's alive row points at this manifest.
    Digest(String),
    /// The tag has no alive row.
    Absent,
}

/// What became of one change of a batch: `error` is `None` when it succeeded (or, in an
/// all-or-nothing batch that was rolled back, would have succeeded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TagChangeOutcome {
    pub tag: String,
    pub error: Option<Error>,
    /// For an applied delete, move or restore: the changes that take it back, in order — a
    /// restore to the digest the tag had (the history keeps it for the namespace's time machine
    /// window), expecting the tag as this change left it, then the expiration the tag had; or a
    /// delete when the tag had no alive row. Empty for other changes.
    #[serde(default)]
    pub undo: Vec<TagChangeRequest>,
}

/// A batch's outcome: whether its changes are stored, and one result per change, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchOutcome {
    /// All-or-nothing: every change is stored, or none. Otherwise: at least one is stored.
    pub applied: bool,
    pub results: Vec<TagChangeOutcome>,
}

impl BatchOutcome {
    pub fn failures(&self) -> usize {
        self.results.iter().filter(|r| r.error.is_some()).count()
    }
}

/// Most changes one batch may carry.
pub const MAX_BATCH: usize = 1000;

impl Registry {
    /// Applies the changes to one tag in the order given, in one transaction: all or none.
    pub async fn update_tag(&self, caller: &Caller, path: &RepoPath, tag: &TagName, changes: &[TagChange]) -> Result<()> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        for change in changes {
            self.change_in(&mut *tx, caller, &repo, tag, change, None, now).await?;
        }
        tx.commit().await
    }

    /// Applies many changes, in order. All-or-nothing: in one transaction, stored only when every
    /// change succeeds (each result still says which failed and why). Otherwise each change is
    /// its own transaction and the others go on when one fails. A caller who may not write the
    /// repository (or a read-only one) is refused as a whole.
    pub async fn change_tags(
        &self,
        caller: &Caller,
        path: &RepoPath,
        changes: &[TagChangeRequest],
        all_or_nothing: bool,
    ) -> Result<BatchOutcome> {
        if changes.is_empty() {
            return Err(Error::invalid("A batch needs at least one change"));
        }
        if changes.len() > MAX_BATCH {
            return Err(Error::invalid(format!("A batch holds at most {MAX_BATCH} changes")));
        }
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let mut results = Vec::with_capacity(changes.len());
        if all_or_nothing {
            for c in changes {
                let result = match TagName::parse(&c.tag) {
                    Ok(tag) => self.change_in(&mut *tx, caller, &repo, &tag, &c.change, c.expect.as_ref(), now).await,
                    Err(e) => Err(e.into()),
                };
                results.push(outcome(c, result)?);
            }
            let applied = results.iter().all(|r| r.error.is_none());
            if applied {
                tx.commit().await?;
            } else {
                // Rolled back: nothing to take back.
                results.iter_mut().for_each(|r| r.undo.clear());
            }
            return Ok(BatchOutcome { applied, results });
        }
        drop(tx);
        for c in changes {
            let result = match TagName::parse(&c.tag) {
                Ok(tag) => self.change_alone(caller, path, &tag, c).await,
                Err(e) => Err(e.into()),
            };
            results.push(outcome(c, result)?);
        }
        let applied = results.iter().any(|r| r.error.is_none());
        Ok(BatchOutcome { applied, results })
    }

    /// One change in its own transaction, with its undo.
    async fn change_alone(&self, caller: &Caller, path: &RepoPath, tag: &TagName, c: &TagChangeRequest) -> Result<Vec<TagChangeRequest>> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let undo = self.change_in(&mut *tx, caller, &repo, tag, &c.change, c.expect.as_ref(), now).await?;
        tx.commit().await?;
        Ok(undo)
    }

    /// Applies a change, when the tag is as `expect`ed, and says what takes it back (see
    /// [`TagChangeOutcome::undo`]).
    #[allow(clippy::too_many_arguments)]
    async fn change_in(
        &self,
        tx: &mut dyn Tx,
        caller: &Caller,
        repo: &Repository,
        tag: &TagName,
        change: &TagChange,
        expect: Option<&Expected>,
        now: Millis,
    ) -> Result<Vec<TagChangeRequest>> {
        let retargets = matches!(change, TagChange::Delete | TagChange::Move(_) | TagChange::Restore(_));
        let before = match retargets || expect.is_some() {
            true => Some(tx.alive_tag(repo.id, tag.as_str(), now).await?),
            false => None,
        };
        if let (Some(expect), Some(alive)) = (expect, &before) {
            let as_expected = match (expect, alive) {
                (Expected::Digest(d), Some(t)) => t.manifest_digest.as_str() == d,
                (Expected::Absent, None) => true,
                _ => false,
            };
            if !as_expected {
                return Err(Error::Conflict(format!("Tag {tag} has changed since")));
            }
        }
        match change {
            TagChange::Expiration(at) => self.expiration_in(tx, caller, repo, tag, *at, now).await?,
            TagChange::Immutable(on) => self.immutable_in(tx, caller, repo, tag, *on, now).await?,
            TagChange::Move(d) => self.retarget_to(tx, caller, repo, tag, &Digest::parse(d)?, Retarget::Move, now).await?,
            TagChange::Restore(d) => self.retarget_to(tx, caller, repo, tag, &Digest::parse(d)?, Retarget::Restore, now).await?,
            TagChange::Delete => self.delete_in(tx, caller, repo, tag, now).await?,
        };
        if !retargets {
            return Ok(Vec::new());
        }
        let left = match change {
            TagChange::Move(d) | TagChange::Restore(d) => Expected::Digest(Digest::parse(d)?.to_string()),
            _ => Expected::Absent,
        };
        let guarded = |change| TagChangeRequest { tag: tag.to_string(), change, expect: Some(left.clone()) };
        Ok(match before.flatten() {
            Some(t) => {
                let mut undo = vec![guarded(TagChange::Restore(t.manifest_digest.to_string()))];
                // A restore starts a row with no end: the expiration comes back too (whole
                // seconds, rounded up so it never ends sooner).
                if let (true, Some(end)) = (t.expiring, t.lifetime_end_ms) {
                    undo.push(TagChangeRequest::new(tag.as_str(), TagChange::Expiration(Some((end + 999) / 1000))));
                }
                undo
            }
            None => vec![guarded(TagChange::Delete)],
        })
    }
}

/// A change's result; a storage failure ends the whole batch (nothing more can be trusted).
fn outcome(c: &TagChangeRequest, result: Result<Vec<TagChangeRequest>>) -> Result<TagChangeOutcome> {
    match result {
        Err(Error::Storage) => Err(Error::Storage),
        Ok(undo) => Ok(TagChangeOutcome { tag: c.tag.clone(), error: None, undo }),
        Err(e) => Ok(TagChangeOutcome { tag: c.tag.clone(), error: Some(e), undo: Vec::new() }),
    }
}
