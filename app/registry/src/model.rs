//! The registry's entities (SPEC §1) as plain data.

use serde::{Deserialize, Serialize};

use crate::names::{Digest, NamespaceName, RepoPath};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 24 * HOUR_MS;
pub const WEEK_MS: Millis = 7 * DAY_MS;

/// The time machine windows an operator may choose (SPEC §1), in seconds.
pub const TIME_MACHINE_CHOICES_S: [i64; 5] = [0, 86_400, 7 * 86_400, 14 * 86_400, 28 * 86_400];
pub const DEFAULT_TIME_MACHINE_S: i64 = 14 * 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: i64,
    pub name: NamespaceName,
    pub time_machine_s: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "private" => Some(Self::Private),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoState {
    Normal,
    ReadOnly,
    Mirror,
}

impl RepoState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ReadOnly => "read_only",
            Self::Mirror => "mirror",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "normal" => Some(Self::Normal),
            "read_only" => Some(Self::ReadOnly),
            "mirror" => Some(Self::Mirror),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub id: i64,
    pub namespace_id: i64,
    pub path: RepoPath,
    pub visibility: Visibility,
    pub state: RepoState,
    pub description: String,
    /// Changes whenever a tag row of the repository changes (for caching listings).
    pub tag_version: i64,
    /// Its namespace's time machine window in seconds (SPEC §1), read with the repository.
    pub time_machine_s: i64,
}

/// A row of the repository list: the repository and what the list page shows about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySummary {
    pub path: RepoPath,
    pub visibility: Visibility,
    pub state: RepoState,
    pub tag_count: i64,
    /// Start of the newest tag row, or the repository's creation.
    pub last_modified_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: i64,
    pub repository_id: i64,
    pub digest: Digest,
    pub media_type: String,
    pub config_media_type: Option<String>,
    /// Sum of the layers' sizes; `None` for an index.
    pub layers_compressed_size: Option<i64>,
    pub created_ms: Millis,
    /// The manifest this one refers to (OCI `subject`), for the referrers API.
    pub subject_digest: Option<Digest>,
    pub artifact_type: Option<String>,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        self.layers_compressed_size.is_none()
    }
}

/// What a caller hands the service to store a manifest: parsed, with its digest computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewManifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub config_media_type: Option<String>,
    pub layers_compressed_size: Option<i64>,
    /// For an index: the child manifests (already stored in the repository).
    pub children: Vec<Digest>,
    /// For an image: its config and layer blobs (already uploaded to the repository).
    pub blobs: Vec<Digest>,
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    /// The `Labels` of the image config, stored with source `manifest`.
    pub config_labels: Vec<(String, String)>,
}

/// One lifetime of a tag (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub id: i64,
    pub repository_id: i64,
    pub name: String,
    pub manifest_id: i64,
    pub manifest_digest: Digest,
    pub lifetime_start_ms: Millis,
    pub lifetime_end_ms: Option<Millis>,
    pub reversion: bool,
    pub immutable: bool,
    pub hidden: bool,
    /// The end is an expiration (set through the API or by an `expires-after` label), not a
    /// delete or a move: once passed, the history reads it as "expired".
    #[serde(default)]
    pub expiring: bool,
}

impl Tag {
    pub fn is_alive(&self, now: Millis) -> bool {
        !self.hidden && self.lifetime_end_ms.is_none_or(|end| end > now)
    }

    /// Until when this row can be restored once it has ended: its end plus the namespace's time
    /// machine window; older rows are unrecoverable (SPEC §2.10). `None` for a row without end.
    pub fn restorable_until(&self, time_machine_s: i64) -> Option<Millis> {
        self.lifetime_end_ms.map(|end| end.saturating_add(time_machine_s.saturating_mul(1000)))
    }
}

/// A tag row with the manifest facts the lists show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagView {
    pub tag: Tag,
    pub manifest_media_type: String,
    pub is_manifest_list: bool,
    pub size: Option<i64>,
}

/// One platform of an image index: its `os/architecture[/variant]`, the child manifest and that
/// manifest's size (`None` when it is not stored here, or is itself an index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformEntry {
    pub platform: String,
    pub digest: Digest,
    pub size: Option<i64>,
}

/// A history row and what it means: its events, newest first (SPEC §2.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub view: TagView,
    pub events: Vec<crate::rules::HistoryEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSource {
    Manifest,
    Api,
    Internal,
}

impl LabelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manifest => "manifest",
            Self::Api => "api",
            Self::Internal => "internal",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manifest" => Some(Self::Manifest),
            "api" => Some(Self::Api),
            "internal" => Some(Self::Internal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub id: String,
    pub key: String,
    pub value: String,
    pub media_type: String,
    pub source_type: LabelSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLabel {
    pub manifest_id: i64,
    pub key: String,
    pub value: String,
    pub media_type: String,
    pub source_type: LabelSource,
}

/// A tag immutability policy (SPEC §2.9) of a namespace, or of one repository when `repository_id` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmutabilityPolicy {
    pub id: String,
    pub namespace_id: i64,
    pub repository_id: Option<i64>,
    pub pattern: String,
    /// `true`: names that match are immutable; `false`: names that do not match are.
    pub matches_immutable: bool,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub namespace_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub data: serde_json::Value,
    pub created_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    pub namespace_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub actor: String,
    pub address: Option<String>,
    pub action: &'static str,
    pub data: serde_json::Value,
    pub created_ms: Millis,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub has_additional: bool,
}

/// Who acts. Passed to every service call; roles are decided by the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    Anonymous,
    /// The server acting for its operator (CLI commands, demo seeding): every right.
    System,
    /// A signed-in user.
    User(Account),
}

impl Principal {
    pub fn actor_name(&self) -> String {
        match self {
            Self::Anonymous => "(anonymous)".into(),
            Self::System => "(system)".into(),
            Self::User(a) => a.name.clone(),
        }
    }

    pub fn account(&self) -> Option<&Account> {
        match self {
            Self::User(a) => Some(a),
            _ => None,
        }
    }

    /// Superusers and the system: admin everywhere (SPEC §4).
    pub fn is_superuser(&self) -> bool {
        match self {
            Self::System => true,
            Self::User(a) => a.superuser,
            Self::Anonymous => false,
        }
    }
}

/// A user account as the rest of the system sees it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub superuser: bool,
}

/// An account with its stored password hash, for sign-in only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub account: Account,
    pub password_hash: String,
}

/// A user's role on a repository, granted directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub user: String,
    pub role: Role,
}

/// A member of an organization and their role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgMember {
    pub user: String,
    pub role: OrgRole,
}

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    /// Admin of every repository of the organization.
    Admin,
    /// Reads every repository of the organization.
    Member,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
    /// The repository role membership gives.
    pub fn repository_role(self) -> Role {
        match self {
            Self::Admin => Role::Admin,
            Self::Member => Role::Read,
        }
    }
}

/// A role on a repository (SPEC §4): read < write < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}
