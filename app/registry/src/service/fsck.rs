//! `quayside fsck`: every blob the database lists is checked against its file — there, of the
//! recorded size, and hashing to its digest. A corrupted or missing file is reported, never
//! passed over. (Tags, manifests and blob references are held together by foreign keys.)
//!
//! A missing file of a blob nothing uses is not damage: a garbage collection pass stopped between
//! removing the file and committing the row's deletion (a crash, a database error) leaves exactly
//! that, and the next pass removes the row. It is listed apart, as leftover.

use super::*;

/// What a blob's file looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlobHealth {
    Ok,
    Missing,
    /// Present, but its size or digest differs from the record.
    Corrupt,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FsckReport {
    pub blobs_checked: u64,
    pub bytes_checked: i64,
    /// Files missing for blobs a repository or manifest uses: pulls of them fail.
    pub missing: Vec<Digest>,
    pub corrupt: Vec<Digest>,
    /// Files missing for blobs nothing uses (the next garbage collection removes their rows).
    pub leftover: Vec<Digest>,
}

impl FsckReport {
    pub fn healthy(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty()
    }
}

impl Registry {
    /// Checks every stored blob's file (server admins).
    pub async fn check_blobs(&self, caller: &Caller) -> Result<FsckReport> {
        if !caller.principal.is_superuser() {
            return Err(refused(caller));
        }
        let mut report = FsckReport::default();
        let mut after: Option<Digest> = None;
        loop {
            let page = self.store.blobs_after(after.as_ref(), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.digest.clone());
            for blob in page {
                match self.blob_files.verify(&blob.digest, blob.size).await? {
                    BlobHealth::Ok => {}
                    BlobHealth::Missing if !blob.in_use => report.leftover.push(blob.digest),
                    BlobHealth::Missing => report.missing.push(blob.digest),
                    BlobHealth::Corrupt => report.corrupt.push(blob.digest),
                }
                report.blobs_checked += 1;
                report.bytes_checked += blob.size;
            }
        }
        Ok(report)
    }
}
