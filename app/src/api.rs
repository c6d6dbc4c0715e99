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

    /// The service and the caller of the current request.
    pub fn context() -> Result<(Registry, Caller), AppError> {
        let registry = use_context::<Registry>().ok_or_else(|| AppError::Transport("registry service missing from context".into()))?;
        // Accounts arrive with issue #5; until then the UI acts as the built-in admin.
        Ok((registry, Caller::admin()))
    }
}

#[server(prefix = "/rpc", endpoint = "repositories", input = GetUrl)]
pub async fn list_repositories(filter: Option<String>, page: Option<u32>) -> Result<RepositoryList, AppError> {
    let (registry, caller) = server::context()?;
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
    pub page: Page<registry::TagView>,
    pub now_ms: Millis,
}

/// Tags per page on the tags and history pages.
pub const TAG_PAGE_SIZE: i64 = 50;

/// Active tags (`history == false`) or every history row, filtered by a name substring.
#[server(prefix = "/rpc", endpoint = "tags", input = GetUrl)]
pub async fn list_tags(repository: String, history: bool, filter: Option<String>, page: Option<i64>) -> Result<TagList, AppError> {
    let (registry, caller) = server::context()?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let params = registry::HistoryParams {
        page,
        limit: Some(TAG_PAGE_SIZE),
        only_active: !history,
        specific_tag: None,
        filter: filter.filter(|f| !f.trim().is_empty()).map(|f| format!("like:{}", f.trim())),
    };
    let page = registry.tag_history(&caller, &path, &params).await?;
    Ok(TagList { repository: path.to_string(), page, now_ms: registry.now_ms() })
}

/// Restores a tag to a manifest (SPEC §2.5), then returns to `back` with a message. A form post
/// without JavaScript follows that redirect; with JavaScript the router navigates in place.
#[server(prefix = "/rpc", endpoint = "restore_tag")]
pub async fn restore_tag(repository: String, tag: String, digest: String, back: String) -> Result<String, AppError> {
    let (registry, caller) = server::context()?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let tag = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    let digest = registry::Digest::parse(&digest).map_err(registry::Error::from)?;
    registry.restore_tag(&caller, &path, &tag, &digest).await?;
    let message = format!("Restored {tag} to {}", digest.short());
    leptos_axum::redirect(&crate::components::url::back_with_message(&back, &message));
    Ok(message)
}
