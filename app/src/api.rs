//! Server functions: thin adapters from the UI to the registry service. Reads are GET functions
//! with stable URLs under `/rpc`; the rules live in `registry::service`.

// A server function's arguments are its URL's query or its form's fields, one each (the client
// stub `#[server]` generates for the island's build takes them all too, out of reach of an
// attribute on the function).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};
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

/// The one-time code that lets the first visitor create the first superuser (server side only;
/// set at start when no user exists and no admin password was given).
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct SetupCode(pub std::sync::Arc<std::sync::Mutex<Option<String>>>);

#[cfg(feature = "ssr")]
impl SetupCode {
    pub fn new(code: String) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(Some(code))))
    }

    /// Takes the code if `offered` matches it (compared in constant time): it works once.
    fn take(&self, offered: &str) -> bool {
        let Ok(mut slot) = self.0.lock() else { return false };
        let matches = slot.as_deref().is_some_and(|code| {
            code.len() == offered.len() && code.bytes().zip(offered.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if matches {
            *slot = None;
        }
        matches
    }
}

/// Creates the first superuser with the one-time setup code the server printed, signs them in
/// and goes to the repositories. Refused once any user exists or the code was used.
#[server(prefix = "/rpc", endpoint = "setup")]
pub async fn set_up(code: String, username: String, password: String) -> Result<(), AppError> {
    let (registry, _) = server::context().await?;
    let setup = use_context::<SetupCode>().unwrap_or_default();
    if !setup.take(code.trim()) {
        return Err(registry::Error::Forbidden("This setup link is not valid: it was used already, or users exist".into()).into());
    }
    let account = match registry.bootstrap_superuser(username.trim(), &password).await {
        Ok(Some(account)) => account,
        Ok(None) => return Err(registry::Error::Forbidden("Setup is closed: a user exists already".into()).into()),
        Err(e) => {
            // A refused name or password: the code stays usable.
            if let Ok(mut slot) = setup.0.lock() {
                *slot = Some(code.trim().to_owned());
            }
            return Err(e.into());
        }
    };
    let session = server::session().await?;
    session.cycle_id().await.map_err(server::session_error)?;
    session.insert(server::SESSION_USER, account.id).await.map_err(server::session_error)?;
    leptos_axum::redirect(&format!(
        "/repository/?msg={}",
        crate::components::url::encode(&format!("Welcome, {}: you are the superuser", account.name))
    ));
    Ok(())
}

/// Who is signed in, for the top bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub name: Option<String>,
    pub superuser: bool,
}

impl Viewer {
    #[cfg(feature = "ssr")]
    fn of(caller: &registry::Caller) -> Self {
        let account = caller.principal.account();
        Self { name: account.map(|a| a.name.clone()), superuser: account.is_some_and(|a| a.superuser) }
    }

    /// The viewer of the page being rendered (the caller the server resolved for this request);
    /// anonymous outside a request.
    #[cfg(feature = "ssr")]
    pub fn current() -> Self {
        match use_context::<http::request::Parts>().as_ref().and_then(|p| p.extensions.get::<registry::Caller>()) {
            Some(caller) => Self::of(caller),
            None => Self { name: None, superuser: false },
        }
    }
}

#[server(prefix = "/rpc", endpoint = "me", input = GetUrl)]
pub async fn who_am_i() -> Result<Viewer, AppError> {
    let (_, caller) = server::context().await?;
    Ok(Viewer::of(&caller))
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
    /// The rows; in the history (not "as of") each with its events, else with none.
    pub page: Page<registry::HistoryRow>,
    pub now_ms: Millis,
    /// How long ended rows stay restorable (the namespace's time machine window).
    pub time_machine_s: i64,
    /// The history as of this instant (only the rows alive then), when one was asked for.
    pub as_of_ms: Option<Millis>,
    /// Active tags only: the platforms of each index on the page, by the index's digest.
    pub platforms: std::collections::BTreeMap<String, Vec<registry::PlatformEntry>>,
    /// The ids of the first and last rows when the pages next to this one are found from them
    /// (`before` and `after`).
    pub cursors: Option<(i64, i64)>,
}

/// Tags per page on the tags and history pages.
pub const TAG_PAGE_SIZE: i64 = 50;

/// Active tags (`history == false`) or every history row, filtered by a name substring (or, with
/// `tag`, one tag's rows), in the `sort` order (`name`: natural order for active tags; `size`;
/// `expiration`; newest first by default); with `at` (history only), the rows alive at that
/// instant. History rows come read as events. `after` or `before` (a row's id, from the page next
/// to this one) finds the page from that row instead of counting `page`'s offset.
#[server(prefix = "/rpc", endpoint = "tags", input = GetUrl)]
pub async fn list_tags(
    repository: String,
    history: bool,
    filter: Option<String>,
    page: Option<i64>,
    at: Option<String>,
    sort: Option<String>,
    tag: Option<String>,
    after: Option<i64>,
    before: Option<i64>,
) -> Result<TagList, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let as_of = if history { registry::HistoryParams::instant(at.as_deref().unwrap_or_default())? } else { None };
    let params = registry::HistoryParams {
        page,
        limit: Some(TAG_PAGE_SIZE),
        only_active: !history,
        specific_tag: tag.filter(|t| !t.trim().is_empty()),
        filter: filter.filter(|f| !f.trim().is_empty()).map(|f| format!("like:{}", f.trim())),
        as_of,
        order: registry::TagOrder::parse(sort.as_deref().unwrap_or_default())?,
        cursor: after.map(registry::Cursor::After).or(before.map(registry::Cursor::Before)),
    };
    let registry::TagListing { rows: page, role, time_machine_s, cursors } = registry.tag_listing(&caller, &path, &params).await?;
    let indexes: Vec<_> =
        page.items.iter().map(|r| &r.view).filter(|v| !history && v.is_manifest_list).map(|v| v.tag.manifest_digest.clone()).collect();
    let platforms = match indexes.is_empty() {
        true => Default::default(),
        false => registry.platforms_of(&caller, &path, &indexes).await?.into_iter().map(|(d, p)| (d.to_string(), p)).collect(),
    };
    let can_write = role.is_some_and(|r| r >= registry::Role::Write);
    Ok(TagList {
        repository: path.to_string(),
        can_write,
        page,
        now_ms: registry.now_ms(),
        time_machine_s,
        as_of_ms: as_of,
        platforms,
        cursors,
    })
}

