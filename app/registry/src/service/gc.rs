//! Garbage collection (SPEC §2.10): what the time machine no longer keeps is reclaimed, and
//! nothing anything still needs is touched.
//!
//! One pass, per repository in its own transaction (holding the repository's write lock, so no
//! tag change or push in that repository interleaves):
//! 1. tag rows whose end is older than the namespace's window go (immutable ones are kept unless
//!    the operator allows expiring immutable tags);
//! 2. manifests no remaining row points at, no kept index lists and no kept manifest is the
//!    subject of go — repeatedly, as an index's children and a subject's referrers are freed —
//!    except those younger than the grace period (a manifest pushed by digest before its tag);
//! 3. the repository's links to blobs none of its manifests uses go, except links younger than
//!    the grace period (layers uploaded for a manifest not PUT yet).
//!
//! Then each blob no repository links and no manifest uses (and untouched for the grace period)
//! goes in its own transaction: the row is deleted, the file removed, then the deletion
//! committed. A push that links the same digest meanwhile waits for that commit (row lock, or
//! SQLite's single writer) and then finds the file gone, so it fails instead of pointing at
//! nothing (see [`BlobFiles::exists`] in `complete_upload`). Last, uploads abandoned for longer
//! than the upload age go with their files.
//!
//! A dry run does the same inside one transaction that is rolled back, and removes no file.
//! Any storage error stops the pass (nothing is deleted on a guess).

use super::*;
use crate::service::fsck::BlobHealth;

/// How a collection pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Report what would go; change nothing.
    pub dry_run: bool,
    /// Manifests, blob links and blobs younger than this are kept (pushes in progress).
    pub grace_ms: Millis,
    /// Uploads started longer ago than this and never finished are abandoned.
    pub upload_max_age_ms: Millis,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self { dry_run: false, grace_ms: DAY_MS, upload_max_age_ms: DAY_MS }
    }
}

/// What a pass removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub repositories: usize,
    pub tag_rows: u64,
    pub manifests: Vec<(RepoPath, Digest)>,
    pub blob_links: u64,
    pub blobs: Vec<(Digest, i64)>,
    pub uploads: Vec<String>,
}

impl GcReport {
    /// Bytes the blob store gets back.
    pub fn blob_bytes(&self) -> i64 {
        self.blobs.iter().map(|(_, size)| size).sum()
    }
}

/// The blob store's files, as garbage collection and pushes need them (the server implements it
/// over the filesystem).
#[async_trait::async_trait]
pub trait BlobFiles: Send + Sync {
    async fn exists(&self, digest: &Digest) -> Result<bool>;
    /// Removes the blob's file; a missing file is not an error.
    async fn remove(&self, digest: &Digest) -> Result<()>;
    /// Removes an upload's partial file; a missing file is not an error.
    async fn remove_upload(&self, upload_id: &str) -> Result<()>;
    /// Ids of upload files not written to for `age_ms` or longer.
    async fn stale_upload_files(&self, age_ms: Millis) -> Result<Vec<String>>;
    /// Reads the blob's file whole: there, `size` bytes, hashing to `digest`?
    async fn verify(&self, digest: &Digest, size: i64) -> Result<BlobHealth>;
}

/// No blob store (tests of the rules, demo data): every blob is there, nothing is removed.
pub struct NoBlobFiles;

#[async_trait::async_trait]
impl BlobFiles for NoBlobFiles {
    async fn exists(&self, _: &Digest) -> Result<bool> {
        Ok(true)
    }
    async fn remove(&self, _: &Digest) -> Result<()> {
        Ok(())
    }
    async fn remove_upload(&self, _: &str) -> Result<()> {
        Ok(())
    }
    async fn stale_upload_files(&self, _: Millis) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn verify(&self, _: &Digest, _: i64) -> Result<BlobHealth> {
        Ok(BlobHealth::Ok)
    }
}

