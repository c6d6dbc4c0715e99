//! The storage trait: what the service layer needs from a database, and nothing of how.
//!
//! Reads that pages make go through [`Store`]. Every change goes through a [`Tx`] from
//! [`Store::begin`]: the service reads, decides and writes inside one transaction and commits, so a
//! refused or failed operation leaves nothing half-written. Implementations map their own errors
//! into [`Error`](crate::Error) (not found → `NotFound`, anything unexpected → logged + `Storage`).

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;
use crate::names::{Digest, NamespaceName, RepoPath};
use crate::rules::RowLinks;

/// Filters of the tag history listing (SPEC §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HistoryQuery {
    pub only_active: bool,
    /// Exact tag name (`specificTag`).
    pub specific_tag: Option<String>,
    pub name_filter: Option<NameFilter>,
    /// 1-based.
    pub page: u32,
    /// 1..=100.
    pub limit: u32,
    /// Only rows alive at this instant (started at or before it, not ended by it).
    pub as_of: Option<Millis>,
    pub order: TagOrder,
    /// In the newest-first order, the page next to this row (by its id) instead of `page`'s
    /// offset: a deep page costs what the first does. An id that is not one of the repository's
    /// rows is ignored (the offset is used).
    pub cursor: Option<Cursor>,
}

impl HistoryQuery {
    /// Whether this listing's pages can be found by [`HistoryQuery::cursor`]: the newest-first
    /// order (the history's), which the index keeps.
    pub fn pages_by_cursor(&self) -> bool {
        self.order == TagOrder::Newest
    }
}

/// A page's place in a listing given by a row next to it (see [`HistoryQuery::cursor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// The rows after this one.
    After(i64),
    /// The rows before this one.
    Before(i64),
}

impl Cursor {
    /// The row's id.
    pub fn id(self) -> i64 {
        match self {
            Self::After(id) | Self::Before(id) => id,
        }
    }
}

/// A new end for a tag row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagEnd {
    /// Ended now: deleted, or moved away from (the next row starts at the same instant).
    Now(Millis),
    /// A set expiration.
    Expires(Millis),
    /// No end: alive until changed.
    Never,
}

impl TagEnd {
    /// An expiration when there is one, else none.
    pub fn expiration(end: Option<Millis>) -> Self {
        end.map_or(Self::Never, Self::Expires)
    }

    pub fn ms(self) -> Option<Millis> {
        match self {
            Self::Now(ms) | Self::Expires(ms) => Some(ms),
            Self::Never => None,
        }
    }
}

/// The order of a tag listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TagOrder {
    /// Most recently started first (the history's order).
    #[default]
    Newest,
    /// By name (the store's byte order; the service puts alive tags in natural order).
    Name,
    /// Largest first; unknown sizes last.
    Size,
    /// Soonest expiring first; never-expiring last.
    Expiration,
}