/// Restores a tag to a manifest (SPEC §2.5), then returns to `back` with a message. A form post
/// without JavaScript follows that redirect; with JavaScript the island swaps that page in and
/// offers the returned [`Undo`] for a few seconds.
#[server(prefix = "/rpc", endpoint = "restore_tag")]
pub async fn restore_tag(repository: String, tag: String, digest: String, back: String) -> Result<Option<Undo>, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let tag = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    let digest = registry::Digest::parse(&digest).map_err(registry::Error::from)?;
    let change = registry::TagChangeRequest::new(tag.to_string(), registry::TagChange::Restore(digest.to_string()));
    let out = registry.change_tags(&caller, &path, &[change], true).await?;
    if let Some(e) = out.results.iter().find_map(|r| r.error.clone()) {
        return Err(e.into());
    }
    let message = format!("Restored {tag} to {}", digest.short());
    leptos_axum::redirect(&crate::components::url::back_with_message(&back, &message));
    Ok(Undo::of(&path, message, &out.results))
}

/// What takes back a change just made (a delete, a restore), offered with JavaScript for a few
/// seconds after it: the inverse changes the service reported, as one all-or-nothing batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    pub repository: String,
    /// What was done, in words ("Deleted beta").
    pub done: String,
    pub changes: Vec<registry::TagChangeRequest>,
}

impl Undo {
    #[cfg(feature = "ssr")]
    fn of(path: &registry::RepoPath, done: String, results: &[registry::TagChangeOutcome]) -> Option<Self> {
        let changes: Vec<_> = results.iter().flat_map(|r| r.undo.iter().cloned()).collect();
        (!changes.is_empty()).then(|| Self { repository: path.to_string(), done, changes })
    }
}

