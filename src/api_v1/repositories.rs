//! Repositories, organizations, visibility, state and user permissions (SPEC §4).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use registry::store::RepositoryQuery;
use registry::{Caller, Registry, RepoPath, RepoState, Role, Visibility};
use tower_sessions::Session;

use super::openapi::{RepoParams, UserParam};
use super::schema::*;
use super::{body, caller, caller_from_parts, repo, ApiError, ApiResult};
use crate::startup::AppState;

fn visibility(s: &str) -> Result<Visibility, ApiError> {
    Visibility::parse(s).ok_or_else(|| ApiError::bad_request(format!("Invalid visibility: {s} (expected public or private)")))
}

/// The repositories the caller may read, 100 a page.
#[utoipa::path(
    get, path = "/api/v1/repository", operation_id = "listRepos", tag = "repositories",
    params(RepositoryListQuery),
    responses((status = 200, description = "One page of repositories", body = RepositoryList)),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<Session>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    q: Result<Query<RepositoryListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("Invalid query: {}", e.body_text())))?;
    let who = caller_from_parts(&state, &headers, session, connect).await?;
    let query = RepositoryQuery { namespace: q.namespace, page: q.page.unwrap_or(1).max(1), limit: 100, ..Default::default() };
    let page = state.registry.list_repositories(&who, query).await?;
    let repositories = page.items.iter().map(RepositoryItem::from).collect();
    Ok(Json(RepositoryList { repositories, has_additional: page.has_additional }).into_response())
}

/// Creates a repository in a namespace the caller may write.
#[utoipa::path(
    post, path = "/api/v1/repository", operation_id = "createRepo", tag = "repositories",
    request_body = NewRepository,
    responses(
        (status = 201, description = "Created", body = RepositoryCreated),
        (status = 409, description = "The repository exists", body = ErrorBody),
    ),
)]
pub(super) async fn create(State(state): State<AppState>, req: Request) -> ApiResult {
    let who = caller(&state.auth, &req).await?;
    let new: NewRepository = body(req).await?;
    if new.repo_kind.as_deref().is_some_and(|k| k != "image") {
        return Err(ApiError::bad_request("Only image repositories are supported"));
    }
    let path = RepoPath::parse(&format!("{}/{}", new.namespace, new.repository)).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let repo = state.registry.create_repository(&who, &path, visibility(&new.visibility)?, &new.description).await?;
    let created = RepositoryCreated { namespace: repo.path.namespace.to_string(), name: repo.path.name.to_string(), kind: "image".into() };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Creates an organization; the signed-in creator becomes its admin.
#[utoipa::path(
    post, path = "/api/v1/organization/", operation_id = "createOrganization", tag = "repositories",
    request_body = NewOrganization,
    responses(
        (status = 201, description = "Created", body = String, content_type = "application/json", example = json!("Created")),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ),
)]
pub(super) async fn create_organization(State(state): State<AppState>, req: Request) -> ApiResult {
    let who = caller(&state.auth, &req).await?;
    let new: NewOrganization = body(req).await?;
    state.registry.create_organization(&who, &new.name).await?;
    Ok((StatusCode::CREATED, Json("Created")).into_response())
}

#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}", operation_id = "getRepo", tag = "repositories",
    params(RepoParams),
    responses((status = 200, description = "The repository", body = RepositoryInfo)),
)]
pub(super) async fn get(reg: &Registry, r: &str, who: &Caller) -> ApiResult {
    let path = repo(r)?;
    let repo = reg.repository(who, &path).await?;
    let summary = reg.repository_summary(who, &path).await?;
    Ok(Json(RepositoryInfo {
        namespace: repo.path.namespace.to_string(),
        name: repo.path.name.to_string(),
        description: repo.description,
        is_public: repo.visibility == Visibility::Public,
        state: repo.state.as_str().to_uppercase(),
        has_tags: summary.tag_count > 0,
        tag_count: summary.tag_count,
        last_modified: summary.last_modified_ms / 1000,
    })
    .into_response())
}

