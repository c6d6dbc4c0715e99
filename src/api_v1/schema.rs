//! The JSON `/api/v1` reads and writes: Quay's shapes (SPEC §5) as types. The handlers build
//! and parse exactly these, and the OpenAPI document is generated from them, so the document
//! cannot drift from what the server sends.

use std::collections::BTreeMap;

use chrono::DateTime;
use registry::{AuditEntry, Label, Millis, OrgMember, Permission, RepositorySummary, TagView, Visibility};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Quay's date format: RFC 2822 with a `-0000` zone.
pub fn rfc2822(ms: Millis) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.format("%a, %d %b %Y %H:%M:%S -0000").to_string()).unwrap_or_default()
}

// ---- errors ---------------------------------------------------------------------------------

/// Every refusal but a 409: what went wrong, in words.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "Tag 'v9' not found")]
    pub message: String,
}

/// A 409: the change would alter an immutable tag.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TagImmutableError {
    #[schema(example = 409)]
    pub status: u16,
    #[schema(example = "tag_immutable")]
    pub error_type: String,
    pub title: String,
    pub detail: String,
    pub error_message: String,
    #[schema(example = "Cannot delete immutable tag 'v1'")]
    pub message: String,
}

// ---- repositories ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RepositoryItem {
    pub namespace: String,
    pub name: String,
    pub is_public: bool,
    /// `NORMAL`, `READ_ONLY` or `MIRROR`.
    pub state: String,
    pub tag_count: i64,
    /// Unix seconds.
    pub last_modified: i64,
}

