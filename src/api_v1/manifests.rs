//! Manifests and their labels (SPEC §3).

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use registry::{Caller, Registry};
use serde::Deserialize;

use super::openapi::{DigestParam, LabelParam, RepoParams};
use super::schema::*;
use super::{body, digest, query, repo, ApiResult};

/// The descriptors a manifest lists as `layers`, as far as they are well-formed.
#[derive(Deserialize)]
struct Layers {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    size: Option<i64>,
    digest: Option<String>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

/// A manifest's facts and its bytes.
#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/manifest/{digest}", operation_id = "getRepoManifest", tag = "manifests",
    params(RepoParams, DigestParam),
    responses((status = 200, description = "The manifest", body = ManifestInfo)),
)]
pub(super) async fn get(reg: &Registry, r: &str, d: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    let (m, bytes) = reg.manifest(who, &path, &digest(d)?).await?;
    let layers = (!m.is_index()).then(|| {
        let parsed: Layers = serde_json::from_slice(&bytes).unwrap_or(Layers { layers: vec![] });
        parsed
            .layers
            .into_iter()
            .enumerate()
            .map(|(index, l)| ManifestLayer { index, compressed_size: l.size, blob_digest: l.digest, media_type: l.media_type })
            .collect()
    });
    Ok(Json(ManifestInfo {
        digest: m.digest.to_string(),
        media_type: m.media_type.clone(),
        is_manifest_list: m.is_index(),
        manifest_data: String::from_utf8_lossy(&bytes).into_owned(),
        config_media_type: m.config_media_type.clone(),
        layers_compressed_size: m.layers_compressed_size,
        layers,
    })
    .into_response())
}

/// The manifest's labels, optionally those whose key starts with `filter`.
#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/manifest/{digest}/labels", operation_id = "listManifestLabels", tag = "manifests",
    params(RepoParams, DigestParam, LabelQuery),
    responses((status = 200, description = "The labels", body = LabelList)),
)]
pub(super) async fn list_labels(reg: &Registry, r: &str, d: &str, who: &Caller, uri: &Uri) -> ApiResult {
    let path = repo(r)?;
    let q: LabelQuery = query(uri)?;
    let labels = reg.labels(who, &path, &digest(d)?, q.filter.as_deref()).await?;
    Ok(Json(LabelList { labels: labels.iter().map(ApiLabel::from).collect() }).into_response())
}

/// Adds an `api` label (SPEC §3: key rules, reserved prefixes, media types).
#[utoipa::path(
    post, path = "/api/v1/repository/{namespace}/{repository}/manifest/{digest}/labels", operation_id = "addManifestLabel", tag = "manifests",
    params(RepoParams, DigestParam),
    request_body = NewLabel,
    responses((status = 201, description = "Added; `Location` names the new label", body = LabelCreated,
        headers(("Location" = String, description = "The label's URL")))),
)]
pub(super) async fn add_label(reg: &Registry, r: &str, d: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let digest = digest(d)?;
    let new: NewLabel = body(req).await?;
    let label = reg.add_label(who, &path, &digest, &new.key, &new.value, new.media_type.as_deref()).await?;
    let location = format!("/api/v1/repository/{path}/manifest/{digest}/labels/{}", label.id);
    let mut resp = (StatusCode::CREATED, Json(LabelCreated { label: ApiLabel::from(&label) })).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/manifest/{digest}/labels/{label_id}", operation_id = "getManifestLabel", tag = "manifests",
    params(RepoParams, DigestParam, LabelParam),
    responses((status = 200, description = "The label", body = ApiLabel)),
)]
pub(super) async fn get_label(reg: &Registry, r: &str, d: &str, id: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    let label = reg.label(who, &path, &digest(d)?, id).await?;
    Ok(Json(ApiLabel::from(&label)).into_response())
}

/// Deletes an `api` label (`manifest` and `internal` labels are a 400).
#[utoipa::path(
    delete, path = "/api/v1/repository/{namespace}/{repository}/manifest/{digest}/labels/{label_id}", operation_id = "deleteManifestLabel", tag = "manifests",
    params(RepoParams, DigestParam, LabelParam),
    responses((status = 204, description = "Deleted")),
)]
pub(super) async fn delete_label(reg: &Registry, r: &str, d: &str, id: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    reg.delete_label(who, &path, &digest(d)?, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
