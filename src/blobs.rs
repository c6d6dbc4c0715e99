//! The blob store: content-addressed files under the data dir.
//!
//! ```text
//! DATA_DIR/blobs/sha256/ab/abcdef…   verified content, never written in place
//! DATA_DIR/uploads/<uuid>            an upload in progress (its length is the offset)
//! ```
//!
//! An upload is appended to its own file; on completion the content is hashed (incrementally
//! while it streams in; from the file after a restart), checked against the digest the client
//! named, fsynced, and renamed into place. Bodies stream in and out in chunks: memory stays flat
//! whatever the blob size.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use registry::names::DigestAlgorithm;
use registry::Digest;
use sha2::{Digest as _, Sha256, Sha512};
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("upload unknown")]
    UploadUnknown,
    /// The chunk does not start where the upload ends (HTTP 416).
    #[error("chunk starts at {start}, upload is at {at}")]
    OutOfOrder { start: u64, at: u64 },
    #[error("provided digest did not match uploaded content")]
    DigestMismatch,
    #[error("the request body ended early")]
    Body,
    #[error("blob storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Incremental hash of an upload that streamed in through this process.
struct Progress {
    len: u64,
    sha256: Sha256,
}

#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    progress: Arc<Mutex<HashMap<String, Progress>>>,
}

