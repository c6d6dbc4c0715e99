//! Organization members (SPEC §4): who belongs to an organization and with which role. Quay
//! lists and removes members; adding one or changing a role is `PUT` here (Quay does it through
//! teams).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::{NamespaceName, OrgRole};

use super::openapi::{NamespaceParam, UserParam};
use super::schema::*;
use super::{body, caller, ApiError, ApiResult};
use crate::startup::AppState;

/// An organization name from the path; a name that cannot exist is simply not found.
fn org(name: &str) -> Result<NamespaceName, ApiError> {
    NamespaceName::parse(name).map_err(|_| ApiError::not_found(format!("Organization '{name}' not found")))
}

/// Runs `f` with the caller, answering its error as JSON.
async fn respond<F, Fut>(state: AppState, req: Request, f: F) -> Response
where
    F: FnOnce(AppState, registry::Caller, Request) -> Fut,
    Fut: std::future::Future<Output = ApiResult>,
{
    let who = caller(&state.auth, &req).await;
    let result = match who {
        Ok(who) => f(state, who, req).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The organization's members and their roles (organization admins).
#[utoipa::path(
    get, path = "/api/v1/organization/{namespace}/members", operation_id = "getOrganizationMembers", tag = "organizations",
    params(NamespaceParam),
    responses((status = 200, description = "Every member, by name", body = OrgMemberList)),
)]
pub(super) async fn members(State(state): State<AppState>, path: Result<Path<String>, PathRejection>, req: Request) -> Response {
    let Ok(Path(name)) = path else { return ApiError::not_found("Not found").into_response() };
    respond(state, req, |state, who, _| async move {
        let members = state.registry.org_members(&who, &org(&name)?).await?;
        Ok(Json(OrgMemberList { members: members.iter().map(OrgMemberItem::from).collect() }).into_response())
    })
    .await
}

/// Adds a user to the organization or changes their role (organization admins). The last admin
/// cannot become a plain member.
#[utoipa::path(
    put, path = "/api/v1/organization/{namespace}/members/{username}", operation_id = "setOrganizationMember", tag = "organizations",
    params(NamespaceParam, UserParam),
    request_body = OrgRoleChange,
    responses(
        (status = 200, description = "The member with their role", body = OrgMemberItem),
        (status = 409, description = "The user is the organization's last admin", body = ErrorBody),
    ),
)]
pub(super) async fn set_member(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Response {
    let Ok(Path((name, user))) = path else { return ApiError::not_found("Not found").into_response() };
    respond(state, req, |state, who, req| async move {
        let change: OrgRoleChange = body(req).await?;
        let role = OrgRole::parse(&change.role)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid role: {} (expected admin or member)", change.role)))?;
        state.registry.set_org_member(&who, &org(&name)?, &user, role).await?;
        Ok(Json(OrgMemberItem { name: user, kind: "user".into(), role: role.as_str().into() }).into_response())
    })
    .await
}

/// Removes a user from the organization (organization admins); never its last admin.
#[utoipa::path(
    delete, path = "/api/v1/organization/{namespace}/members/{username}", operation_id = "removeOrganizationMember",
    tag = "organizations",
    params(NamespaceParam, UserParam),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "The user is the organization's last admin", body = ErrorBody),
    ),
)]
pub(super) async fn remove_member(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Response {
    let Ok(Path((name, user))) = path else { return ApiError::not_found("Not found").into_response() };
    respond(state, req, |state, who, _| async move {
        state.registry.remove_org_member(&who, &org(&name)?, &user).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
