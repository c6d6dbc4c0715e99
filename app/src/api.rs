//! Server functions: thin adapters from the UI to the registry service. Reads are GET functions
//! with stable URLs under `/rpc`; the rules live in `registry::service`.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use registry::{Millis, Page, RepositorySummary};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Repositories per page in the list.
pub const REPOSITORY_PAGE_SIZE: u32 = 25;

/// One page of the repository list, with the server's clock for relative times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryList {
    pub page: Page<RepositorySummary>,
    pub now_ms: Millis,
}

#[cfg(feature = "ssr")]
mod server {
    use super::AppError;
    use leptos::prelude::use_context;
    use registry::{Caller, Registry};

    /// The session key of the signed-in user's id (the server's `auth::SESSION_USER`).
    pub const SESSION_USER: &str = "uid";

    /// The service and the caller of the current request (the server resolved the caller from
    /// the session before the request reached the UI).
    pub async fn context() -> Result<(Registry, Caller), AppError> {
        let registry = use_context::<Registry>().ok_or_else(|| AppError::Transport("registry service missing from context".into()))?;
        let axum::Extension(caller) = leptos_axum::extract::<axum::Extension<Caller>>()
            .await
            .map_err(|_| AppError::Transport("the request's caller is missing".into()))?;
        Ok((registry, caller))
    }

    pub async fn session() -> Result<tower_sessions::Session, AppError> {
        leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| AppError::Transport("no session layer".into()))
    }

    pub fn session_error(e: tower_sessions::session::Error) -> AppError {
        tracing::error!(error = %e, "session store");
        AppError::Registry(registry::Error::Storage)
    }
}

/// Who is signed in, for the top bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub name: Option<String>,
    pub superuser: bool,
}

#[server(prefix = "/rpc", endpoint = "me", input = GetUrl)]
pub async fn who_am_i() -> Result<Viewer, AppError> {
    let (_, caller) = server::context().await?;
    let account = caller.principal.account();
    Ok(Viewer { name: account.map(|a| a.name.clone()), superuser: account.is_some_and(|a| a.superuser) })
}

/// Signs in: checks the password (throttled per account and address), starts a new session id
/// (so one planted before sign-in is worthless) and goes to `next`.
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String, next: Option<String>) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let account = registry.sign_in(username.trim(), &password, caller.address.as_deref()).await?;
    let session = server::session().await?;
    session.cycle_id().await.map_err(server::session_error)?;
    session.insert(server::SESSION_USER, account.id).await.map_err(server::session_error)?;
    let next = next.filter(|n| !n.is_empty()).unwrap_or_else(|| "/".into());
    leptos_axum::redirect(&crate::components::url::back_with_message(&next, &format!("Signed in as {}", account.name)));
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let session = server::session().await?;
    session.flush().await.map_err(server::session_error)?;
    leptos_axum::redirect("/?msg=Signed%20out");
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "repositories", input = GetUrl)]
pub async fn list_repositories(filter: Option<String>, page: Option<u32>) -> Result<RepositoryList, AppError> {
    let (registry, caller) = server::context().await?;
    let q = registry::store::RepositoryQuery {
        filter: filter.filter(|f| !f.trim().is_empty()).map(|f| f.trim().to_owned()),
        page: page.unwrap_or(1),
        limit: REPOSITORY_PAGE_SIZE,
        ..Default::default()
    };
    let page = registry.list_repositories(&caller, q).await?;
    Ok(RepositoryList { page, now_ms: registry.now_ms() })
}

/// One page of a repository's tags (active only) or of its full history, with the server's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagList {
    pub repository: String,
    /// The caller may change tags (write or more).
    pub can_write: bool,
    pub page: Page<registry::TagView>,
    pub now_ms: Millis,
}

/// Tags per page on the tags and history pages.
pub const TAG_PAGE_SIZE: i64 = 50;

/// Active tags (`history == false`) or every history row, filtered by a name substring.
#[server(prefix = "/rpc", endpoint = "tags", input = GetUrl)]
pub async fn list_tags(repository: String, history: bool, filter: Option<String>, page: Option<i64>) -> Result<TagList, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let params = registry::HistoryParams {
        page,
        limit: Some(TAG_PAGE_SIZE),
        only_active: !history,
        specific_tag: None,
        filter: filter.filter(|f| !f.trim().is_empty()).map(|f| format!("like:{}", f.trim())),
    };
    let page = registry.tag_history(&caller, &path, &params).await?;
    let can_write = registry.my_role(&caller, &path).await?.is_some_and(|r| r >= registry::Role::Write);
    Ok(TagList { repository: path.to_string(), can_write, page, now_ms: registry.now_ms() })
}

/// Restores a tag to a manifest (SPEC §2.5), then returns to `back` with a message. A form post
/// without JavaScript follows that redirect; with JavaScript the router navigates in place.
#[server(prefix = "/rpc", endpoint = "restore_tag")]
pub async fn restore_tag(repository: String, tag: String, digest: String, back: String) -> Result<String, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let tag = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    let digest = registry::Digest::parse(&digest).map_err(registry::Error::from)?;
    registry.restore_tag(&caller, &path, &tag, &digest).await?;
    let message = format!("Restored {tag} to {}", digest.short());
    leptos_axum::redirect(&crate::components::url::back_with_message(&back, &message));
    Ok(message)
}

/// One page of a repository's audit records, with the server's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub repository: String,
    pub page: Page<registry::AuditEntry>,
    pub now_ms: Millis,
}

/// Audit records per page on the activity page.
pub const AUDIT_PAGE_SIZE: u32 = 50;

/// The repository's activity (audit records), newest first, filtered by action and actor.
#[server(prefix = "/rpc", endpoint = "audit", input = GetUrl)]
pub async fn list_audit(
    repository: String,
    action: Option<String>,
    actor: Option<String>,
    page: Option<u32>,
) -> Result<AuditList, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let params = registry::AuditParams { action, actor, page, limit: Some(AUDIT_PAGE_SIZE), ..Default::default() };
    let page = registry.audit_log(&caller, &path, &params).await?;
    Ok(AuditList { repository: path.to_string(), page, now_ms: registry.now_ms() })
}