impl From<&RepositorySummary> for RepositoryItem {
    fn from(r: &RepositorySummary) -> Self {
        Self {
            namespace: r.path.namespace.to_string(),
            name: r.path.name.to_string(),
            is_public: r.visibility == Visibility::Public,
            state: r.state.as_str().to_uppercase(),
            tag_count: r.tag_count,
            last_modified: r.last_modified_ms / 1000,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepositoryList {
    pub repositories: Vec<RepositoryItem>,
    pub has_additional: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepositoryListQuery {
    /// Only this namespace's repositories.
    pub namespace: Option<String>,
    /// 1-based (100 repositories a page).
    #[param(minimum = 1)]
    pub page: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepositoryInfo {
    pub namespace: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    /// `NORMAL`, `READ_ONLY` or `MIRROR`.
    pub state: String,
    pub has_tags: bool,
    /// Alive tags.
    pub tag_count: i64,
    /// Unix seconds.
    pub last_modified: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRepository {
    #[schema(example = "acme")]
    pub namespace: String,
    #[schema(example = "web")]
    pub repository: String,
    /// `public` or `private`.
    #[schema(example = "private")]
    pub visibility: String,
    #[serde(default)]
    pub description: String,
    /// Quay sends `"image"`; no other kind is supported.
    #[serde(default)]
    pub repo_kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepositoryCreated {
    pub namespace: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    #[schema(example = "platform")]
    pub name: String,
    /// Accepted for Quay compatibility; not stored.
    #[serde(default)]
    pub email: Option<String>,
}

/// A member of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgMemberItem {
    #[schema(example = "alice")]
    pub name: String,
    /// Always `user`.
    pub kind: String,
    /// `admin` or `member`.
    #[schema(example = "member")]
    pub role: String,
}

impl From<&OrgMember> for OrgMemberItem {
    fn from(m: &OrgMember) -> Self {
        Self { name: m.user.clone(), kind: "user".into(), role: m.role.as_str().into() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgMemberList {
    pub members: Vec<OrgMemberItem>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgRoleChange {
    /// `admin` or `member`.
    #[schema(example = "member")]
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisibilityChange {
    /// `public` or `private`.
    #[schema(example = "public")]
    pub visibility: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// `NORMAL`, `READ_ONLY` or `MIRROR`.
    #[schema(example = "READ_ONLY")]
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

// ---- permissions ----------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPermission {
    pub name: String,
    /// `read`, `write` or `admin`.
    pub role: String,
    pub is_robot: bool,
}

impl From<&Permission> for UserPermission {
    fn from(p: &Permission) -> Self {
        Self { name: p.user.clone(), role: p.role.as_str().to_owned(), is_robot: false }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionList {
    /// By user name.
    pub permissions: BTreeMap<String, UserPermission>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `read`, `write` or `admin`.
    #[schema(example = "write")]
    pub role: String,
}

// ---- tags -----------------------------------------------------------------------------------

/// One row of a tag's history (SPEC §2.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTag {
    pub name: String,
    /// This row was made by a restore.
    pub reversion: bool,
    pub immutable: bool,
    /// Unix seconds.
    pub start_ts: i64,
    /// Unix seconds; absent while the tag has no end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ts: Option<i64>,
    pub manifest_digest: String,
    pub is_manifest_list: bool,
    /// Compressed size of the layers; null for an index.
    pub size: Option<i64>,
    /// RFC 2822.
    pub last_modified: String,
    /// RFC 2822; absent while the tag has no end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

impl From<&TagView> for ApiTag {
    fn from(v: &TagView) -> Self {
        let t = &v.tag;
        Self {
            name: t.name.clone(),
            reversion: t.reversion,
            immutable: t.immutable,
            start_ts: t.lifetime_start_ms / 1000,
            end_ts: t.lifetime_end_ms.map(|e| e / 1000),
            manifest_digest: t.manifest_digest.to_string(),
            is_manifest_list: v.is_manifest_list,
            size: v.size,
            last_modified: rfc2822(t.lifetime_start_ms),
            expiration: t.lifetime_end_ms.map(rfc2822),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<ApiTag>,
    pub page: u32,
    pub has_additional: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct TagListQuery {
    /// 1-based; 0 and below read as 1.
    pub page: Option<i64>,
    /// 1 to 100 (default 50); out-of-range values are clamped.
    pub limit: Option<i64>,
    /// `true` lists only alive tags.
    pub only_active_tags: Option<String>,
    /// Only rows of this exact tag name.
    pub specific_tag: Option<String>,
    /// `like:TEXT` (case-insensitive substring) or `eq:NAME` (exact).
    #[serde(rename = "filter_tag_name")]
    #[param(rename = "filter_tag_name", example = "like:v1")]
    pub filter_tag_name: Option<String>,
}

/// `PUT .../tag/{tag}`: the keys given are applied in the order expiration, immutable,
/// manifest_digest, in one transaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagUpdate {
    /// Create or move the tag to this (available) manifest.
    pub manifest_digest: Option<String>,
    /// Unix seconds, or null to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub expiration: Option<Option<i64>>,
    pub immutable: Option<bool>,
}

/// Tells `"key": null` (clear) from a missing key (leave alone).
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRestore {
    /// Any manifest still stored in the repository.
    pub manifest_digest: Option<String>,
}

/// `POST .../tag/{tag}/expire`: takes the tag's ended rows on a manifest out of the time
/// machine (when the operator allows it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagExpire {
    pub manifest_digest: Option<String>,
    /// Also delete the tag first when it is alive on that manifest.
    #[serde(default)]
    pub is_alive: bool,
    /// Accepted for Quay compatibility; an index's children are reclaimed with it.
    #[serde(default)]
    pub include_submanifests: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagExpired {
    /// How many history rows left the time machine.
    pub expired_rows: u64,
}

/// The empty object Quay answers a restore with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

/// What a batch change does.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchAction {
    /// End the alive row.
    Delete,
    /// Set (`expiration`, Unix seconds) or clear (`expiration: null`) the expiration.
    SetExpiration,
    /// Lock (`immutable: true`, needs write) or unlock (`false`, needs admin).
    SetImmutable,
    /// Point the tag at `manifest_digest`, any manifest still stored.
    Restore,
    /// Point the tag at `manifest_digest`, an available manifest.
    Move,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchChange {
    #[schema(example = "v1")]
    pub tag: String,
    pub action: BatchAction,
    /// For `set_expiration`: Unix seconds, or null to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub expiration: Option<Option<i64>>,
    /// For `set_immutable`.
    pub immutable: Option<bool>,
    /// For `restore` and `move`.
    pub manifest_digest: Option<String>,
}

/// `POST .../tags/batch`: many tag changes in one request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// At most 1000, applied in order.
    pub changes: Vec<BatchChange>,
    /// Store every change or none (one transaction); otherwise each on its own.
    #[serde(default)]
    pub all_or_nothing: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    pub tag: String,
    pub action: BatchAction,
    /// The status this change alone would have had (200 when it succeeded).
    pub status: u16,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// All-or-nothing: every change is stored (or none, when false). Otherwise: at least one is.
    pub applied: bool,
    pub results: Vec<BatchItemResult>,
}

// ---- manifests and labels -------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestLayer {
    pub index: usize,
    pub compressed_size: Option<i64>,
    pub blob_digest: Option<String>,
    pub media_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestInfo {
    pub digest: String,
    pub media_type: String,
    pub is_manifest_list: bool,
    /// The manifest's bytes, as pushed.
    pub manifest_data: String,
    pub config_media_type: Option<String>,
    pub layers_compressed_size: Option<i64>,
    /// Null for an index.
    pub layers: Option<Vec<ManifestLayer>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiLabel {
    pub id: String,
    pub key: String,
    pub value: String,
    /// `manifest`, `api` or `internal`.
    pub source_type: String,
    /// `text/plain` or `application/json`.
    pub media_type: String,
}

impl From<&Label> for ApiLabel {
    fn from(l: &Label) -> Self {
        Self {
            id: l.id.clone(),
            key: l.key.clone(),
            value: l.value.clone(),
            source_type: l.source_type.as_str().to_owned(),
            media_type: l.media_type.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelList {
    pub labels: Vec<ApiLabel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelCreated {
    pub label: ApiLabel,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelQuery {
    /// Case-insensitive key prefix.
    pub filter: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabel {
    #[schema(example = "git-sha")]
    pub key: String,
    #[schema(example = "0f3c2a1")]
    pub value: String,
    /// `text/plain` or `application/json`; guessed from the value when absent.
    pub media_type: Option<String>,
}

// ---- audit logs -----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// 1-based.
    pub page: Option<u32>,
    /// 1 to 1000.
    pub limit: Option<u32>,
    /// Exact action (`create_tag`, `delete_tag`, …).
    pub action: Option<String>,
    /// Exact user name.
    pub performer: Option<String>,
    /// Unix seconds or `YYYY-MM-DD` (UTC, from the start of that day).
    pub starttime: Option<String>,
    /// Unix seconds or `YYYY-MM-DD` (UTC, to the end of that day).
    pub endtime: Option<String>,
    /// `json` (one page, the default), or `csv` / `ndjson` (every matching record, a download).
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Performer {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    /// The action.
    pub kind: String,
    /// The action's data (tag, digests, old and new values…).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub ip: Option<String>,
    /// RFC 2822.
    pub datetime: String,
    pub performer: Performer,
}

impl From<&AuditEntry> for LogEntry {
    fn from(e: &AuditEntry) -> Self {
        Self {
            kind: e.action.clone(),
            metadata: e.data.clone(),
            ip: e.address.clone(),
            datetime: rfc2822(e.created_ms),
            performer: Performer { kind: "user".into(), name: e.actor.clone() },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    pub logs: Vec<LogEntry>,
    pub page: u32,
    pub has_additional: bool,
}