/// Takes a change back (see [`Undo`]): all of it or, when a tag has changed meanwhile (each undo
/// expects the tag as the change left it), none, with the refusals named.
#[server(prefix = "/rpc", endpoint = "undo", input = Json)]
pub async fn undo_tags(undo: Undo) -> Result<String, AppError> {
    let (registry, caller) = server::context().await?;
    let out = registry.change_tags(&caller, &repo_path(&undo.repository)?, &undo.changes, true).await?;
    if !out.applied {
        let refusals: Vec<_> = out.results.iter().filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.tag))).collect();
        return Err(registry::Error::invalid(format!("Could not undo; nothing was changed. {}", refusals.join("; "))).into());
    }
    Ok(format!("Undone: {}", undo.done))
}

/// One page of audit records (a repository's or a namespace's), with the server's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub page: Page<registry::AuditEntry>,
    pub now_ms: Millis,
}

/// Audit records per page on the activity pages.
pub const AUDIT_PAGE_SIZE: u32 = 50;

/// The activity pages' filters as the service takes them (days are `YYYY-MM-DD`, UTC; the range
/// includes its last day).
#[cfg(feature = "ssr")]
fn audit_params(
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<u32>,
) -> Result<registry::AuditParams, registry::Error> {
    let bound = |s: Option<String>, end| s.map(|s| registry::AuditParams::time_bound(&s, end)).transpose().map(Option::flatten);
    Ok(registry::AuditParams {
        action,
        actor,
        since_ms: bound(since, false)?,
        until_ms: bound(until, true)?,
        page,
        limit: Some(AUDIT_PAGE_SIZE),
    })
}

/// The repository's activity (audit records), newest first, filtered by action, actor and time.
#[server(prefix = "/rpc", endpoint = "audit", input = GetUrl)]
pub async fn list_audit(
    repository: String,
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<u32>,
) -> Result<AuditList, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let params = audit_params(action, actor, since, until, page)?;
    let page = registry.audit_log(&caller, &path, &params).await?;
    Ok(AuditList { page, now_ms: registry.now_ms() })
}

/// Every audit record of a namespace (its repositories and itself), newest first, filtered.
#[server(prefix = "/rpc", endpoint = "namespace_audit", input = GetUrl)]
pub async fn list_namespace_audit(
    namespace: String,
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<u32>,
) -> Result<AuditList, AppError> {
    let (registry, caller) = server::context().await?;
    let ns = registry::NamespaceName::parse(&namespace).map_err(registry::Error::from)?;
    let params = audit_params(action, actor, since, until, page)?;
    let page = registry.namespace_audit_log(&caller, &ns, &params).await?;
    Ok(AuditList { page, now_ms: registry.now_ms() })
}

/// Everything the settings page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsData {
    pub repository: registry::Repository,
    pub permissions: Vec<registry::Permission>,
    pub policies: Vec<registry::ImmutabilityPolicy>,
    pub time_machine_s: i64,
    pub time_machine_choices: Vec<i64>,
    /// The caller may change the namespace's settings (the time machine window).
    pub namespace_admin: bool,
}

/// The repository's settings (repository admins).
#[server(prefix = "/rpc", endpoint = "settings", input = GetUrl)]
pub async fn repository_settings(repository: String) -> Result<SettingsData, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    let permissions = registry.permissions(&caller, &path).await?;
    let repo = registry.repository(&caller, &path).await?;
    let policies = registry.repository_policies(&caller, &path).await?;
    let namespace = registry.namespace(&caller, &path.namespace).await;
    let time_machine_s = match &namespace {
        Ok(ns) => ns.time_machine_s,
        // Repository admins who do not administer the namespace see the window from the
        // repository's own view of it.
        Err(_) => registry.time_machine_of(&caller, &path).await?,
    };
    Ok(SettingsData {
        repository: repo,
        permissions,
        policies,
        time_machine_s,
        time_machine_choices: registry.config().time_machine_choices_s.clone(),
        namespace_admin: namespace.is_ok(),
    })
}

