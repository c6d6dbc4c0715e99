//! Tags: history listing, change (PUT), delete, restore, and the batch of many changes.

use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use registry::{Caller, HistoryParams, Registry, TagChange, TagChangeRequest};

use super::openapi::{RepoParams, TagParam};
use super::schema::*;
use super::{body, query, repo, status_of, tag_name, ApiError, ApiResult};

/// The body's `manifest_digest`, which restore and expire need (SPEC §5's message when missing).
fn required_digest(d: Option<String>) -> Result<String, ApiError> {
    d.ok_or_else(|| ApiError::bad_request("Missing manifest_digest"))
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v.map(str::to_ascii_lowercase).as_deref(), Some("true" | "1" | "yes"))
}

/// The repository's tag history, newest first (SPEC §2.2).
#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/tag/", operation_id = "listRepoTags", tag = "tags",
    params(RepoParams, TagListQuery),
    responses((status = 200, description = "One page of history rows", body = TagList)),
)]
pub(super) async fn list(reg: &Registry, r: &str, who: &Caller, uri: &Uri) -> ApiResult {
    let path = repo(r)?;
    let q: TagListQuery = query(uri)?;
    let params = HistoryParams {
        page: q.page,
        limit: q.limit,
        only_active: truthy(q.only_active_tags.as_deref()),
        specific_tag: q.specific_tag,
        filter: q.filter_tag_name,
        as_of: None,
        order: Default::default(),
        cursor: None,
    };
    let page = reg.tag_history(who, &path, &params).await?;
    let tags = page.items.iter().map(ApiTag::from).collect();
    Ok(Json(TagList { tags, page: page.page, has_additional: page.has_additional }).into_response())
}

/// Changes a tag: the keys given, in the order expiration, immutable, manifest_digest, all in
/// one transaction (SPEC §5).
#[utoipa::path(
    put, path = "/api/v1/repository/{namespace}/{repository}/tag/{tag}", operation_id = "changeTag", tag = "tags",
    params(RepoParams, TagParam),
    request_body = TagUpdate,
    responses(
        (status = 201, description = "Updated", body = String, content_type = "application/json", example = json!("Updated")),
        (status = 409, description = "The tag is immutable", body = TagImmutableError),
    ),
)]
pub(super) async fn put(reg: &Registry, r: &str, t: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let tag = tag_name(t)?;
    let update: TagUpdate = body(req).await?;
    let mut changes = Vec::new();
    if let Some(expiration) = update.expiration {
        changes.push(TagChange::Expiration(expiration));
    }
    if let Some(immutable) = update.immutable {
        changes.push(TagChange::Immutable(immutable));
    }
    if let Some(d) = update.manifest_digest {
        changes.push(TagChange::Move(d));
    }
    reg.update_tag(who, &path, &tag, &changes).await?;
    Ok((StatusCode::CREATED, Json("Updated")).into_response())
}

/// Ends the tag's alive row; the row stays in history (SPEC §2.4).
#[utoipa::path(
    delete, path = "/api/v1/repository/{namespace}/{repository}/tag/{tag}", operation_id = "deleteFullTag", tag = "tags",
    params(RepoParams, TagParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The tag is immutable", body = TagImmutableError),
    ),
)]
pub(super) async fn delete(reg: &Registry, r: &str, t: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    reg.delete_tag(who, &path, &tag_name(t)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Points the tag at any manifest still stored in the repository (SPEC §2.5).
#[utoipa::path(
    post, path = "/api/v1/repository/{namespace}/{repository}/tag/{tag}/restore", operation_id = "restoreTag", tag = "tags",
    params(RepoParams, TagParam),
    request_body = TagRestore,
    responses(
        (status = 200, description = "Restored", body = Empty),
        (status = 409, description = "The tag is immutable", body = TagImmutableError),
    ),
)]
pub(super) async fn restore(reg: &Registry, r: &str, t: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let tag = tag_name(t)?;
    let restore: TagRestore = body(req).await?;
    reg.update_tag(who, &path, &tag, &[TagChange::Restore(required_digest(restore.manifest_digest)?)]).await?;
    Ok(Json(Empty {}).into_response())
}

