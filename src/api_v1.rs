//! `/api/v1/`: the Quay-compatible REST API for repositories, tags, manifests and labels — the
//! same paths and JSON shapes as Quay (shared/SPEC.md §5), a thin adapter over the service.
//! Repository names may contain `/`, so one catch-all route splits the path at the known markers.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Extension;
use axum::{Json, Router};
use chrono::DateTime;
use registry::{Caller, Digest, Error, HistoryParams, Label, Millis, Registry, RepoPath, TagName, TagView, Visibility};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;

use crate::auth::{Auth, SESSION_USER};
use crate::startup::{client_address, AppState};

/// Request bodies above this are refused (413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/repository", get(list_repositories).post(create_repository))
        .route("/api/v1/organization", post(create_organization))
        .route("/api/v1/organization/", post(create_organization))
        .route("/api/v1/organization/{ns}/logs", get(namespace_logs))
        .route("/api/v1/repository/{*rest}", any(dispatch))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// An error as Quay answers it: `{"message"}`, and for 409 the `tag_immutable` body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    tag_immutable: bool,
}

#[allow(non_snake_case)]
fn ApiError(status: StatusCode, message: String) -> ApiError {
    ApiError { status, message, tag_immutable: false }
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }
}

/// The HTTP status of a domain error (SPEC §5), for every JSON surface.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(_) | Error::BlobUnknown(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) | Error::RepositoryNotFound(_) => StatusCode::NOT_FOUND,
        Error::TagImmutable(_) | Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Unauthorized | Error::BadCredentials => StatusCode::UNAUTHORIZED,
        Error::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::ReadOnly => StatusCode::SERVICE_UNAVAILABLE,
        Error::Storage => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self { status: status_of(&e), tag_immutable: matches!(e, Error::TagImmutable(_)), message: e.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.message;
        let body = if self.tag_immutable {
            json!({
                "status": 409,
                "error_type": "tag_immutable",
                "title": "tag_immutable",
                "detail": message,
                "error_message": message,
                "message": message,
            })
        } else {
            json!({ "message": message })
        };
        (self.status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// Quay's date format: RFC 2822 with a `-0000` zone.
fn rfc2822(ms: Millis) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.format("%a, %d %b %Y %H:%M:%S -0000").to_string()).unwrap_or_default()
}

fn tag_json(v: &TagView) -> Value {
    let t = &v.tag;
    let mut j = json!({
        "name": t.name,
        "reversion": t.reversion,
        "immutable": t.immutable,
        "start_ts": t.lifetime_start_ms / 1000,
        "manifest_digest": t.manifest_digest,
        "is_manifest_list": v.is_manifest_list,
        "size": v.size,
        "last_modified": rfc2822(t.lifetime_start_ms),
    });
    if let Some(end) = t.lifetime_end_ms {
        j["end_ts"] = json!(end / 1000);
        j["expiration"] = json!(rfc2822(end));
    }
    j
}

fn label_json(l: &Label) -> Value {
    json!({ "id": l.id, "key": l.key, "value": l.value, "source_type": l.source_type.as_str(), "media_type": l.media_type })
}

/// The caller: `Authorization` (Basic with a password or token, Bearer token) or the session.
fn caller(auth: &Auth, req: &Request) -> impl std::future::Future<Output = Result<Caller, ApiError>> + Send + 'static {
    // Owned copies: a request body is not `Sync`, so no borrow of `req` may cross an await.
    let (auth, headers, session, address) =
        (auth.clone(), req.headers().clone(), req.extensions().get::<Session>().cloned(), client_address(req));
    async move { caller_of(&auth, &headers, session, address).await }
}

/// The caller of a handler that takes its parts as extractors.
async fn caller_of(auth: &Auth, headers: &HeaderMap, session: Option<Session>, address: Option<String>) -> Result<Caller, ApiError> {
    let user = match session {
        Some(s) => s.get::<i64>(SESSION_USER).await.ok().flatten(),
        None => None,
    };
    Ok(auth.caller(headers, user, address).await?)
}