impl BlobStore {
    /// Opens (creating) the store under `data_dir`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(data_dir.join("blobs"))?;
        std::fs::create_dir_all(data_dir.join("uploads"))?;
        Ok(Self { root: data_dir.to_owned(), progress: Default::default() })
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let (alg, hex) = digest.as_str().split_once(':').unwrap_or(("sha256", digest.as_str()));
        self.root.join("blobs").join(alg).join(&hex[..2.min(hex.len())]).join(hex)
    }

    fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// Creates the file of a new upload.
    pub async fn create_upload(&self, id: &str) -> Result<(), BlobError> {
        File::create(self.upload_path(id)).await?;
        self.progress.lock().map_err(|_| poisoned())?.insert(id.to_owned(), Progress { len: 0, sha256: Sha256::new() });
        Ok(())
    }

    /// How many bytes an upload has.
    pub async fn upload_len(&self, id: &str) -> Result<u64, BlobError> {
        match fs::metadata(self.upload_path(id)).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::UploadUnknown),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends a chunk. `start` (from `Content-Range`) must equal the current length.
    pub async fn append<S, E>(&self, id: &str, start: Option<u64>, body: S) -> Result<u64, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let path = self.upload_path(id);
        let mut file = match OpenOptions::new().append(true).open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::UploadUnknown),
            Err(e) => return Err(e.into()),
        };
        let at = file.metadata().await?.len();
        if let Some(start) = start {
            if start != at {
                return Err(BlobError::OutOfOrder { start, at });
            }
        }
        // Take the running hash if it matches the file; otherwise (after a restart) rebuild it.
        let mut progress = match self.take_progress(id)? {
            Some(p) if p.len == at => p,
            _ => Progress { len: at, sha256: hash_file::<Sha256>(&path).await? },
        };
        let result = write_stream(&mut file, body, &mut progress).await;
        file.flush().await?;
        self.progress.lock().map_err(|_| poisoned())?.insert(id.to_owned(), progress);
        result
    }

    /// Verifies the upload against `digest`, makes it durable and moves it into place.
    /// Returns the blob's size.
    pub async fn complete(&self, id: &str, digest: &Digest) -> Result<u64, BlobError> {
        let path = self.upload_path(id);
        let len = self.upload_len(id).await?;
        let actual = match (digest.algorithm(), self.take_progress(id)?) {
            (DigestAlgorithm::Sha256, Some(p)) if p.len == len => finish(DigestAlgorithm::Sha256, &p.sha256.finalize()),
            (DigestAlgorithm::Sha256, _) => finish(DigestAlgorithm::Sha256, &hash_file::<Sha256>(&path).await?.finalize()),
            (DigestAlgorithm::Sha512, _) => finish(DigestAlgorithm::Sha512, &hash_file::<Sha512>(&path).await?.finalize()),
        };
        if actual.as_ref() != Some(digest) {
            // The bytes are wrong, not the upload: the client may start over.
            fs::remove_file(&path).await.ok();
            return Err(BlobError::DigestMismatch);
        }
        File::open(&path).await?.sync_all().await?;
        // Always this upload's own copy, renamed over any file already there: a garbage
        // collection removing an unlinked copy of the same digest cannot take this one unless it
        // runs after the rename, and then the push's link notices (`Registry::complete_upload`).
        let dest = self.blob_path(digest);
        let dir = dest.parent().unwrap_or(&self.root).to_owned();
        fs::create_dir_all(&dir).await?;
        fs::rename(&path, &dest).await?;
        File::open(&dir).await?.sync_all().await?;
        Ok(len)
    }

    /// Drops an upload in progress.
    pub async fn cancel(&self, id: &str) -> Result<(), BlobError> {
        self.take_progress(id)?;
        match fs::remove_file(self.upload_path(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::UploadUnknown),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a stored blob positioned at `offset`; `None` when the file is missing.
    pub async fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Option<File>, BlobError> {
        match File::open(self.blob_path(digest)).await {
            Ok(mut f) => {
                if offset > 0 {
                    f.seek(SeekFrom::Start(offset)).await?;
                }
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a small blob whole (an image config), refusing one over `max` bytes.
    pub async fn read_small(&self, digest: &Digest, max: u64) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(f) = self.open_blob(digest, 0).await? else { return Ok(None) };
        if f.metadata().await?.len() > max {
            return Ok(None);
        }
        let mut buf = Vec::new();
        f.take(max).read_to_end(&mut buf).await?;
        Ok(Some(buf))
    }

    fn take_progress(&self, id: &str) -> Result<Option<Progress>, BlobError> {
        Ok(self.progress.lock().map_err(|_| poisoned())?.remove(id))
    }
}

/// The files garbage collection removes and a push checks, for the service.
#[async_trait::async_trait]
impl registry::BlobFiles for BlobStore {
    async fn exists(&self, digest: &Digest) -> registry::Result<bool> {
        fs::try_exists(self.blob_path(digest)).await.map_err(storage)
    }

    async fn remove(&self, digest: &Digest) -> registry::Result<()> {
        remove_if_there(&self.blob_path(digest)).await
    }

    async fn stale_upload_files(&self, age_ms: registry::Millis) -> registry::Result<Vec<String>> {
        let cutoff = std::time::SystemTime::now() - std::time::Duration::from_millis(u64::try_from(age_ms).unwrap_or(0));
        let mut dir = fs::read_dir(self.root.join("uploads")).await.map_err(storage)?;
        let mut ids = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(storage)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let modified = match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(t) => t,
                // Finished (renamed into the blob store) or cancelled since the listing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(storage(e)),
            };
            if uuid::Uuid::parse_str(&name).is_ok() && modified <= cutoff {
                ids.push(name);
            }
        }
        Ok(ids)
    }

    async fn verify(&self, digest: &Digest, size: i64) -> registry::Result<registry::BlobHealth> {
        let path = self.blob_path(digest);
        let len = match fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(registry::BlobHealth::Missing),
            Err(e) => return Err(storage(e)),
        };
        if i64::try_from(len).ok() != Some(size) {
            return Ok(registry::BlobHealth::Corrupt);
        }
        let actual = match digest.algorithm() {
            DigestAlgorithm::Sha256 => hash_file::<Sha256>(&path).await.map(|h| finish(DigestAlgorithm::Sha256, &h.finalize())),
            DigestAlgorithm::Sha512 => hash_file::<Sha512>(&path).await.map(|h| finish(DigestAlgorithm::Sha512, &h.finalize())),
        }
        .map_err(|e| storage(std::io::Error::other(e.to_string())))?;
        Ok(if actual.as_ref() == Some(digest) { registry::BlobHealth::Ok } else { registry::BlobHealth::Corrupt })
    }

    async fn remove_upload(&self, upload_id: &str) -> registry::Result<()> {
        // Upload ids are uuids we made; anything else names no file of ours.
        if uuid::Uuid::parse_str(upload_id).is_err() {
            return Ok(());
        }
        self.take_progress(upload_id).map_err(|e| storage(std::io::Error::other(e.to_string())))?;
        remove_if_there(&self.upload_path(upload_id)).await
    }
}

async fn remove_if_there(path: &Path) -> registry::Result<()> {
    match fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(storage(e)),
    }
}

fn storage(e: std::io::Error) -> registry::Error {
    tracing::error!(error = %e, "blob store");
    registry::Error::Storage
}

fn poisoned() -> BlobError {
    BlobError::Io(std::io::Error::other("upload progress lock poisoned"))
}

fn finish(alg: DigestAlgorithm, hash: &[u8]) -> Option<Digest> {
    Digest::from_hash(alg, hash).ok()
}

async fn write_stream<S, E>(file: &mut File, mut body: S, progress: &mut Progress) -> Result<u64, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| BlobError::Body)?;
        file.write_all(&chunk).await?;
        progress.sha256.update(&chunk);
        progress.len += chunk.len() as u64;
    }
    Ok(progress.len)
}

async fn hash_file<H: sha2::Digest + Default>(path: &Path) -> Result<H, BlobError> {
    let mut f = File::open(path).await?;
    let mut h = H::default();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(h);
        }
        h.update(&buf[..n]);
    }
}