/// The current tags a new policy would lock.
/// For a namespace policy (`scope=namespace`), `repository:tag` across the namespace.
#[server(prefix = "/rpc", endpoint = "policy_preview", input = GetUrl)]
pub async fn policy_preview(
    repository: String,
    pattern: String,
    matches_immutable: bool,
    scope: Option<String>,
) -> Result<Vec<String>, AppError> {
    let (registry, caller) = server::context().await?;
    let path = registry::RepoPath::parse(&repository).map_err(registry::Error::from)?;
    if namespace_scope(scope.as_deref()) {
        Ok(registry.preview_namespace_policy(&caller, &path.namespace, &pattern, matches_immutable).await?)
    } else {
        Ok(registry.preview_policy(&caller, &path, &pattern, matches_immutable).await?)
    }
}

/// Goes back to the page a form came from, with a message.
#[cfg(feature = "ssr")]
fn done(back: &str, message: &str) -> Result<(), AppError> {
    leptos_axum::redirect(&crate::components::url::back_with_message(back, message));
    Ok(())
}

#[cfg(feature = "ssr")]
fn repo_path(repository: &str) -> Result<registry::RepoPath, AppError> {
    Ok(registry::RepoPath::parse(repository).map_err(registry::Error::from)?)
}

#[server(prefix = "/rpc", endpoint = "set_visibility")]
pub async fn set_visibility(repository: String, visibility: String, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let v = registry::Visibility::parse(&visibility)
        .ok_or_else(|| registry::Error::invalid(format!("Invalid visibility: {visibility} (expected public or private)")))?;
    registry.set_visibility(&caller, &repo_path(&repository)?, v).await?;
    done(&back, &format!("{repository} is now {visibility}"))
}

#[server(prefix = "/rpc", endpoint = "set_repository_state")]
pub async fn set_repository_state(repository: String, state: String, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let s = registry::RepoState::parse(&state).ok_or_else(|| registry::Error::invalid(format!("Invalid state: {state}")))?;
    registry.set_repository_state(&caller, &repo_path(&repository)?, s).await?;
    let message = if s == registry::RepoState::Normal { "Changes are allowed again" } else { "The repository is read only now" };
    done(&back, message)
}

#[server(prefix = "/rpc", endpoint = "grant")]
pub async fn grant(repository: String, user: String, role: String, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let r = registry::Role::parse(&role)
        .ok_or_else(|| registry::Error::invalid(format!("Invalid role: {role} (expected read, write or admin)")))?;
    let user = user.trim();
    registry.set_permission(&caller, &repo_path(&repository)?, user, r).await?;
    done(&back, &format!("{user} has {role} permission"))
}

#[server(prefix = "/rpc", endpoint = "revoke")]
pub async fn revoke(repository: String, user: String, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    registry.delete_permission(&caller, &repo_path(&repository)?, &user).await?;
    done(&back, &format!("Removed {user}'s permission"))
}

/// Whether a policy form is about the repository's namespace (`scope=namespace`) rather than
/// the repository itself.
pub fn namespace_scope(scope: Option<&str>) -> bool {
    scope == Some("namespace")
}

/// Saves a policy for the repository, or (`scope=namespace`, namespace admins) for its whole
/// namespace; with `id`, changes that policy instead.
#[server(prefix = "/rpc", endpoint = "add_policy")]
pub async fn add_policy(
    repository: String,
    pattern: String,
    matches_immutable: bool,
    scope: Option<String>,
    id: Option<String>,
    back: String,
) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let path = repo_path(&repository)?;
    let id = id.filter(|i| !i.is_empty());
    let namespace = namespace_scope(scope.as_deref());
    match (namespace, id) {
        (true, None) => registry.add_namespace_policy(&caller, &path.namespace, &pattern, matches_immutable).await?,
        (true, Some(id)) => registry.update_namespace_policy(&caller, &path.namespace, &id, &pattern, matches_immutable).await?,
        (false, None) => registry.add_repository_policy(&caller, &path, &pattern, matches_immutable).await?,
        (false, Some(id)) => registry.update_repository_policy(&caller, &path, &id, &pattern, matches_immutable).await?,
    };
    if namespace {
        done(&back, &format!("Saved the policy {pattern} for every repository of {}", path.namespace))
    } else {
        done(&back, &format!("Saved the policy {pattern}"))
    }
}