/// What `/api/v1/repository/<rest>` names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Repository(&'a str),
    Tags(&'a str),
    Tag(&'a str, &'a str),
    TagRestore(&'a str, &'a str),
    Manifest(&'a str, &'a str),
    Labels(&'a str, &'a str),
    Label(&'a str, &'a str, &'a str),
    Permissions(&'a str),
    Permission(&'a str, &'a str),
    Visibility(&'a str),
    State(&'a str),
    Logs(&'a str),
}

fn target(rest: &str) -> Option<Target<'_>> {
    if let Some(repo) = rest.strip_suffix("/changevisibility") {
        return Some(Target::Visibility(repo));
    }
    if let Some(repo) = rest.strip_suffix("/changestate") {
        return Some(Target::State(repo));
    }
    if let Some(repo) = rest.strip_suffix("/logs") {
        return Some(Target::Logs(repo));
    }
    if let Some(repo) = rest.strip_suffix("/permissions/user/").or_else(|| rest.strip_suffix("/permissions/user")) {
        return Some(Target::Permissions(repo));
    }
    if let Some(i) = rest.rfind("/permissions/user/") {
        let (repo, user) = (&rest[..i], &rest[i + 18..]);
        return (!user.contains('/')).then_some(Target::Permission(repo, user));
    }
    if let Some(repo) = rest.strip_suffix("/tag/").or_else(|| rest.strip_suffix("/tag")) {
        return Some(Target::Tags(repo));
    }
    if let Some(i) = rest.rfind("/tag/") {
        let (repo, tail) = (&rest[..i], &rest[i + 5..]);
        return match tail.split('/').collect::<Vec<_>>()[..] {
            [tag] => Some(Target::Tag(repo, tag)),
            [tag, "restore"] => Some(Target::TagRestore(repo, tag)),
            _ => None,
        };
    }
    if let Some(i) = rest.rfind("/manifest/") {
        let (repo, tail) = (&rest[..i], &rest[i + 10..]);
        return match tail.split('/').collect::<Vec<_>>()[..] {
            [digest] => Some(Target::Manifest(repo, digest)),
            [digest, "labels"] | [digest, "labels", ""] => Some(Target::Labels(repo, digest)),
            [digest, "labels", id] => Some(Target::Label(repo, digest, id)),
            _ => None,
        };
    }
    (!rest.is_empty()).then_some(Target::Repository(rest.trim_end_matches('/')))
}

fn repo(name: &str) -> Result<RepoPath, ApiError> {
    RepoPath::parse(name).map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))
}

fn tag_name(s: &str) -> Result<TagName, ApiError> {
    TagName::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))
}