impl TagOrder {
    /// The URL's `sort`: `name`, `size`, `expiration`, or `newest` (also blank).
    pub fn parse(s: &str) -> crate::error::Result<Self> {
        match s.trim() {
            "" | "newest" => Ok(Self::Newest),
            "name" => Ok(Self::Name),
            "size" => Ok(Self::Size),
            "expiration" => Ok(Self::Expiration),
            other => Err(crate::error::Error::invalid(format!("Invalid sort: {other} (expected name, size, expiration or newest)"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameFilter {
    /// Case-insensitive substring.
    Like(String),
    /// Exact name.
    Eq(String),
}

/// Filters of the repository list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryQuery {
    pub namespace: Option<String>,
    /// Case-insensitive substring of `namespace/name`.
    pub filter: Option<String>,
    /// Which private repositories the caller sees (set by the service).
    pub viewer: Viewer,
    pub page: u32,
    pub limit: u32,
}

/// Filters of an audit log listing: a namespace's records, or one repository's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub namespace_id: i64,
    pub repository_id: Option<i64>,
    /// Exact action (`create_tag`, `change_repo_permission`, …).
    pub action: Option<String>,
    /// Exact actor name.
    pub actor: Option<String>,
    /// Records at or after this time.
    pub since_ms: Option<Millis>,
    /// Records before this time.
    pub until_ms: Option<Millis>,
    /// 1-based.
    pub page: u32,
    /// 1..=1000.
    pub limit: u32,
}

/// Whose view a listing is: which private repositories it includes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Viewer {
    /// Public repositories only.
    #[default]
    Anonymous,
    /// Public ones and those the user holds a role on (directly, as owner or as org member).
    User(i64),
    /// Every repository (superusers).
    Everything,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTag {
    pub repository_id: i64,
    pub name: String,
    pub manifest_id: i64,
    pub start_ms: Millis,
    pub end_ms: Option<Millis>,
    pub reversion: bool,
    pub immutable: bool,
    pub hidden: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Starts a transaction. Writes are serialized per repository by [`Tx::lock_repository`].
    async fn begin(&self) -> Result<Box<dyn Tx>>;

    /// Answers when the database answers (for health checks).
    async fn ping(&self) -> Result<()>;

    async fn repository(&self, path: &RepoPath) -> Result<Option<Repository>>;
    async fn list_repositories(&self, q: &RepositoryQuery, now: Millis) -> Result<Page<RepositorySummary>>;
    async fn tag_history(&self, repository_id: i64, q: &HistoryQuery, now: Millis) -> Result<Page<TagView>>;
    /// The neighbours of the repository's rows `tag_ids` (see [`RowLinks`]), in the same order.
    async fn history_links(&self, repository_id: i64, tag_ids: &[i64]) -> Result<Vec<RowLinks>>;
    async fn manifest_bytes(&self, manifest_id: i64) -> Result<Vec<u8>>;
    async fn manifest_by_digest(&self, repository_id: i64, digest: &Digest) -> Result<Option<Manifest>>;
    /// The repository's manifests among `digests` (any order; unknown digests are left out), each
    /// with its bytes when `with_bytes`, else with none: one query for a page's worth.
    async fn manifests_by_digests(&self, repository_id: i64, digests: &[Digest], with_bytes: bool) -> Result<Vec<(Manifest, Vec<u8>)>>;
    async fn labels(&self, manifest_id: i64, key_prefix: Option<&str>) -> Result<Vec<Label>>;
    async fn audit_log(&self, q: &AuditQuery) -> Result<Page<AuditEntry>>;

    /// The size of a blob the repository may read.
    async fn blob_size(&self, repository_id: i64, digest: &Digest) -> Result<Option<i64>>;
    /// The repository an upload in progress belongs to.
    async fn upload_repository(&self, upload_id: &str) -> Result<Option<i64>>;
    /// Names of alive tags in name order, after `last`, at most `n`, and the earliest future
    /// expiration among the repository's alive tags (when the list changes by itself).
    async fn tag_names(&self, repository_id: i64, last: Option<&str>, n: u32, now: Millis) -> Result<(Vec<String>, Option<Millis>)>;
    /// Repository paths in order, after `last`, at most `n`.
    async fn catalog(&self, last: Option<&str>, n: u32, viewer: Viewer) -> Result<Vec<RepoPath>>;
    /// Manifests whose `subject` is `digest`, with their bytes.
    async fn referrers(&self, repository_id: i64, digest: &Digest) -> Result<Vec<(Manifest, Vec<u8>)>>;

    // ---- accounts (SPEC §4) ----
    async fn user_count(&self) -> Result<i64>;
    async fn user_by_name(&self, name: &str) -> Result<Option<StoredUser>>;
    async fn account(&self, user_id: i64) -> Result<Option<Account>>;
    /// The account an API token (by its digest) belongs to.
    async fn token_account(&self, token_digest: &str) -> Result<Option<Account>>;
    /// The user's role from the namespace (owner, org membership) and, when given, from the
    /// repository's own grants: the higher of the two.
    async fn user_role(&self, user_id: i64, namespace_id: i64, repository_id: Option<i64>) -> Result<Option<Role>>;
    async fn permissions(&self, repository_id: i64) -> Result<Vec<Permission>>;
    async fn namespace_by_name(&self, name: &NamespaceName) -> Result<Option<Namespace>>;
    /// A server-wide secret (e.g. the token signing key), created with `value` when missing; every
    /// instance sharing the database gets the same one.
    async fn server_secret(&self, name: &str, value: &str) -> Result<String>;

    /// Every repository's id (garbage collection visits them all).
    async fn repository_ids(&self) -> Result<Vec<i64>>;
    /// Blobs in digest order after `after`, at most `n`.
    async fn blobs_after(&self, after: Option<&Digest>, n: u32) -> Result<Vec<StoredBlob>>;
}

/// A blob row as `quayside fsck` walks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub digest: Digest,
    pub size: i64,
    /// A repository links it or a manifest uses it.
    pub in_use: bool,
}

/// One open transaction. Dropping it without [`Tx::commit`] rolls back.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Takes the repository's write lock until the transaction ends (PostgreSQL: row lock;
    /// SQLite: writes are already serialized by the single writer connection).
    async fn lock_repository(&mut self, repository_id: i64) -> Result<()>;

    async fn namespace(&mut self, name: &NamespaceName) -> Result<Option<Namespace>>;
    async fn insert_namespace(&mut self, name: &NamespaceName, time_machine_s: i64, now: Millis) -> Result<Namespace>;
    async fn set_time_machine(&mut self, namespace_id: i64, seconds: i64) -> Result<()>;

    async fn repository(&mut self, path: &RepoPath) -> Result<Option<Repository>>;
    async fn insert_repository(
        &mut self,
        namespace_id: i64,
        path: &RepoPath,
        visibility: Visibility,
        description: &str,
        now: Millis,
    ) -> Result<Repository>;
    async fn set_repository_state(&mut self, repository_id: i64, state: RepoState) -> Result<()>;

    async fn manifest_by_digest(&mut self, repository_id: i64, digest: &Digest) -> Result<Option<Manifest>>;
    /// Inserts the manifest row with its bytes, child links and blob references; the caller
    /// checked it is new and that the children and blobs exist.
    async fn insert_manifest(&mut self, repository_id: i64, m: &NewManifest, child_ids: &[i64], now: Millis) -> Result<Manifest>;
    async fn manifest_children(&mut self, manifest_id: i64) -> Result<Vec<Manifest>>;
    /// Pointed at by an alive tag, or a child of an index that is.
    async fn manifest_available(&mut self, repository_id: i64, manifest_id: i64, now: Millis) -> Result<bool>;

    async fn alive_tag(&mut self, repository_id: i64, name: &str, now: Millis) -> Result<Option<Tag>>;
    async fn alive_tags(&mut self, repository_id: i64, now: Millis) -> Result<Vec<Tag>>;
    async fn alive_tags_on_manifest(&mut self, repository_id: i64, manifest_id: i64, now: Millis) -> Result<Vec<Tag>>;
    async fn insert_tag(&mut self, t: &NewTag) -> Result<Tag>;
    async fn set_tag_end(&mut self, tag_id: i64, end: TagEnd) -> Result<()>;
    async fn set_tag_immutable(&mut self, tag_id: i64, immutable: bool) -> Result<()>;
    /// Moves the ended rows of tag `name` on the manifest whose end lies in `(cutoff, now]` to
    /// `cutoff`: out of the time machine. Returns how many rows moved.
    async fn expire_tag_rows(&mut self, repository_id: i64, name: &str, manifest_id: i64, now: Millis, cutoff: Millis) -> Result<u64>;

    async fn labels(&mut self, manifest_id: i64) -> Result<Vec<Label>>;
    async fn label(&mut self, manifest_id: i64, label_id: &str) -> Result<Option<Label>>;
    async fn insert_label(&mut self, l: &NewLabel, now: Millis) -> Result<Label>;
    async fn delete_label(&mut self, label_id: &str) -> Result<()>;

    /// The repositories (id, path) of a namespace, in name order.
    async fn namespace_repositories(&mut self, namespace_id: i64) -> Result<Vec<(i64, RepoPath)>>;
    /// The namespace's policies and the repository's own (`None`: the namespace's only).
    async fn policies(&mut self, namespace_id: i64, repository_id: Option<i64>) -> Result<Vec<ImmutabilityPolicy>>;
    async fn insert_policy(
        &mut self,
        namespace_id: i64,
        repository_id: Option<i64>,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<ImmutabilityPolicy>;
    /// Whether the policy exists (and now has this pattern).
    async fn update_policy(&mut self, policy_id: &str, pattern: &str, matches_immutable: bool) -> Result<bool>;
    async fn delete_policy(&mut self, policy_id: &str) -> Result<bool>;

    async fn insert_audit(&mut self, a: &NewAudit) -> Result<()>;

    // ---- accounts ----
    /// Inserts the user and, for a user namespace, makes it theirs.
    async fn insert_user(&mut self, name: &str, password_hash: &str, superuser: bool, now: Millis) -> Result<Account>;
    async fn set_namespace_owner(&mut self, namespace_id: i64, user_id: i64) -> Result<()>;
    async fn insert_token(&mut self, user_id: i64, label: &str, token_digest: &str, now: Millis) -> Result<()>;
    async fn set_org_member(&mut self, namespace_id: i64, user_id: i64, role: OrgRole) -> Result<()>;
    /// Whether they were a member.
    async fn delete_org_member(&mut self, namespace_id: i64, user_id: i64) -> Result<bool>;
    /// The organization's members in name order, locked against other membership changes until
    /// the transaction ends.
    async fn org_members(&mut self, namespace_id: i64) -> Result<Vec<OrgMember>>;
    async fn set_permission(&mut self, repository_id: i64, user_id: i64, role: Role) -> Result<()>;
    async fn delete_permission(&mut self, repository_id: i64, user_id: i64) -> Result<bool>;
    async fn set_visibility(&mut self, repository_id: i64, visibility: Visibility) -> Result<()>;

    async fn blob_size(&mut self, repository_id: i64, digest: &Digest) -> Result<Option<i64>>;
    /// Records the blob (if new) and lets the repository read it.
    async fn link_blob(&mut self, repository_id: i64, digest: &Digest, size: i64, now: Millis) -> Result<()>;
    async fn unlink_blob(&mut self, repository_id: i64, digest: &Digest) -> Result<bool>;
    /// Starts an upload and returns its id.
    async fn insert_upload(&mut self, repository_id: i64, now: Millis) -> Result<String>;
    async fn delete_upload(&mut self, upload_id: &str) -> Result<bool>;

    // ---- garbage collection (see `service::gc`) ----
    /// The repository's path and its namespace's time machine window (seconds).
    async fn repository_window(&mut self, repository_id: i64) -> Result<Option<(RepoPath, i64)>>;
    /// Deletes the tag rows that ended before `cutoff` (immutable ones too unless
    /// `keep_immutable`); returns how many.
    async fn gc_tag_rows(&mut self, repository_id: i64, cutoff: Millis, keep_immutable: bool) -> Result<u64>;
    /// Manifests created before `created_before` that no tag row points at, no index in the
    /// repository lists and whose subject (if any) is not stored in the repository.
    async fn gc_manifests(&mut self, repository_id: i64, created_before: Millis) -> Result<Vec<(i64, Digest)>>;
    /// Deletes a manifest with its labels, child links and blob references.
    async fn delete_manifest(&mut self, manifest_id: i64) -> Result<()>;
    /// Deletes the repository's blob links made before `created_before` that none of its
    /// manifests uses; returns how many.
    async fn gc_blob_links(&mut self, repository_id: i64, created_before: Millis) -> Result<u64>;
    /// Blobs (digest, size) last linked before `created_before` that no repository links and no
    /// manifest uses.
    async fn gc_blobs(&mut self, created_before: Millis) -> Result<Vec<(Digest, i64)>>;
    /// Deletes the blob row if it is still unlinked, unused and old (locking it until the end of
    /// the transaction); whether it did.
    async fn gc_delete_blob(&mut self, digest: &Digest, created_before: Millis) -> Result<bool>;
    /// Deletes uploads started before `created_before`; returns their ids.
    async fn gc_uploads(&mut self, created_before: Millis) -> Result<Vec<String>>;
}