#[server(prefix = "/rpc", endpoint = "delete_policy")]
pub async fn delete_policy(repository: String, id: String, scope: Option<String>, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let path = repo_path(&repository)?;
    if namespace_scope(scope.as_deref()) {
        registry.delete_namespace_policy(&caller, &path.namespace, &id).await?;
    } else {
        registry.delete_repository_policy(&caller, &path, &id).await?;
    }
    done(&back, "Deleted the policy; the tags it locked stay locked")
}

#[server(prefix = "/rpc", endpoint = "set_time_machine")]
pub async fn set_time_machine(namespace: String, seconds: i64, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let ns = registry::NamespaceName::parse(&namespace).map_err(registry::Error::from)?;
    registry.set_time_machine(&caller, &ns, seconds).await?;
    done(&back, "Saved the time machine window")
}

/// Everything the tag page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagPageData {
    pub repository: String,
    /// The registry's address as the browser reached it, for pull commands.
    pub host: String,
    pub view: registry::TagView,
    pub manifest: registry::Manifest,
    /// The manifest exactly as stored.
    pub raw: String,
    pub labels: Vec<registry::Label>,
    /// Layers of an image: digest, size, media type.
    pub layers: Vec<(String, i64, String)>,
    /// Children of an index.
    pub platforms: Vec<registry::PlatformEntry>,
    /// The caller's role (decides which forms show; the service decides what happens).
    pub role: Option<registry::Role>,
    pub now_ms: Millis,
}

/// An alive tag with its manifest, labels and the caller's role.
#[server(prefix = "/rpc", endpoint = "tag", input = GetUrl)]
pub async fn tag_details(repository: String, tag: String) -> Result<TagPageData, AppError> {
    let (registry, caller) = server::context().await?;
    let path = repo_path(&repository)?;
    let name = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    let params = registry::HistoryParams { only_active: true, specific_tag: Some(name.to_string()), limit: Some(1), ..Default::default() };
    let view = registry
        .tag_history(&caller, &path, &params)
        .await?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| registry::Error::not_found(format!("Tag '{name}' not found")))?;
    let digest = view.tag.manifest_digest.clone();
    let (manifest, bytes) = registry.manifest(&caller, &path, &digest).await?;
    let labels = registry.labels(&caller, &path, &digest, None).await?;
    let role = registry.my_role(&caller, &path).await?;
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let layers = parsed["layers"]
        .as_array()
        .map(|ls| ls.iter().map(|l| (text(&l["digest"]), l["size"].as_i64().unwrap_or_default(), text(&l["mediaType"]))).collect())
        .unwrap_or_default();
    let platforms = registry.platforms(&caller, &path, &digest).await?;
    let headers: http::HeaderMap = leptos_axum::extract().await.map_err(|_| AppError::Transport("no request headers".into()))?;
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();
    Ok(TagPageData {
        repository: path.to_string(),
        host,
        view,
        manifest,
        raw: String::from_utf8_lossy(&bytes).into_owned(),
        labels,
        layers,
        platforms,
        role,
        now_ms: registry.now_ms(),
    })
}

#[server(prefix = "/rpc", endpoint = "add_label")]
pub async fn add_label(
    repository: String,
    digest: String,
    key: String,
    value: String,
    media_type: Option<String>,
    back: String,
) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let digest = registry::Digest::parse(&digest).map_err(registry::Error::from)?;
    let label = registry
        .add_label(&caller, &repo_path(&repository)?, &digest, &key, &value, media_type.as_deref().filter(|m| !m.is_empty()))
        .await?;
    done(&back, &format!("Added the label {}", label.key))
}

#[server(prefix = "/rpc", endpoint = "delete_label")]
pub async fn delete_label(repository: String, digest: String, id: String, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let digest = registry::Digest::parse(&digest).map_err(registry::Error::from)?;
    let label = registry.delete_label(&caller, &repo_path(&repository)?, &digest, &id).await?;
    done(&back, &format!("Deleted the label {}", label.key))
}