/// A JSON body of type `T`: missing, malformed, wrong types or unknown fields are a 400.
async fn body<T: DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError(StatusCode::PAYLOAD_TOO_LARGE, format!("Request body is larger than {MAX_BODY_BYTES} bytes")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Missing request body"));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagQuery {
    page: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    only_active_tags: Option<String>,
    specific_tag: Option<String>,
    #[serde(rename = "filter_tag_name")]
    filter_tag_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LabelQuery {
    filter: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagChange {
    manifest_digest: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expiration: Option<Option<i64>>,
    immutable: Option<bool>,
}

/// Tells `"expiration": null` (clear) from a missing key (leave alone).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Restore {
    manifest_digest: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLabelBody {
    key: String,
    value: String,
    media_type: Option<String>,
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v.map(str::to_ascii_lowercase).as_deref(), Some("true" | "1" | "yes"))
}

async fn list_repositories(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<Session>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Query(q): Query<RepoListQuery>,
) -> ApiResult {
    let who = caller_of(&state.auth, &headers, session.map(|s| s.0), connect.map(|c| c.0 .0.ip().to_string())).await?;
    let query =
        registry::store::RepositoryQuery { namespace: q.namespace, page: q.page.unwrap_or(1).max(1), limit: 100, ..Default::default() };
    let page = state.registry.list_repositories(&who, query).await?;
    let repositories: Vec<_> = page
        .items
        .iter()
        .map(|r| {
            json!({
                "namespace": r.path.namespace, "name": r.path.name, "is_public": r.visibility == Visibility::Public,
                "state": r.state.as_str().to_uppercase(), "tag_count": r.tag_count, "last_modified": r.last_modified_ms / 1000,
            })
        })
        .collect();
    Ok(Json(json!({ "repositories": repositories, "has_additional": page.has_additional })).into_response())
}

#[derive(Debug, Deserialize)]
struct RepoListQuery {
    namespace: Option<String>,
    page: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRepository {
    namespace: String,
    repository: String,
    visibility: String,
    #[serde(default)]
    description: String,
    /// Quay sends `"image"`; nothing else is stored here.
    #[serde(default)]
    repo_kind: Option<String>,
}

fn visibility(s: &str) -> Result<Visibility, ApiError> {
    Visibility::parse(s).ok_or_else(|| ApiError::bad_request(format!("Invalid visibility: {s} (expected public or private)")))
}

/// `POST /api/v1/repository`: creates a repository in a namespace the caller may write.
async fn create_repository(State(state): State<AppState>, req: Request) -> ApiResult {
    let who = caller(&state.auth, &req).await?;
    let new: NewRepository = body(req).await?;
    if new.repo_kind.as_deref().is_some_and(|k| k != "image") {
        return Err(ApiError::bad_request("Only image repositories are supported"));
    }
    let path = RepoPath::parse(&format!("{}/{}", new.namespace, new.repository)).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let repo = state.registry.create_repository(&who, &path, visibility(&new.visibility)?, &new.description).await?;
    let body = json!({ "namespace": repo.path.namespace, "name": repo.path.name, "kind": "image" });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganization {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

/// `POST /api/v1/organization/`: the signed-in creator becomes the organization's admin.
async fn create_organization(State(state): State<AppState>, req: Request) -> ApiResult {
    let who = caller(&state.auth, &req).await?;
    let new: NewOrganization = body(req).await?;
    let _ = new.email;
    state.registry.create_organization(&who, &new.name).await?;
    Ok((StatusCode::CREATED, Json(json!("Created"))).into_response())
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let rest = req.uri().path().trim_start_matches("/api/v1/repository/").to_owned();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let who = match caller(&state.auth, &req).await {
        Ok(who) => who,
        Err(e) => return e.into_response(),
    };
    let who = &who;
    let reg = &state.registry;
    let result = match (target(&rest), &method) {
        (Some(Target::Repository(r)), &Method::GET) => get_repository(reg, r, who).await,
        (Some(Target::Tags(r)), &Method::GET) => list_tags(reg, r, who, &uri).await,
        (Some(Target::Tag(r, t)), &Method::PUT) => put_tag(reg, r, t, who, req).await,
        (Some(Target::Tag(r, t)), &Method::DELETE) => delete_tag(reg, r, t, who).await,
        (Some(Target::TagRestore(r, t)), &Method::POST) => restore_tag(reg, r, t, who, req).await,
        (Some(Target::Manifest(r, d)), &Method::GET) => get_manifest(reg, r, d, who).await,
        (Some(Target::Labels(r, d)), &Method::GET) => list_labels(reg, r, d, who, &uri).await,
        (Some(Target::Labels(r, d)), &Method::POST) => add_label(reg, r, d, who, req).await,
        (Some(Target::Label(r, d, id)), &Method::GET) => get_label(reg, r, d, id, who).await,
        (Some(Target::Label(r, d, id)), &Method::DELETE) => delete_label(reg, r, d, id, who).await,
        (Some(Target::Permissions(r)), &Method::GET) => list_permissions(reg, r, who).await,
        (Some(Target::Permission(r, u)), &Method::GET) => get_permission(reg, r, u, who).await,
        (Some(Target::Permission(r, u)), &Method::PUT) => put_permission(reg, r, u, who, req).await,
        (Some(Target::Permission(r, u)), &Method::DELETE) => delete_permission(reg, r, u, who).await,
        (Some(Target::Visibility(r)), &Method::POST) => change_visibility(reg, r, who, req).await,
        (Some(Target::State(r)), &Method::PUT) => change_state(reg, r, who, req).await,
        (Some(Target::Logs(r)), &Method::GET) => repository_logs(reg, r, who, &uri).await,
        (Some(_), _) => Err(ApiError(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))),
        (None, _) => Err(ApiError(StatusCode::NOT_FOUND, "Not found".into())),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn get_repository(reg: &Registry, r: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    let repo = reg.repository(who, &path).await?;
    let active = reg.tag_history(who, &path, &HistoryParams { only_active: true, limit: Some(1), ..Default::default() }).await?;
    Ok(Json(json!({
        "namespace": repo.path.namespace, "name": repo.path.name, "description": repo.description,
        "is_public": repo.visibility == Visibility::Public, "state": repo.state.as_str().to_uppercase(),
        "has_tags": !active.items.is_empty(),
    }))
    .into_response())
}

async fn list_tags(reg: &Registry, r: &str, who: &Caller, uri: &Uri) -> ApiResult {
    let path = repo(r)?;
    let Query(q) = Query::<TagQuery>::try_from_uri(uri).map_err(|e| ApiError::bad_request(format!("Invalid query: {e}")))?;
    let params = HistoryParams {
        page: q.page,
        limit: q.limit,
        only_active: truthy(q.only_active_tags.as_deref()),
        specific_tag: q.specific_tag,
        filter: q.filter_tag_name,
    };
    let page = reg.tag_history(who, &path, &params).await?;
    let tags: Vec<_> = page.items.iter().map(tag_json).collect();
    Ok(Json(json!({ "tags": tags, "page": page.page, "has_additional": page.has_additional })).into_response())
}

async fn put_tag(reg: &Registry, r: &str, t: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let tag = tag_name(t)?;
    let change: TagChange = body(req).await?;
    // SPEC §5: expiration, then immutable, then manifest_digest.
    if let Some(expiration) = change.expiration {
        reg.set_expiration(who, &path, &tag, expiration).await?;
    }
    if let Some(immutable) = change.immutable {
        reg.set_immutable(who, &path, &tag, immutable).await?;
    }
    if let Some(d) = change.manifest_digest {
        let d = Digest::parse(&d).map_err(|e| ApiError::bad_request(e.to_string()))?;
        reg.set_tag(who, &path, &tag, &d).await?;
    }
    Ok((StatusCode::CREATED, Json(json!("Updated"))).into_response())
}

async fn delete_tag(reg: &Registry, r: &str, t: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    reg.delete_tag(who, &path, &tag_name(t)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restore_tag(reg: &Registry, r: &str, t: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let tag = tag_name(t)?;
    let restore: Restore = body(req).await?;
    let d = restore.manifest_digest.ok_or_else(|| ApiError::bad_request("Missing manifest_digest"))?;
    let d = Digest::parse(&d).map_err(|e| ApiError::bad_request(e.to_string()))?;
    reg.restore_tag(who, &path, &tag, &d).await?;
    Ok(Json(json!({})).into_response())
}

async fn get_manifest(reg: &Registry, r: &str, d: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    let (m, bytes) = reg.manifest(who, &path, &digest(d)?).await?;
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let layers: Vec<_> = parsed["layers"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .enumerate()
                .map(|(i, l)| json!({ "index": i, "compressed_size": l["size"], "blob_digest": l["digest"], "media_type": l["mediaType"] }))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "digest": m.digest,
        "media_type": m.media_type,
        "is_manifest_list": m.is_index(),
        "manifest_data": String::from_utf8_lossy(&bytes),
        "config_media_type": m.config_media_type,
        "layers_compressed_size": m.layers_compressed_size,
        "layers": if m.is_index() { Value::Null } else { json!(layers) },
    }))
    .into_response())
}

async fn list_labels(reg: &Registry, r: &str, d: &str, who: &Caller, uri: &Uri) -> ApiResult {
    let path = repo(r)?;
    let Query(q) = Query::<LabelQuery>::try_from_uri(uri).map_err(|e| ApiError::bad_request(format!("Invalid query: {e}")))?;
    let labels = reg.labels(who, &path, &digest(d)?, q.filter.as_deref()).await?;
    Ok(Json(json!({ "labels": labels.iter().map(label_json).collect::<Vec<_>>() })).into_response())
}

async fn add_label(reg: &Registry, r: &str, d: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let digest = digest(d)?;
    let new: NewLabelBody = body(req).await?;
    let label = reg.add_label(who, &path, &digest, &new.key, &new.value, new.media_type.as_deref()).await?;
    let location = format!("/api/v1/repository/{path}/manifest/{digest}/labels/{}", label.id);
    let mut resp = (StatusCode::CREATED, Json(json!({ "label": label_json(&label) }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn get_label(reg: &Registry, r: &str, d: &str, id: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    let label = reg.label(who, &path, &digest(d)?, id).await?;
    Ok(Json(label_json(&label)).into_response())
}

async fn delete_label(reg: &Registry, r: &str, d: &str, id: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    reg.delete_label(who, &path, &digest(d)?, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn permission_json(p: &registry::Permission) -> Value {
    json!({ "name": p.user, "role": p.role.as_str(), "is_robot": false })
}

async fn list_permissions(reg: &Registry, r: &str, who: &Caller) -> ApiResult {
    let perms = reg.permissions(who, &repo(r)?).await?;
    let map: serde_json::Map<String, Value> = perms.iter().map(|p| (p.user.clone(), permission_json(p))).collect();
    Ok(Json(json!({ "permissions": map })).into_response())
}

async fn get_permission(reg: &Registry, r: &str, user: &str, who: &Caller) -> ApiResult {
    let perms = reg.permissions(who, &repo(r)?).await?;
    let p = perms
        .iter()
        .find(|p| p.user == user)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("User '{user}' has no permission here")))?;
    Ok(Json(permission_json(p)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

async fn put_permission(reg: &Registry, r: &str, user: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let b: RoleBody = body(req).await?;
    let role = registry::Role::parse(&b.role)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid role: {} (expected read, write or admin)", b.role)))?;
    let p = reg.set_permission(who, &path, user, role).await?;
    Ok(Json(permission_json(&p)).into_response())
}

async fn delete_permission(reg: &Registry, r: &str, user: &str, who: &Caller) -> ApiResult {
    reg.delete_permission(who, &repo(r)?, user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisibilityBody {
    visibility: String,
}

async fn change_visibility(reg: &Registry, r: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let b: VisibilityBody = body(req).await?;
    reg.set_visibility(who, &path, visibility(&b.visibility)?).await?;
    Ok(Json(json!({ "success": true })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: String,
}

async fn change_state(reg: &Registry, r: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let b: StateBody = body(req).await?;
    let state = registry::RepoState::parse(&b.state.to_ascii_lowercase())
        .ok_or_else(|| ApiError::bad_request(format!("Invalid state: {} (expected NORMAL, READ_ONLY or MIRROR)", b.state)))?;
    reg.set_repository_state(who, &path, state).await?;
    Ok(Json(json!({ "success": true })).into_response())
}

// ---- audit logs -------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    page: Option<u32>,
    limit: Option<u32>,
    action: Option<String>,
    performer: Option<String>,
    /// Unix seconds or `YYYY-MM-DD` (UTC, from the start of that day).
    starttime: Option<String>,
    /// Unix seconds or `YYYY-MM-DD` (UTC, up to the end of that day).
    endtime: Option<String>,
    /// `json` (default, one page) or `csv` / `ndjson` (every matching record, as a download).
    format: Option<String>,
}

/// Most records one download carries.
const MAX_EXPORT_ROWS: usize = 100_000;

fn log_time(s: &str, end_of_day: bool) -> Result<Millis, ApiError> {
    if let Ok(secs) = s.parse::<i64>() {
        return secs.checked_mul(1000).ok_or_else(|| ApiError::bad_request(format!("Invalid time: {s}")));
    }
    let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("Invalid time: {s} (expected Unix seconds or YYYY-MM-DD)")))?;
    let day = if end_of_day { day.succ_opt().unwrap_or(day) } else { day };
    Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or_default())
}

fn log_json(e: &registry::AuditEntry) -> Value {
    json!({
        "kind": e.action,
        "metadata": e.data,
        "ip": e.address,
        "datetime": rfc2822(e.created_ms),
        "performer": { "kind": "user", "name": e.actor },
    })
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    Repository(&'a RepoPath),
    Namespace(&'a registry::NamespaceName),
}

async fn logs(reg: &Registry, who: &Caller, scope: Scope<'_>, uri: &Uri) -> ApiResult {
    let Query(q) = Query::<LogQuery>::try_from_uri(uri).map_err(|e| ApiError::bad_request(format!("Invalid query: {e}")))?;
    let mut params = registry::AuditParams {
        action: q.action,
        actor: q.performer,
        since_ms: q.starttime.as_deref().map(|s| log_time(s, false)).transpose()?,
        until_ms: q.endtime.as_deref().map(|s| log_time(s, true)).transpose()?,
        page: q.page,
        limit: q.limit,
    };
    let fetch = |params: registry::AuditParams| async move {
        match scope {
            Scope::Repository(path) => reg.audit_log(who, path, &params).await,
            Scope::Namespace(ns) => reg.namespace_audit_log(who, ns, &params).await,
        }
    };
    let format = q.format.as_deref().unwrap_or("json");
    if format == "json" {
        let page = fetch(params).await?;
        let logs: Vec<_> = page.items.iter().map(log_json).collect();
        return Ok(Json(json!({ "logs": logs, "page": page.page, "has_additional": page.has_additional })).into_response());
    }
    if !matches!(format, "csv" | "ndjson") {
        return Err(ApiError::bad_request(format!("Invalid format: {format} (expected json, csv or ndjson)")));
    }
    // Every matching record, page by page, up to the export cap.
    params.limit = Some(registry::AuditParams::MAX_LIMIT);
    let mut rows = Vec::new();
    for page in 1.. {
        params.page = Some(page);
        let p = fetch(params.clone()).await?;
        rows.extend(p.items);
        if !p.has_additional || rows.len() >= MAX_EXPORT_ROWS {
            break;
        }
    }
    rows.truncate(MAX_EXPORT_ROWS);
    let (body, content_type) = if format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        let write = |w: &mut csv::Writer<Vec<u8>>| -> Result<(), csv::Error> {
            w.write_record(["datetime", "performer", "ip", "kind", "repository", "metadata"])?;
            for e in &rows {
                let repo = match (e.data["namespace"].as_str(), e.data["repo"].as_str()) {
                    (Some(ns), Some(r)) => format!("{ns}/{r}"),
                    _ => String::new(),
                };
                let time = DateTime::from_timestamp_millis(e.created_ms).map(|t| t.to_rfc3339()).unwrap_or_default();
                w.write_record([time.as_str(), &e.actor, e.address.as_deref().unwrap_or(""), &e.action, &repo, &e.data.to_string()])?;
            }
            w.flush()?;
            Ok(())
        };
        write(&mut w).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("Cannot write CSV: {e}")))?;
        (w.into_inner().unwrap_or_default(), "text/csv; charset=utf-8")
    } else {
        let mut out = Vec::new();
        for e in &rows {
            out.extend_from_slice(log_json(e).to_string().as_bytes());
            out.push(b'\n');
        }
        (out, "application/x-ndjson")
    };
    let filename = format!("attachment; filename=\"audit-log.{format}\"");
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&filename) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn repository_logs(reg: &Registry, r: &str, who: &Caller, uri: &Uri) -> ApiResult {
    let path = repo(r)?;
    logs(reg, who, Scope::Repository(&path), uri).await
}

/// `GET /api/v1/organization/{ns}/logs`: a namespace's audit records (namespace admins).
async fn namespace_logs(State(state): State<AppState>, axum::extract::Path(ns): axum::extract::Path<String>, req: Request) -> Response {
    let uri = req.uri().clone();
    let who = caller(&state.auth, &req);
    drop(req);
    let result = async {
        let who = who.await?;
        let ns = registry::NamespaceName::parse(&ns).map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))?;
        logs(&state.registry, &who, Scope::Namespace(&ns), &uri).await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target("acme/app"), Some(Target::Repository("acme/app")));
        assert_eq!(target("acme/app/tag/"), Some(Target::Tags("acme/app")));
        assert_eq!(target("acme/a/b/tag/v1"), Some(Target::Tag("acme/a/b", "v1")));
        assert_eq!(target("acme/app/tag/v1/restore"), Some(Target::TagRestore("acme/app", "v1")));
        assert_eq!(target("acme/app/manifest/sha256:00"), Some(Target::Manifest("acme/app", "sha256:00")));
        assert_eq!(target("acme/app/manifest/sha256:00/labels"), Some(Target::Labels("acme/app", "sha256:00")));
        assert_eq!(target("acme/app/manifest/sha256:00/labels/x"), Some(Target::Label("acme/app", "sha256:00", "x")));
        assert_eq!(target("acme/app/tag/v1/bogus"), None);
        assert_eq!(target("acme/app/permissions/user/"), Some(Target::Permissions("acme/app")));
        assert_eq!(target("acme/app/permissions/user/bob"), Some(Target::Permission("acme/app", "bob")));
        assert_eq!(target("acme/app/changevisibility"), Some(Target::Visibility("acme/app")));
        assert_eq!(target("acme/app/changestate"), Some(Target::State("acme/app")));
        assert_eq!(target("acme/app/logs"), Some(Target::Logs("acme/app")));
    }

    #[test]
    fn quay_dates() {
        assert_eq!(rfc2822(1_700_000_000_000), "Tue, 14 Nov 2023 22:13:20 -0000");
    }
}
