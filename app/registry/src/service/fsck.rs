//! `quayside fsck`: every blob the database lists is checked against its file — there, of the
//! recorded size, and hashing to its digest. A corrupted or missing file is reported, never
//! passed over. (Tags, manifests and blob references are held together by foreign keys.)

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
    pub missing: Vec<Digest>,
    pub corrupt: Vec<Digest>,
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
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (digest, size) in page {
                match self.blob_files.verify(&digest, size).await? {
                    BlobHealth::Ok => {}
                    BlobHealth::Missing => report.missing.push(digest),
                    BlobHealth::Corrupt => report.corrupt.push(digest),
                }
                report.blobs_checked += 1;
                report.bytes_checked += size;
            }
        }
        Ok(report)
    }
}