impl Registry {
    /// One garbage collection pass over every repository (the server's operator, or its
    /// background task). See the module documentation for what goes and what stays.
    pub async fn collect_garbage(&self, caller: &Caller, opts: &GcOptions) -> Result<GcReport> {
        if !caller.principal.is_superuser() {
            return Err(refused(caller));
        }
        let now = self.clock.now_ms();
        let mut report = GcReport { dry_run: opts.dry_run, ..Default::default() };
        let repositories = self.store.repository_ids().await?;
        report.repositories = repositories.len();
        let grace_cutoff = now.saturating_sub(opts.grace_ms);
        if opts.dry_run {
            // Everything in one transaction, rolled back: later steps see earlier ones.
            let mut tx = self.store.begin().await?;
            for id in repositories {
                self.collect_repository(&mut *tx, id, now, grace_cutoff, &mut report).await?;
            }
            for (digest, size) in tx.gc_blobs(grace_cutoff).await? {
                if tx.gc_delete_blob(&digest, grace_cutoff).await? {
                    report.blobs.push((digest, size));
                }
            }
            report.uploads = tx.gc_uploads(now.saturating_sub(opts.upload_max_age_ms)).await?;
            drop(tx);
            report.uploads.extend(self.orphan_upload_files(opts, &report.uploads).await?);
            return Ok(report);
        }
        for id in repositories {
            let mut tx = self.store.begin().await?;
            tx.lock_repository(id).await?;
            self.collect_repository(&mut *tx, id, now, grace_cutoff, &mut report).await?;
            tx.commit().await?;
        }
        let candidates = self.store.begin().await?.gc_blobs(grace_cutoff).await?;
        for (digest, size) in candidates {
            let mut tx = self.store.begin().await?;
            // Checked again under the lock: a push may have linked it since.
            if tx.gc_delete_blob(&digest, grace_cutoff).await? {
                self.blob_files.remove(&digest).await?;
                tx.commit().await?;
                report.blobs.push((digest, size));
            }
        }
        let mut tx = self.store.begin().await?;
        let uploads = tx.gc_uploads(now.saturating_sub(opts.upload_max_age_ms)).await?;
        tx.commit().await?;
        for id in &uploads {
            self.blob_files.remove_upload(id).await?;
        }
        // Files a crash left without a record (say, between a cancel's two steps).
        for id in self.orphan_upload_files(opts, &uploads).await? {
            self.blob_files.remove_upload(&id).await?;
            report.uploads.push(id);
        }
        report.uploads.extend(uploads);
        Ok(report)
    }

    /// Upload files older than the upload age that no upload record names (and not already in
    /// `known`).
    async fn orphan_upload_files(&self, opts: &GcOptions, known: &[String]) -> Result<Vec<String>> {
        let mut orphans = Vec::new();
        for id in self.blob_files.stale_upload_files(opts.upload_max_age_ms).await? {
            if !known.contains(&id) && self.store.upload_repository(&id).await?.is_none() {
                orphans.push(id);
            }
        }
        Ok(orphans)
    }

    async fn collect_repository(
        &self,
        tx: &mut dyn Tx,
        repository_id: i64,
        now: Millis,
        grace_cutoff: Millis,
        report: &mut GcReport,
    ) -> Result<()> {
        let Some((path, window_s)) = tx.repository_window(repository_id).await? else { return Ok(()) };
        let rows_cutoff = now.saturating_sub(window_s.saturating_mul(1000));
        let keep_immutable = !self.config.allow_expiration_on_immutable;
        report.tag_rows += tx.gc_tag_rows(repository_id, rows_cutoff, keep_immutable).await?;
        // An index or subject freed in one round frees its children or referrers in the next.
        loop {
            let garbage = tx.gc_manifests(repository_id, grace_cutoff).await?;
            if garbage.is_empty() {
                break;
            }
            for (id, digest) in garbage {
                tx.delete_manifest(id).await?;
                report.manifests.push((path.clone(), digest));
            }
        }
        report.blob_links += tx.gc_blob_links(repository_id, grace_cutoff).await?;
        Ok(())
    }
}