/// Permanently removes a tag's ended rows on a manifest from the time machine (Quay's
/// permanent tag deletion): no longer restorable, reclaimable by garbage collection.
/// Repository admins, and only when the server runs with `QUAYSIDE_PERMANENT_TAG_EXPIRY`.
#[utoipa::path(
    post, path = "/api/v1/repository/{namespace}/{repository}/tag/{tag}/expire", operation_id = "expireTagPermanently", tag = "tags",
    params(RepoParams, TagParam),
    request_body = TagExpire,
    responses(
        (status = 200, description = "The rows left the time machine", body = TagExpired),
        (status = 409, description = "The tag is immutable", body = TagImmutableError),
    ),
)]
pub(super) async fn expire(reg: &Registry, r: &str, t: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let tag = tag_name(t)?;
    let b: TagExpire = body(req).await?;
    let d = registry::Digest::parse(&required_digest(b.manifest_digest)?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let _ = b.include_submanifests;
    let expired_rows = reg.expire_tag_permanently(who, &path, &tag, &d, b.is_alive).await?;
    Ok(Json(TagExpired { expired_rows }).into_response())
}

/// Many tag changes in one request (not in Quay): delete, expiration, immutability, restore and
/// move, with a result per change. `all_or_nothing` stores every change or none. 200 when every
/// change succeeded, 207 when one failed (then `applied` says whether anything was stored).
#[utoipa::path(
    post, path = "/api/v1/repository/{namespace}/{repository}/tags/batch", operation_id = "batchTagChanges", tag = "tags",
    params(RepoParams),
    request_body = Batch,
    responses(
        (status = 200, description = "Every change succeeded", body = BatchResult),
        (status = 207, description = "At least one change failed; see each result", body = BatchResult),
    ),
)]
pub(super) async fn batch(reg: &Registry, r: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let batch: Batch = body(req).await?;
    let changes = batch.changes.iter().map(change_of).collect::<Result<Vec<_>, _>>()?;
    let out = reg.change_tags(who, &path, &changes, batch.all_or_nothing).await?;
    let failed = out.failures() > 0;
    let results = out
        .results
        .into_iter()
        .zip(&batch.changes)
        .map(|(r, c)| BatchItemResult {
            tag: r.tag,
            action: c.action,
            status: r.error.as_ref().map_or(200, |e| status_of(e).as_u16()),
            message: r.error.map(|e| e.to_string()),
        })
        .collect();
    let status = if failed { StatusCode::MULTI_STATUS } else { StatusCode::OK };
    Ok((status, Json(BatchResult { applied: out.applied, results })).into_response())
}

/// A batch entry as a domain change; the key its action needs must be there.
fn change_of(c: &BatchChange) -> Result<TagChangeRequest, ApiError> {
    let missing = |key: &str| ApiError::bad_request(format!("Missing {key} for {} of tag '{}'", action_name(c.action), c.tag));
    let change = match c.action {
        BatchAction::Delete => TagChange::Delete,
        BatchAction::SetExpiration => TagChange::Expiration(c.expiration.ok_or_else(|| missing("expiration"))?),
        BatchAction::SetImmutable => TagChange::Immutable(c.immutable.ok_or_else(|| missing("immutable"))?),
        BatchAction::Restore => TagChange::Restore(c.manifest_digest.clone().ok_or_else(|| missing("manifest_digest"))?),
        BatchAction::Move => TagChange::Move(c.manifest_digest.clone().ok_or_else(|| missing("manifest_digest"))?),
    };
    Ok(TagChangeRequest::new(c.tag.clone(), change))
}

fn action_name(a: BatchAction) -> String {
    serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
