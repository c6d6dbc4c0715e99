//! `/api/v1/`: the Quay-compatible REST API for repositories, tags, manifests and labels — the
//! same paths and JSON shapes as Quay (shared/SPEC.md §5), a thin adapter over the service.
//! Repository names may contain `/`, so one catch-all route splits the path at the known markers.
//!
//! The wire types are in [`schema`]; [`openapi`] builds the OpenAPI document from them and from
//! the handlers' `#[utoipa::path]` annotations, served at `/api/v1/openapi.json`.

mod logs;
mod manifests;
pub mod openapi;
mod organizations;
mod repositories;
pub mod schema;
mod tags;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Extension, Json, Router};
use registry::{Caller, Digest, Error, Registry, RepoPath, TagName};
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::auth::{Auth, SESSION_USER};
use crate::startup::{client_address, AppState};
use schema::{ErrorBody, TagImmutableError};

/// Request bodies above this are refused (413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/repository", get(repositories::list).post(repositories::create))
        .route("/api/v1/organization", post(repositories::create_organization))
        .route("/api/v1/organization/", post(repositories::create_organization))
        .route("/api/v1/organization/{ns}/logs", get(logs::namespace_logs))
        .route("/api/v1/organization/{ns}/members", get(organizations::members))
        .route("/api/v1/organization/{ns}/members/", get(organizations::members))
        .route("/api/v1/organization/{ns}/members/{user}", put(organizations::set_member).delete(organizations::remove_member))
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

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), tag_immutable: false }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
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
        if self.tag_immutable {
            let body = TagImmutableError {
                status: self.status.as_u16(),
                error_type: "tag_immutable".into(),
                title: "tag_immutable".into(),
                detail: message.clone(),
                error_message: message.clone(),
                message,
            };
            (self.status, Json(body)).into_response()
        } else {
            (self.status, Json(ErrorBody { message })).into_response()
        }
    }
}

type ApiResult = Result<Response, ApiError>;

/// The caller: `Authorization` (Basic with a password or token, Bearer token) or the session.
pub(crate) fn caller(auth: &Auth, req: &Request) -> impl std::future::Future<Output = Result<Caller, ApiError>> + Send + 'static {
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

/// The caller of an extractor-style handler.
async fn caller_from_parts(
    state: &AppState,
    headers: &HeaderMap,
    session: Option<Extension<Session>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Caller, ApiError> {
    caller_of(&state.auth, headers, session.map(|s| s.0), connect.map(|c| c.0 .0.ip().to_string())).await
}

/// What `/api/v1/repository/<rest>` names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Repository(&'a str),
    Tags(&'a str),
    TagBatch(&'a str),
    Tag(&'a str, &'a str),
    TagRestore(&'a str, &'a str),
    TagExpire(&'a str, &'a str),
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
    if let Some(repo) = rest.strip_suffix("/tags/batch") {
        return Some(Target::TagBatch(repo));
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
            [tag, "expire"] => Some(Target::TagExpire(repo, tag)),
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
    RepoPath::parse(name).map_err(|e| ApiError::not_found(e.to_string()))
}

fn tag_name(s: &str) -> Result<TagName, ApiError> {
    TagName::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| ApiError::not_found(e.to_string()))
}

/// The query string as `T`: a value of the wrong type is a 400.
fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|e| ApiError::bad_request(format!("Invalid query: {}", e.body_text())))
}

/// A JSON body of type `T`: missing, malformed, wrong types or unknown fields are a 400.
async fn body<T: DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("Request body is larger than {MAX_BODY_BYTES} bytes")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Missing request body"));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
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
    let reg: &Registry = &state.registry;
    let result = match (target(&rest), &method) {
        (Some(Target::Repository(r)), &Method::GET) => repositories::get(reg, r, who).await,
        (Some(Target::Tags(r)), &Method::GET) => tags::list(reg, r, who, &uri).await,
        (Some(Target::TagBatch(r)), &Method::POST) => tags::batch(reg, r, who, req).await,
        (Some(Target::Tag(r, t)), &Method::PUT) => tags::put(reg, r, t, who, req).await,
        (Some(Target::Tag(r, t)), &Method::DELETE) => tags::delete(reg, r, t, who).await,
        (Some(Target::TagRestore(r, t)), &Method::POST) => tags::restore(reg, r, t, who, req).await,
        (Some(Target::TagExpire(r, t)), &Method::POST) => tags::expire(reg, r, t, who, req).await,
        (Some(Target::Manifest(r, d)), &Method::GET) => manifests::get(reg, r, d, who).await,
        (Some(Target::Labels(r, d)), &Method::GET) => manifests::list_labels(reg, r, d, who, &uri).await,
        (Some(Target::Labels(r, d)), &Method::POST) => manifests::add_label(reg, r, d, who, req).await,
        (Some(Target::Label(r, d, id)), &Method::GET) => manifests::get_label(reg, r, d, id, who).await,
        (Some(Target::Label(r, d, id)), &Method::DELETE) => manifests::delete_label(reg, r, d, id, who).await,
        (Some(Target::Permissions(r)), &Method::GET) => repositories::permissions(reg, r, who).await,
        (Some(Target::Permission(r, u)), &Method::GET) => repositories::permission(reg, r, u, who).await,
        (Some(Target::Permission(r, u)), &Method::PUT) => repositories::grant(reg, r, u, who, req).await,
        (Some(Target::Permission(r, u)), &Method::DELETE) => repositories::revoke(reg, r, u, who).await,
        (Some(Target::Visibility(r)), &Method::POST) => repositories::change_visibility(reg, r, who, req).await,
        (Some(Target::State(r)), &Method::PUT) => repositories::change_state(reg, r, who, req).await,
        (Some(Target::Logs(r)), &Method::GET) => logs::repository_logs(reg, r, who, &uri).await,
        (Some(_), _) => Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))),
        (None, _) => Err(ApiError::not_found("Not found")),
    };
    result.unwrap_or_else(IntoResponse::into_response)
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
        assert_eq!(target("acme/app/tag/v1/expire"), Some(Target::TagExpire("acme/app", "v1")));
        assert_eq!(target("acme/app/tags/batch"), Some(Target::TagBatch("acme/app")));
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
        assert_eq!(schema::rfc2822(1_700_000_000_000), "Tue, 14 Nov 2023 22:13:20 -0000");
    }
}
