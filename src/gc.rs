//! Garbage collection in the server: the background pass and the report the CLI prints. What
//! goes and why is `registry::service::gc`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use registry::{BlobFiles, BlobHealth, Caller, Digest, GcOptions, GcReport, Millis, Registry};

/// Runs a pass every `every`, after a first wait of the same length. A failed pass is logged and
/// the next one tries again (a pass deletes nothing it could not check).
pub fn spawn(registry: Registry, every: Duration, opts: GcOptions) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match registry.collect_garbage(&Caller::system(), &opts).await {
                Ok(r) => tracing::info!(
                    tag_rows = r.tag_rows,
                    manifests = r.manifests.len(),
                    blob_links = r.blob_links,
                    blobs = r.blobs.len(),
                    bytes = r.blob_bytes(),
                    uploads = r.uploads.len(),
                    "garbage collection"
                ),
                Err(e) => tracing::warn!(error = %e, "garbage collection stopped; nothing more was removed in this pass"),
            }
        }
    });
}

/// The report as the operator reads it.
pub fn describe(r: &GcReport) -> String {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    let mut out = String::new();
    let _ = writeln!(out, "garbage collection over {} repositories ({})", r.repositories, if r.dry_run { "dry run" } else { "done" });
    let _ = writeln!(out, "{verb} {} tag rows older than their namespace's time machine", r.tag_rows);
    let _ = writeln!(out, "{verb} {} manifests:", r.manifests.len());
    for (repo, digest) in &r.manifests {
        let _ = writeln!(out, "  {repo}@{digest}");
    }
    let _ = writeln!(out, "{verb} {} blob links", r.blob_links);
    let _ = writeln!(out, "{verb} {} blobs, {} bytes:", r.blobs.len(), r.blob_bytes());
    for (digest, size) in &r.blobs {
        let _ = writeln!(out, "  {digest} {size}");
    }
    let _ = writeln!(out, "{verb} {} abandoned uploads", r.uploads.len());
    out
}

/// A crash point for the crash-safety test (`quayside gc --pause-after-first-removal`, a hidden
/// flag): the first file the pass removes is removed, then the pass says so on standard error and
/// waits, inside the step (a blob's row deletion not committed yet), until the process is killed.
pub struct PauseAfterFirstRemoval(pub Arc<dyn BlobFiles>);

impl PauseAfterFirstRemoval {
    async fn pause(what: String) -> registry::Result<()> {
        eprintln!("gc: removed {what}; paused");
        std::future::pending().await
    }
}

#[async_trait::async_trait]
impl BlobFiles for PauseAfterFirstRemoval {
    async fn exists(&self, digest: &Digest) -> registry::Result<bool> {
        self.0.exists(digest).await
    }
    async fn remove(&self, digest: &Digest) -> registry::Result<()> {
        self.0.remove(digest).await?;
        Self::pause(format!("the file of blob {digest}")).await
    }
    async fn remove_upload(&self, upload_id: &str) -> registry::Result<()> {
        self.0.remove_upload(upload_id).await?;
        Self::pause(format!("the file of upload {upload_id}")).await
    }
    async fn stale_upload_files(&self, age_ms: Millis) -> registry::Result<Vec<String>> {
        self.0.stale_upload_files(age_ms).await
    }
    async fn verify(&self, digest: &Digest, size: i64) -> registry::Result<BlobHealth> {
        self.0.verify(digest, size).await
    }
}