/// Sets or clears a tag's expiration: a preset (seconds from now), a date and time in UTC
/// (`YYYY-MM-DDTHH:MM`, as a `datetime-local` field sends it), or `clear`.
#[server(prefix = "/rpc", endpoint = "set_expiration")]
pub async fn set_expiration(
    repository: String,
    tag: String,
    preset: Option<i64>,
    at: Option<String>,
    clear: Option<String>,
    apply: Option<String>,
    back: String,
) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let _ = apply;
    let name = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    let when = if clear.is_some() {
        None
    } else if let Some(p) = preset {
        Some(registry.now_ms() / 1000 + p)
    } else {
        let at = at.unwrap_or_default();
        let t = chrono::NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%dT%H:%M")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| registry::Error::invalid("Choose a date and time (UTC) or a preset"))?;
        Some(t.and_utc().timestamp())
    };
    let t = registry.set_expiration(&caller, &repo_path(&repository)?, &name, when).await?;
    let message = match t.lifetime_end_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(end) => format!("{name} expires at {} UTC", end.format("%Y-%m-%d %H:%M")),
        None => format!("{name} never expires"),
    };
    done(&back, &message)
}

#[server(prefix = "/rpc", endpoint = "set_immutable")]
pub async fn set_immutable(repository: String, tag: String, immutable: bool, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let name = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    registry.set_immutable(&caller, &repo_path(&repository)?, &name, immutable).await?;
    done(&back, &format!("{} {name}", if immutable { "Locked" } else { "Unlocked" }))
}

/// Deletes a tag and goes to the repository's tags (the tag's page is gone).
#[server(prefix = "/rpc", endpoint = "delete_tag")]
pub async fn delete_tag(repository: String, tag: String, back: String) -> Result<(), AppError> {
    let (registry, caller) = server::context().await?;
    let _ = back;
    let path = repo_path(&repository)?;
    let name = registry::TagName::parse(&tag).map_err(registry::Error::from)?;
    registry.delete_tag(&caller, &path, &name).await?;
    done(&format!("/repository/{path}"), &format!("Deleted tag {name}; it stays restorable from the history"))
}

/// What the tags page's bulk bar can do to the selected tags.
pub const BULK_ACTIONS: [(&str, &str); 7] = [
    ("lock", "Lock (immutable)"),
    ("unlock", "Unlock"),
    ("expire-1d", "Expire in 1 day"),
    ("expire-1w", "Expire in 1 week"),
    ("expire-4w", "Expire in 4 weeks"),
    ("no-expiry", "Never expire"),
    ("delete", "Delete"),
];

/// Applies one action to the selected tags in one request, all or nothing: every tag changes,
/// or none does and the message names each refusal.
#[server(prefix = "/rpc", endpoint = "bulk_tags")]
pub async fn bulk_tags(repository: String, tags: Option<Vec<String>>, action: String, back: String) -> Result<Option<Undo>, AppError> {
    use registry::TagChange;
    let (registry, caller) = server::context().await?;
    let tags = tags.unwrap_or_default();
    if tags.is_empty() {
        return Err(registry::Error::invalid("Select at least one tag").into());
    }
    let in_s = |s: i64| Some(registry.now_ms() / 1000 + s);
    let (change, done_what) = match action.as_str() {
        "lock" => (TagChange::Immutable(true), "Locked"),
        "unlock" => (TagChange::Immutable(false), "Unlocked"),
        "expire-1d" => (TagChange::Expiration(in_s(86_400)), "Set to expire in 1 day:"),
        "expire-1w" => (TagChange::Expiration(in_s(7 * 86_400)), "Set to expire in 1 week:"),
        "expire-4w" => (TagChange::Expiration(in_s(28 * 86_400)), "Set to expire in 4 weeks:"),
        "no-expiry" => (TagChange::Expiration(None), "Set to never expire:"),
        "delete" => (TagChange::Delete, "Deleted"),
        other => return Err(registry::Error::invalid(format!("Unknown action: {other}")).into()),
    };
    let changes: Vec<_> = tags.iter().map(|t| registry::TagChangeRequest::new(t.clone(), change.clone())).collect();
    let path = repo_path(&repository)?;
    let out = registry.change_tags(&caller, &path, &changes, true).await?;
    if !out.applied {
        let refusals: Vec<_> = out.results.iter().filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.tag))).collect();
        return Err(registry::Error::invalid(format!("Nothing was changed. {}", refusals.join("; "))).into());
    }
    let message = format!("{done_what} {}", tags.join(", "));
    done(&back, &message)?;
    Ok(Undo::of(&path, message, &out.results))
}