/// Users' roles on the repository (admins).
#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/permissions/user/", operation_id = "listRepoUserPermissions", tag = "permissions",
    params(RepoParams),
    responses((status = 200, description = "Every user grant", body = PermissionList)),
)]
pub(super) async fn permissions(reg: &Registry, r: &str, who: &Caller) -> ApiResult {
    let perms = reg.permissions(who, &repo(r)?).await?;
    let permissions = perms.iter().map(|p| (p.user.clone(), UserPermission::from(p))).collect();
    Ok(Json(PermissionList { permissions }).into_response())
}

#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/permissions/user/{username}", operation_id = "getUserPermissions", tag = "permissions",
    params(RepoParams, UserParam),
    responses((status = 200, description = "The user's grant", body = UserPermission)),
)]
pub(super) async fn permission(reg: &Registry, r: &str, user: &str, who: &Caller) -> ApiResult {
    let perms = reg.permissions(who, &repo(r)?).await?;
    let p = perms.iter().find(|p| p.user == user).ok_or_else(|| ApiError::not_found(format!("User '{user}' has no permission here")))?;
    Ok(Json(UserPermission::from(p)).into_response())
}

/// Grants (or changes) a user's role on the repository.
#[utoipa::path(
    put, path = "/api/v1/repository/{namespace}/{repository}/permissions/user/{username}", operation_id = "changeUserPermissions", tag = "permissions",
    params(RepoParams, UserParam),
    request_body = RoleChange,
    responses((status = 200, description = "The user's grant", body = UserPermission)),
)]
pub(super) async fn grant(reg: &Registry, r: &str, user: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let b: RoleChange = body(req).await?;
    let role =
        Role::parse(&b.role).ok_or_else(|| ApiError::bad_request(format!("Invalid role: {} (expected read, write or admin)", b.role)))?;
    let p = reg.set_permission(who, &path, user, role).await?;
    Ok(Json(UserPermission::from(&p)).into_response())
}

#[utoipa::path(
    delete, path = "/api/v1/repository/{namespace}/{repository}/permissions/user/{username}", operation_id = "deleteUserPermissions", tag = "permissions",
    params(RepoParams, UserParam),
    responses((status = 204, description = "Removed")),
)]
pub(super) async fn revoke(reg: &Registry, r: &str, user: &str, who: &Caller) -> ApiResult {
    reg.delete_permission(who, &repo(r)?, user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/api/v1/repository/{namespace}/{repository}/changevisibility", operation_id = "changeRepoVisibility", tag = "repositories",
    params(RepoParams),
    request_body = VisibilityChange,
    responses((status = 200, description = "Changed", body = Success)),
)]
pub(super) async fn change_visibility(reg: &Registry, r: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let b: VisibilityChange = body(req).await?;
    reg.set_visibility(who, &path, visibility(&b.visibility)?).await?;
    Ok(Json(Success { success: true }).into_response())
}

/// Read-only and mirror repositories refuse content changes (503) until put back to normal.
#[utoipa::path(
    put, path = "/api/v1/repository/{namespace}/{repository}/changestate", operation_id = "changeRepoState", tag = "repositories",
    params(RepoParams),
    request_body = StateChange,
    responses((status = 200, description = "Changed", body = Success)),
)]
pub(super) async fn change_state(reg: &Registry, r: &str, who: &Caller, req: Request) -> ApiResult {
    let path = repo(r)?;
    let b: StateChange = body(req).await?;
    let state = RepoState::parse(&b.state.to_ascii_lowercase())
        .ok_or_else(|| ApiError::bad_request(format!("Invalid state: {} (expected NORMAL, READ_ONLY or MIRROR)", b.state)))?;
    reg.set_repository_state(who, &path, state).await?;
    Ok(Json(Success { success: true }).into_response())
}
