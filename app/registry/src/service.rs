//! The service layer: every rule of SPEC §2–3 applied in one place. The UI's server functions,
//! `/api/v1` and `/v2` call these methods and only translate their inputs and results.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::accounts::{NoSecrets, Secrets, Throttle};
use crate::error::{Error, Result};
use crate::model::*;
use crate::names::{Digest, NamespaceName, RepoPath, TagName};
use crate::rules::{self, LabelEffects, TagPattern};
use crate::store::*;

mod cache;
mod changes;
mod fsck;
mod gc;
mod namespace_policies;
use cache::VersionedCache;
pub use changes::{BatchOutcome, Expected, TagChange, TagChangeOutcome, TagChangeRequest, MAX_BATCH};
pub use fsck::{BlobHealth, FsckReport};
pub use gc::{BlobFiles, GcOptions, GcReport, NoBlobFiles};

/// Where time comes from; tests fix it.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
    }
}

/// A clock that stands still until moved.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(now_ms: Millis) -> Self {
        Self(AtomicI64::new(now_ms))
    }
    pub fn set(&self, now_ms: Millis) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// Operator settings that change rules (SPEC calls them config switches).
#[derive(Debug, Clone)]
pub struct Config {
    /// Allow an expiration on an immutable tag and immutability on a tag with an expiration.
    pub allow_expiration_on_immutable: bool,
    /// Reserved label prefixes added by the operator.
    pub extra_reserved_label_prefixes: Vec<String>,
    /// The time machine windows namespaces may choose, in seconds.
    pub time_machine_choices_s: Vec<i64>,
    /// Lets repository admins take a tag's ended rows out of the time machine at once (Quay's
    /// permanent tag deletion); off by default, as in Quay.
    pub allow_permanent_expiry: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allow_expiration_on_immutable: false,
            extra_reserved_label_prefixes: Vec::new(),
            time_machine_choices_s: TIME_MACHINE_CHOICES_S.to_vec(),
            allow_permanent_expiry: false,
        }
    }
}

/// Who calls, and from where (recorded in the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub address: Option<String>,
}

impl Caller {
    /// The server acting for its operator (CLI, seeding).
    pub fn system() -> Self {
        Self { principal: Principal::System, address: None }
    }
    pub fn anonymous() -> Self {
        Self { principal: Principal::Anonymous, address: None }
    }
}

/// How a tag is pointed at a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retarget {
    /// A push: the manifest was just stored.
    Push,
    /// Create or move: the manifest must be available (SPEC §2.3).
    Move,
    /// Restore: any stored manifest; the new row has `reversion` (SPEC §2.5).
    Restore,
}

/// Raw history listing parameters, as a URL gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryParams {
    pub page: Option<i64>,
    pub limit: Option<i64>,
    pub only_active: bool,
    pub specific_tag: Option<String>,
    /// `like:TEXT` or `eq:NAME`.
    pub filter: Option<String>,
    /// Only the rows alive at this instant: the repository as it was then.
    pub as_of: Option<Millis>,
    pub order: TagOrder,
    /// The page next to a row (see [`HistoryQuery::cursor`]); `page` then only numbers it.
    pub cursor: Option<Cursor>,
}

/// Alive tags put in natural name order by the service, at most (beyond, the store's order).
const NATURAL_ORDER_MAX: u32 = 10_000;

impl HistoryParams {
    /// An instant as people write it: a UTC date and time `YYYY-MM-DDTHH:MM[:SS]` (what a
    /// `datetime-local` field sends), RFC 3339 with an offset, or Unix seconds. Blank is none.
    pub fn instant(s: &str) -> Result<Option<Millis>> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if let Ok(secs) = s.parse::<i64>() {
            return secs.checked_mul(1000).map(Some).ok_or_else(|| Error::invalid(format!("Invalid time: {s}")));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Ok(Some(t.timestamp_millis()));
        }
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
            .map(|t| Some(t.and_utc().timestamp_millis()))
            .ok_or_else(|| Error::invalid(format!("Invalid time: {s} (expected YYYY-MM-DDTHH:MM in UTC)")))
    }
}

/// Audit listing filters, as a URL or form gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditParams {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since_ms: Option<Millis>,
    pub until_ms: Option<Millis>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

impl AuditParams {
    /// Most records one page may hold (downloads page through with it).
    pub const MAX_LIMIT: u32 = 1000;

    /// A bound of the time range as people write it: Unix seconds, or a UTC day `YYYY-MM-DD`
    /// (its first instant; with `end_of_day`, the first instant of the next day, so that a range
    /// ending on a day includes it). Blank is no bound.
    pub fn time_bound(s: &str, end_of_day: bool) -> Result<Option<Millis>> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if let Ok(secs) = s.parse::<i64>() {
            return secs.checked_mul(1000).map(Some).ok_or_else(|| Error::invalid(format!("Invalid time: {s}")));
        }
        let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| Error::invalid(format!("Invalid time: {s} (expected Unix seconds or YYYY-MM-DD)")))?;
        let day = if end_of_day { day.succ_opt().unwrap_or(day) } else { day };
        Ok(Some(day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis()))
    }

    fn query(&self, namespace_id: i64, repository_id: Option<i64>) -> Result<AuditQuery> {
        if let (Some(a), Some(b)) = (self.since_ms, self.until_ms) {
            if a >= b {
                return Err(Error::invalid("The start of the time range must be before its end"));
            }
        }
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(AuditQuery {
            namespace_id,
            repository_id,
            action: text(&self.action),
            actor: text(&self.actor),
            since_ms: self.since_ms,
            until_ms: self.until_ms,
            page: self.page.unwrap_or(1).max(1),
            limit: self.limit.unwrap_or(50).clamp(1, Self::MAX_LIMIT),
        })
    }
}

/// The registry service. Cheap to clone; build it once at start-up.
#[derive(Clone)]
pub struct Registry {
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    tag_lists: Arc<TagListCache>,
    histories: Arc<HistoryCache>,
    pub(crate) secrets: Arc<dyn Secrets>,
    pub(crate) throttle: Arc<Throttle>,
    blob_files: Arc<dyn BlobFiles>,
}

/// Recent `/v2` tag lists by (repository id, `last`, `n`): the names and whether more follow,
/// valid until the next alive tag expires.
type TagListCache = VersionedCache<(i64, Option<String>, u32), (Arc<Vec<String>>, bool)>;

/// Recent pages of repositories' tag history by (repository id, query): the rows and each row's
/// links (see [`rules::RowLinks`]). Unlike the active tags, such a page does not change with the
/// clock (which ends have passed is read from the rows at each request), only with the rows.
type HistoryCache = VersionedCache<(i64, HistoryQuery), Arc<(Page<TagView>, Vec<rules::RowLinks>)>>;

/// What the UI's Tags and History pages show (see [`Registry::tag_listing`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TagListing {
    /// The rows; in the history (not "as of") each with its events, else with none.
    pub rows: Page<HistoryRow>,
    /// The caller's role on the repository (at least read).
    pub role: Option<Role>,
    /// How long ended rows stay restorable (the namespace's time machine window).
    pub time_machine_s: i64,
    /// The ids of the page's first and last rows when its order pages by cursor: the pages
    /// before and after it are found from them (see [`HistoryQuery::cursor`]).
    pub cursors: Option<(i64, i64)>,
}

/// A repository resolved for a write: the transaction holds its lock.
struct Locked {
    tx: Box<dyn Tx>,
    repo: Repository,
    now: Millis,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Self {
        Self {
            store,
            clock,
            config: Arc::new(config),
            tag_lists: Arc::new(VersionedCache::new(1024)),
            histories: Arc::new(VersionedCache::new(256)),
            secrets: Arc::new(NoSecrets),
            throttle: Default::default(),
            blob_files: Arc::new(NoBlobFiles),
        }
    }

    /// The blob store's files, for garbage collection and the push-side check against it.
    pub fn with_blob_files(mut self, files: Arc<dyn BlobFiles>) -> Self {
        self.blob_files = files;
        self
    }

    /// Password hashing and tokens (accounts fail closed without them).
    pub fn with_secrets(mut self, secrets: Arc<dyn Secrets>) -> Self {
        self.secrets = secrets;
        self
    }

    pub fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    /// The store behind the service (to build another service on it, e.g. with another clock).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    // ---- permissions (SPEC §4) ----------------------------------------------------------------

    /// The caller's role on a repository: superusers are admin everywhere; users get the higher
    /// of their namespace role (owner, org membership) and the repository's grant; anyone reads a
    /// public repository.
    pub(crate) async fn role(&self, caller: &Caller, repo: &Repository) -> Result<Option<Role>> {
        let public = (repo.visibility == Visibility::Public).then_some(Role::Read);
        Ok(match &caller.principal {
            p if p.is_superuser() => Some(Role::Admin),
            Principal::User(a) => self.store.user_role(a.id, repo.namespace_id, Some(repo.id)).await?.max(public),
            _ => public,
        })
    }

    async fn authorize(&self, caller: &Caller, repo: &Repository, needed: Role) -> Result<()> {
        permit(caller, repo, self.role(caller, repo).await?, needed)
    }

    /// The caller's role on a namespace (for what it holds: its repositories, settings, new
    /// repositories). `None` for a namespace that does not exist.
    pub(crate) async fn namespace_role(&self, caller: &Caller, ns: Option<&Namespace>) -> Result<Option<Role>> {
        Ok(match (&caller.principal, ns) {
            (p, _) if p.is_superuser() => Some(Role::Admin),
            (Principal::User(a), Some(ns)) => self.store.user_role(a.id, ns.id, None).await?,
            _ => None,
        })
    }

    pub(crate) async fn authorize_namespace(
        &self,
        caller: &Caller,
        ns: Option<&Namespace>,
        name: &NamespaceName,
        needed: Role,
    ) -> Result<()> {
        match self.namespace_role(caller, ns).await? {
            Some(r) if r >= needed => Ok(()),
            _ if caller.principal == Principal::Anonymous => Err(Error::Unauthorized),
            _ => Err(Error::Forbidden(format!("You need {} permission on the namespace {name}", needed.as_str()))),
        }
    }

    /// What a missing repository looks like to the caller: "not found" only to those who could
    /// see it if it existed (namespace readers); to others the same refusal as a private one.
    async fn missing(&self, caller: &Caller, path: &RepoPath) -> Error {
        let ns = self.store.namespace_by_name(&path.namespace).await.ok().flatten();
        match self.namespace_role(caller, ns.as_ref()).await {
            Ok(Some(_)) => repo_not_found(path),
            Ok(None) => refused(caller),
            Err(e) => e,
        }
    }

    /// The repository, when the caller holds `needed` on it (no transaction, no state check).
    pub(crate) async fn repository_for(&self, caller: &Caller, path: &RepoPath, needed: Role) -> Result<Repository> {
        let Some(repo) = self.store.repository(path).await? else { return Err(self.missing(caller, path).await) };
        self.authorize(caller, &repo, needed).await?;
        Ok(repo)
    }

    pub(crate) fn repo_audit(&self, caller: &Caller, repo: &Repository, action: &'static str, data: serde_json::Value) -> NewAudit {
        self.audit(caller, repo, action, data, self.clock.now_ms())
    }

    async fn readable(&self, caller: &Caller, path: &RepoPath) -> Result<Repository> {
        Ok(self.readable_with_role(caller, path).await?.0)
    }

    /// As [`Registry::readable`], with the caller's role on it (at least read).
    async fn readable_with_role(&self, caller: &Caller, path: &RepoPath) -> Result<(Repository, Option<Role>)> {
        let Some(repo) = self.store.repository(path).await? else { return Err(self.missing(caller, path).await) };
        let role = self.role(caller, &repo).await?;
        permit(caller, &repo, role, Role::Read)?;
        Ok((repo, role))
    }

    /// Opens a transaction, locks the repository and checks the caller may change it.
    async fn lock(&self, caller: &Caller, path: &RepoPath, needed: Role) -> Result<Locked> {
        let mut tx = self.store.begin().await?;
        let Some(repo) = tx.repository(path).await? else { return Err(self.missing(caller, path).await) };
        self.authorize(caller, &repo, needed).await?;
        if repo.state != RepoState::Normal {
            return Err(Error::ReadOnly);
        }
        tx.lock_repository(repo.id).await?;
        Ok(Locked { tx, repo, now: self.clock.now_ms() })
    }

    /// Like [`Self::lock`] for a push: a missing repository is created (private) when the caller
    /// administers the namespace, as a push to a new name does in Quay.
    async fn lock_for_push(&self, caller: &Caller, path: &RepoPath) -> Result<Locked> {
        let mut tx = self.store.begin().await?;
        let now = self.clock.now_ms();
        let repo = match tx.repository(path).await? {
            Some(repo) => repo,
            None => {
                let ns = tx.namespace(&path.namespace).await?;
                self.authorize_namespace(caller, ns.as_ref(), &path.namespace, Role::Write).await?;
                let ns = match ns {
                    Some(ns) => ns,
                    None => tx.insert_namespace(&path.namespace, DEFAULT_TIME_MACHINE_S, now).await?,
                };
                let repo = tx.insert_repository(ns.id, path, Visibility::Private, "", now).await?;
                let audit = self.audit(caller, &repo, "create_repo", json!({ "visibility": "private", "by_push": true }), now);
                tx.insert_audit(&audit).await?;
                repo
            }
        };
        self.authorize(caller, &repo, Role::Write).await?;
        if repo.state != RepoState::Normal {
            return Err(Error::ReadOnly);
        }
        tx.lock_repository(repo.id).await?;
        Ok(Locked { tx, repo, now })
    }

    fn audit(&self, caller: &Caller, repo: &Repository, action: &'static str, mut data: serde_json::Value, now: Millis) -> NewAudit {
        if let Some(obj) = data.as_object_mut() {
            obj.insert("namespace".into(), json!(repo.path.namespace.as_str()));
            obj.insert("repo".into(), json!(repo.path.name.as_str()));
        }
        NewAudit {
            namespace_id: Some(repo.namespace_id),
            repository_id: Some(repo.id),
            actor: caller.principal.actor_name(),
            address: caller.address.clone(),
            action,
            data,
            created_ms: now,
        }
    }

    // ---- namespaces and repositories ---------------------------------------------------------

    /// Creates the repository (and its namespace when new). Refuses an existing one.
    pub async fn create_repository(
        &self,
        caller: &Caller,
        path: &RepoPath,
        visibility: Visibility,
        description: &str,
    ) -> Result<Repository> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        let ns = tx.namespace(&path.namespace).await?;
        self.authorize_namespace(caller, ns.as_ref(), &path.namespace, Role::Write).await?;
        if tx.repository(path).await?.is_some() {
            return Err(Error::Conflict(format!("Repository '{path}' already exists")));
        }
        let ns = match ns {
            Some(ns) => ns,
            None => tx.insert_namespace(&path.namespace, DEFAULT_TIME_MACHINE_S, now).await?,
        };
        let repo = tx.insert_repository(ns.id, path, visibility, description, now).await?;
        let audit = self.audit(caller, &repo, "create_repo", json!({ "visibility": visibility.as_str() }), now);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(repo)
    }

    pub async fn repository(&self, caller: &Caller, path: &RepoPath) -> Result<Repository> {
        self.readable(caller, path).await
    }

    /// Lists the repositories the caller may read.
    pub async fn list_repositories(&self, caller: &Caller, mut q: RepositoryQuery) -> Result<Page<RepositorySummary>> {
        q.page = q.page.max(1);
        q.limit = q.limit.clamp(1, 100);
        q.viewer = viewer(caller);
        self.store.list_repositories(&q, self.clock.now_ms()).await
    }

    /// One repository's listing facts (alive tag count, last modified), for a reader.
    pub async fn repository_summary(&self, caller: &Caller, path: &RepoPath) -> Result<RepositorySummary> {
        self.readable(caller, path).await?;
        let mut q = RepositoryQuery {
            namespace: Some(path.namespace.to_string()),
            filter: Some(path.to_string()),
            viewer: Viewer::Everything,
            page: 1,
            limit: 100,
        };
        loop {
            let page = self.store.list_repositories(&q, self.clock.now_ms()).await?;
            if let Some(found) = page.items.iter().find(|r| r.path == *path) {
                return Ok(found.clone());
            }
            if !page.has_additional {
                return Err(repo_not_found(path));
            }
            q.page += 1;
        }
    }

    pub async fn set_repository_state(&self, caller: &Caller, path: &RepoPath, state: RepoState) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        let Some(repo) = tx.repository(path).await? else { return Err(self.missing(caller, path).await) };
        self.authorize(caller, &repo, Role::Admin).await?;
        tx.set_repository_state(repo.id, state).await?;
        let audit = self.audit(caller, &repo, "change_repo_state", json!({ "state_changed": state.as_str() }), now);
        tx.insert_audit(&audit).await?;
        tx.commit().await
    }

    /// Sets how long ended tag rows stay restorable (SPEC §1: one of the configured windows).
    pub async fn set_time_machine(&self, caller: &Caller, namespace: &NamespaceName, seconds: i64) -> Result<()> {
        if !self.config.time_machine_choices_s.contains(&seconds) {
            return Err(Error::invalid(format!(
                "Invalid time machine window: {seconds}s (allowed: {})",
                self.config.time_machine_choices_s.iter().map(|s| format!("{s}s")).collect::<Vec<_>>().join(", ")
            )));
        }
        let mut tx = self.store.begin().await?;
        let ns = tx.namespace(namespace).await?;
        self.authorize_namespace(caller, ns.as_ref(), namespace, Role::Admin).await?;
        let ns = ns.ok_or_else(|| Error::not_found(format!("Namespace '{namespace}' not found")))?;
        tx.set_time_machine(ns.id, seconds).await?;
        tx.insert_audit(&NewAudit {
            namespace_id: Some(ns.id),
            repository_id: None,
            actor: caller.principal.actor_name(),
            address: caller.address.clone(),
            action: "change_tag_expiration_window",
            data: json!({ "namespace": namespace.as_str(), "old": ns.time_machine_s, "new": seconds }),
            created_ms: self.clock.now_ms(),
        })
        .await?;
        tx.commit().await
    }

    // ---- reading tags --------------------------------------------------------------------------

    /// The tag history (SPEC §2.2), newest first, with filters and paging.
    pub async fn tag_history(&self, caller: &Caller, path: &RepoPath, p: &HistoryParams) -> Result<Page<TagView>> {
        let repo = self.readable(caller, path).await?;
        self.history_rows(&repo, &history_query(p)?).await
    }

    /// A page of the repository's tag rows (see [`Registry::tag_history`]).
    async fn history_rows(&self, repo: &Repository, q: &HistoryQuery) -> Result<Page<TagView>> {
        let now = self.clock.now_ms();
        if q.order == TagOrder::Name && q.only_active {
            // Natural order (v1.2 before v1.10) over every alive tag, then the page.
            let all = self.store.tag_history(repo.id, &HistoryQuery { page: 1, limit: NATURAL_ORDER_MAX, ..q.clone() }, now).await?;
            if !all.has_additional {
                let mut items = all.items;
                items.sort_by(|a, b| rules::natural_cmp(a.tag.name.as_str(), b.tag.name.as_str()));
                let start = (q.page as usize - 1).saturating_mul(q.limit as usize);
                let has_additional = items.len() > start.saturating_add(q.limit as usize);
                let items = items.into_iter().skip(start).take(q.limit as usize).collect();
                return Ok(Page { items, page: q.page, has_additional });
            }
        }
        self.store.tag_history(repo.id, q, now).await
    }

    /// A page of rows and each row's links, as [`HistoryCache`] keeps them.
    async fn history_page(&self, repo: &Repository, q: &HistoryQuery) -> Result<Arc<(Page<TagView>, Vec<rules::RowLinks>)>> {
        let page = self.history_rows(repo, q).await?;
        let ids: Vec<i64> = page.items.iter().map(|v| v.tag.id).collect();
        let links = self.store.history_links(repo.id, &ids).await?;
        Ok(Arc::new((page, links)))
    }

    /// A page of the tag history (as [`Registry::tag_history`]) read as events: each row with its
    /// neighbours' verdict (SPEC §2.6), from one more read of the page's rows.
    pub async fn tag_events(&self, caller: &Caller, path: &RepoPath, p: &HistoryParams) -> Result<Page<HistoryRow>> {
        let repo = self.readable(caller, path).await?;
        self.history_events(&repo, &history_query(p)?).await
    }

    /// The events of a page of rows (see [`Registry::tag_events`]). Every row of the history
    /// (not only the active ones) keeps its page until a tag row changes: such pages are served
    /// from [`HistoryCache`].
    async fn history_events(&self, repo: &Repository, q: &HistoryQuery) -> Result<Page<HistoryRow>> {
        // Only the active tags change with the clock: those pages are read each time.
        let rows = match q.only_active {
            true => self.history_page(repo, q).await?,
            false => {
                let read = || {
                    let (this, repo, q) = (self.clone(), repo.clone(), q.clone());
                    async move { Ok((this.history_page(&repo, &q).await?, None)) }
                };
                self.histories.get_or_load((repo.id, q.clone()), repo.tag_version, 0, read).await?
            }
        };
        let (page, links) = &*rows;
        let now = self.clock.now_ms();
        let items = page
            .items
            .iter()
            .zip(links)
            .map(|(view, links)| HistoryRow { events: rules::row_events(&view.tag, links, now), view: view.clone() })
            .collect();
        Ok(Page { items, page: page.page, has_additional: page.has_additional })
    }

    /// What the UI's Tags page (`history == false`: the active tags) and History page show: a
    /// page of rows — in the history read as events, unless as of an instant (then the rows alive
    /// then) — with the caller's role and the namespace's time machine window, from one read of
    /// the repository.
    pub async fn tag_listing(&self, caller: &Caller, path: &RepoPath, p: &HistoryParams) -> Result<TagListing> {
        let (repo, role) = self.readable_with_role(caller, path).await?;
        let q = history_query(p)?;
        let rows = if !q.only_active && q.as_of.is_none() {
            self.history_events(&repo, &q).await?
        } else {
            let page = self.history_rows(&repo, &q).await?;
            let items = page.items.into_iter().map(|view| HistoryRow { view, events: Vec::new() }).collect();
            Page { items, page: page.page, has_additional: page.has_additional }
        };
        let ids = rows.items.first().zip(rows.items.last()).map(|(first, last)| (first.view.tag.id, last.view.tag.id));
        let cursors = ids.filter(|_| q.pages_by_cursor());
        Ok(TagListing { rows, role, time_machine_s: repo.time_machine_s, cursors })
    }

    /// The platforms of an index (see [`rules::index_children`]), each with its manifest's size.
    /// Not an index: none.
    pub async fn platforms(&self, caller: &Caller, path: &RepoPath, digest: &Digest) -> Result<Vec<PlatformEntry>> {
        let mut of = self.platforms_of(caller, path, std::slice::from_ref(digest)).await?;
        of.remove(digest).ok_or_else(|| manifest_not_found(digest))
    }

    /// The platforms of each of these manifests that is an index (see [`Self::platforms`]); a
    /// manifest that is not an index has none, an unknown digest is left out. Two queries
    /// whatever the number of manifests (a listing's page).
    pub async fn platforms_of(&self, caller: &Caller, path: &RepoPath, digests: &[Digest]) -> Result<BTreeMap<Digest, Vec<PlatformEntry>>> {
        let repo = self.readable(caller, path).await?;
        let parents = self.store.manifests_by_digests(repo.id, digests, true).await?;
        let children: Vec<_> =
            parents.iter().map(|(m, bytes)| if m.is_index() { rules::index_children(bytes) } else { Vec::new() }).collect();
        let wanted: BTreeSet<Digest> = children.iter().flatten().map(|(_, d)| d.clone()).collect();
        let wanted: Vec<Digest> = wanted.into_iter().collect();
        let sizes: BTreeMap<Digest, Option<i64>> = self
            .store
            .manifests_by_digests(repo.id, &wanted, false)
            .await?
            .into_iter()
            .map(|(m, _)| (m.digest, m.layers_compressed_size))
            .collect();
        Ok(parents
            .into_iter()
            .zip(children)
            .map(|((m, _), children)| {
                let entries = children
                    .into_iter()
                    .map(|(platform, digest)| PlatformEntry { platform, size: sizes.get(&digest).copied().flatten(), digest })
                    .collect();
                (m.digest, entries)
            })
            .collect())
    }

    pub async fn manifest(&self, caller: &Caller, path: &RepoPath, digest: &Digest) -> Result<(Manifest, Vec<u8>)> {
        let repo = self.readable(caller, path).await?;
        let m = self.store.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        let bytes = self.store.manifest_bytes(m.id).await?;
        Ok((m, bytes))
    }

    /// The repository's audit records, newest first (repository admins).
    pub async fn audit_log(&self, caller: &Caller, path: &RepoPath, p: &AuditParams) -> Result<Page<AuditEntry>> {
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        self.store.audit_log(&p.query(repo.namespace_id, Some(repo.id))?).await
    }

    /// Every audit record of a namespace (its repositories and the namespace itself), newest
    /// first (namespace admins).
    pub async fn namespace_audit_log(&self, caller: &Caller, namespace: &NamespaceName, p: &AuditParams) -> Result<Page<AuditEntry>> {
        let ns = self.store.namespace_by_name(namespace).await?;
        self.authorize_namespace(caller, ns.as_ref(), namespace, Role::Admin).await?;
        let ns = ns.ok_or_else(|| Error::not_found(format!("Namespace '{namespace}' not found")))?;
        self.store.audit_log(&p.query(ns.id, None)?).await
    }

    // ---- manifests and tags ----------------------------------------------------------------

    /// Stores a manifest (a push) and, when `tag` is given, points the tag at it through the same
    /// path as every other retarget. Child manifests of an index must already be stored.
    pub async fn put_manifest(&self, caller: &Caller, path: &RepoPath, new: NewManifest, tag: Option<&TagName>) -> Result<Manifest> {
        let Locked { mut tx, repo, now } = self.lock_for_push(caller, path).await?;
        let manifest = match tx.manifest_by_digest(repo.id, &new.digest).await? {
            Some(m) => m,
            None => {
                let mut child_ids = Vec::with_capacity(new.children.len());
                for child in &new.children {
                    let c = tx
                        .manifest_by_digest(repo.id, child)
                        .await?
                        .ok_or_else(|| Error::BlobUnknown(format!("Manifest references unknown manifest {child}")))?;
                    child_ids.push(c.id);
                }
                for blob in &new.blobs {
                    if tx.blob_size(repo.id, blob).await?.is_none() {
                        return Err(Error::BlobUnknown(format!("Manifest references unknown blob {blob}")));
                    }
                }
                let m = tx.insert_manifest(repo.id, &new, &child_ids, now).await?;
                for (key, value) in &new.config_labels {
                    let media_type = rules::infer_media_type(value).to_owned();
                    let label = NewLabel {
                        manifest_id: m.id,
                        key: key.clone(),
                        value: value.clone(),
                        media_type,
                        source_type: LabelSource::Manifest,
                    };
                    tx.insert_label(&label, now).await?;
                }
                m
            }
        };
        if let Some(tag) = tag {
            self.retarget(&mut *tx, caller, &repo, tag, &manifest, Retarget::Push, now).await?;
        }
        let audit =
            self.audit(caller, &repo, "push_repo", json!({ "tag": tag.map(TagName::as_str), "manifest_digest": manifest.digest }), now);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(manifest)
    }

    /// Creates or moves a tag to a manifest that is available in the repository (SPEC §2.3).
    pub async fn set_tag(&self, caller: &Caller, path: &RepoPath, tag: &TagName, digest: &Digest) -> Result<Tag> {
        self.retarget_tx(caller, path, tag, digest, Retarget::Move).await
    }

    /// Restores a tag to any manifest still stored in the repository (SPEC §2.5).
    pub async fn restore_tag(&self, caller: &Caller, path: &RepoPath, tag: &TagName, digest: &Digest) -> Result<Tag> {
        self.retarget_tx(caller, path, tag, digest, Retarget::Restore).await
    }

    async fn retarget_tx(&self, caller: &Caller, path: &RepoPath, tag: &TagName, digest: &Digest, how: Retarget) -> Result<Tag> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let row = self.retarget_to(&mut *tx, caller, &repo, tag, digest, how, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A move (the manifest must be available) or a restore (any stored manifest) by digest.
    #[allow(clippy::too_many_arguments)]
    async fn retarget_to(
        &self,
        tx: &mut dyn Tx,
        caller: &Caller,
        repo: &Repository,
        tag: &TagName,
        digest: &Digest,
        how: Retarget,
        now: Millis,
    ) -> Result<Tag> {
        let manifest = tx.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        if how == Retarget::Move && !tx.manifest_available(repo.id, manifest.id, now).await? {
            return Err(manifest_not_found(digest));
        }
        self.retarget(tx, caller, repo, tag, &manifest, how, now).await
    }

    /// Closes the alive row (if any) and inserts the new one: the single way a tag changes target.
    #[allow(clippy::too_many_arguments)]
    async fn retarget(
        &self,
        tx: &mut dyn Tx,
        caller: &Caller,
        repo: &Repository,
        tag: &TagName,
        manifest: &Manifest,
        how: Retarget,
        now: Millis,
    ) -> Result<Tag> {
        let alive = tx.alive_tag(repo.id, tag.as_str(), now).await?;
        if let Some(a) = alive.as_ref().filter(|a| a.immutable) {
            return Err(Error::TagImmutable(format!("Cannot overwrite immutable tag '{}'", a.name)));
        }
        let fx = self.label_effects(tx, manifest).await?;
        let immutable = fx.immutable || self.policy_marks(tx, repo, tag.as_str()).await?;
        let end_ms = match fx.expires_after_ms {
            Some(_) if immutable && !self.config.allow_expiration_on_immutable => None,
            Some(d) => Some(now.saturating_add(d)),
            None => None,
        };
        if let Some(a) = &alive {
            tx.set_tag_end(a.id, TagEnd::Now(now)).await?;
        }
        let row = tx
            .insert_tag(&NewTag {
                repository_id: repo.id,
                name: tag.as_str().to_owned(),
                manifest_id: manifest.id,
                start_ms: now,
                end_ms,
                reversion: how == Retarget::Restore,
                immutable,
                hidden: false,
            })
            .await?;
        let action = match (how, &alive) {
            (Retarget::Restore, _) => "revert_tag",
            (_, Some(_)) => "move_tag",
            (_, None) => "create_tag",
        };
        let mut data = json!({ "tag": tag.as_str(), "manifest_digest": manifest.digest });
        if let Some(a) = &alive {
            data["original_manifest_digest"] = json!(a.manifest_digest);
        }
        let audit = self.audit(caller, repo, action, data, now);
        tx.insert_audit(&audit).await?;
        Ok(row)
    }

    /// The label-driven behaviour of a manifest (SPEC §2.8); for an index, what all children ask.
    async fn label_effects(&self, tx: &mut dyn Tx, manifest: &Manifest) -> Result<LabelEffects> {
        if manifest.is_index() {
            let children = tx.manifest_children(manifest.id).await?;
            let mut fx = Vec::with_capacity(children.len());
            for c in &children {
                let labels = tx.labels(c.id).await?;
                fx.push(LabelEffects::from_labels(labels.iter().map(|l| (l.key.as_str(), l.value.as_str()))));
            }
            Ok(LabelEffects::all_of(&fx))
        } else {
            let labels = tx.labels(manifest.id).await?;
            Ok(LabelEffects::from_labels(labels.iter().map(|l| (l.key.as_str(), l.value.as_str()))))
        }
    }

    /// Whether a namespace or repository policy marks this tag name immutable.
    async fn policy_marks(&self, tx: &mut dyn Tx, repo: &Repository, name: &str) -> Result<bool> {
        for p in tx.policies(repo.namespace_id, Some(repo.id)).await? {
            // Stored patterns were checked when saved; one that no longer compiles marks nothing.
            if let Ok(pattern) = TagPattern::parse(&p.pattern) {
                if rules::policy_applies(&pattern, p.matches_immutable, name) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Ends the alive row now (SPEC §2.4).
    pub async fn delete_tag(&self, caller: &Caller, path: &RepoPath, tag: &TagName) -> Result<()> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        self.delete_in(&mut *tx, caller, &repo, tag, now).await?;
        tx.commit().await
    }

    async fn delete_in(&self, tx: &mut dyn Tx, caller: &Caller, repo: &Repository, tag: &TagName, now: Millis) -> Result<Tag> {
        let mut alive = tx.alive_tag(repo.id, tag.as_str(), now).await?.ok_or_else(|| tag_not_found(tag))?;
        if alive.immutable {
            return Err(Error::TagImmutable(format!("Cannot delete immutable tag '{tag}'")));
        }
        tx.set_tag_end(alive.id, TagEnd::Now(now)).await?;
        let audit = self.audit(caller, repo, "delete_tag", json!({ "tag": tag.as_str(), "manifest_digest": alive.manifest_digest }), now);
        tx.insert_audit(&audit).await?;
        alive.lifetime_end_ms = Some(now);
        Ok(alive)
    }

    /// Takes tag `tag`'s ended rows on the manifest out of the time machine now (Quay's permanent
    /// deletion): they become unrecoverable at once and garbage collection may reclaim what only
    /// they kept. With `include_alive`, the tag's alive row on that manifest is deleted first
    /// (refused for an immutable tag). Repository admins only, and only when the operator turned
    /// it on. Returns how many rows left the time machine.
    pub async fn expire_tag_permanently(
        &self,
        caller: &Caller,
        path: &RepoPath,
        tag: &TagName,
        digest: &Digest,
        include_alive: bool,
    ) -> Result<u64> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Admin).await?;
        if !self.config.allow_permanent_expiry {
            return Err(Error::Forbidden("Permanently expiring tags is turned off on this server".into()));
        }
        let manifest = tx.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        if include_alive {
            if let Some(alive) = tx.alive_tag(repo.id, tag.as_str(), now).await? {
                if alive.manifest_digest == manifest.digest {
                    self.delete_in(&mut *tx, caller, &repo, tag, now).await?;
                }
            }
        }
        let window_s = tx.namespace(&path.namespace).await?.map_or(DEFAULT_TIME_MACHINE_S, |n| n.time_machine_s);
        let cutoff = now.saturating_sub(window_s.saturating_mul(1000)).saturating_sub(1);
        let moved = tx.expire_tag_rows(repo.id, tag.as_str(), manifest.id, now, cutoff).await?;
        if moved == 0 {
            return Err(Error::not_found(format!("Tag '{tag}' has no restorable row on {digest}")));
        }
        let data = json!({ "tag": tag.as_str(), "manifest_digest": digest, "rows": moved });
        let audit = self.audit(caller, &repo, "expire_tag_permanently", data, now);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Ends every alive tag on a manifest; all-or-nothing when one is immutable (SPEC §2.9).
    pub async fn delete_manifest_tags(&self, caller: &Caller, path: &RepoPath, digest: &Digest) -> Result<usize> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let m = tx.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        let tags = tx.alive_tags_on_manifest(repo.id, m.id, now).await?;
        if let Some(t) = tags.iter().find(|t| t.immutable) {
            return Err(Error::TagImmutable(format!("Cannot delete immutable tag '{}'", t.name)));
        }
        for t in &tags {
            tx.set_tag_end(t.id, TagEnd::Now(now)).await?;
            let audit = self.audit(caller, &repo, "delete_tag", json!({ "tag": t.name, "manifest_digest": digest }), now);
            tx.insert_audit(&audit).await?;
        }
        tx.commit().await?;
        Ok(tags.len())
    }

    /// Sets (seconds since epoch) or clears the expiration of an alive tag (SPEC §2.7).
    pub async fn set_expiration(&self, caller: &Caller, path: &RepoPath, tag: &TagName, expiration_s: Option<i64>) -> Result<Tag> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let row = self.expiration_in(&mut *tx, caller, &repo, tag, expiration_s, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn expiration_in(
        &self,
        tx: &mut dyn Tx,
        caller: &Caller,
        repo: &Repository,
        tag: &TagName,
        expiration_s: Option<i64>,
        now: Millis,
    ) -> Result<Tag> {
        let mut alive = tx.alive_tag(repo.id, tag.as_str(), now).await?.ok_or_else(|| tag_not_found(tag))?;
        let new_end = match expiration_s {
            None => None,
            Some(s) => {
                let requested = s.checked_mul(1000).ok_or_else(|| Error::invalid("Invalid expiration date"))?;
                if requested <= now {
                    return Err(Error::invalid("Expiration date must be in the future"));
                }
                if alive.immutable && !self.config.allow_expiration_on_immutable {
                    return Err(Error::invalid(format!("Cannot set expiration on immutable tag '{tag}'")));
                }
                Some(rules::clamp_expiration(alive.lifetime_start_ms, requested))
            }
        };
        if alive.lifetime_end_ms.is_none() && new_end.is_none() {
            return Ok(alive);
        }
        tx.set_tag_end(alive.id, TagEnd::expiration(new_end)).await?;
        let data = json!({ "tag": tag.as_str(), "old_expiration_ms": alive.lifetime_end_ms, "expiration_ms": new_end });
        let audit = self.audit(caller, repo, "change_tag_expiration", data, now);
        tx.insert_audit(&audit).await?;
        alive.lifetime_end_ms = new_end;
        Ok(alive)
    }

    /// Locks (write) or unlocks (admin) an alive tag (SPEC §2.9).
    pub async fn set_immutable(&self, caller: &Caller, path: &RepoPath, tag: &TagName, immutable: bool) -> Result<Tag> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let row = self.immutable_in(&mut *tx, caller, &repo, tag, immutable, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn immutable_in(
        &self,
        tx: &mut dyn Tx,
        caller: &Caller,
        repo: &Repository,
        tag: &TagName,
        immutable: bool,
        now: Millis,
    ) -> Result<Tag> {
        let mut alive = tx.alive_tag(repo.id, tag.as_str(), now).await?.ok_or_else(|| tag_not_found(tag))?;
        if alive.immutable == immutable {
            return Ok(alive);
        }
        if !immutable {
            self.authorize(caller, repo, Role::Admin).await?;
        }
        if immutable && alive.lifetime_end_ms.is_some() && !self.config.allow_expiration_on_immutable {
            return Err(Error::invalid(format!("Cannot make tag '{tag}' immutable: it has expiration set")));
        }
        tx.set_tag_immutable(alive.id, immutable).await?;
        let data = json!({ "tag": tag.as_str(), "old_immutable": alive.immutable, "immutable": immutable });
        let audit = self.audit(caller, repo, "change_tag_immutability", data, now);
        tx.insert_audit(&audit).await?;
        alive.immutable = immutable;
        Ok(alive)
    }

    // ---- labels -------------------------------------------------------------------------------

    pub async fn labels(&self, caller: &Caller, path: &RepoPath, digest: &Digest, key_prefix: Option<&str>) -> Result<Vec<Label>> {
        let repo = self.readable(caller, path).await?;
        let m = self.store.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        self.store.labels(m.id, key_prefix.filter(|p| !p.is_empty())).await
    }

    pub async fn label(&self, caller: &Caller, path: &RepoPath, digest: &Digest, label_id: &str) -> Result<Label> {
        let repo = self.readable(caller, path).await?;
        let m = self.store.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        let labels = self.store.labels(m.id, None).await?;
        labels.into_iter().find(|l| l.id == label_id).ok_or_else(label_not_found)
    }

    /// Adds a user label (SPEC §3.1–3.3). `quay.*` keys are reserved for users, so a user label
    /// never carries label-driven behaviour (SPEC §2.8).
    pub async fn add_label(
        &self,
        caller: &Caller,
        path: &RepoPath,
        digest: &Digest,
        key: &str,
        value: &str,
        media_type: Option<&str>,
    ) -> Result<Label> {
        let (key, media_type) = rules::check_user_label(key, value, media_type, &self.config.extra_reserved_label_prefixes)?;
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let m = tx.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        let label = tx
            .insert_label(
                &NewLabel { manifest_id: m.id, key: key.to_string(), value: value.to_owned(), media_type, source_type: LabelSource::Api },
                now,
            )
            .await?;
        let data = json!({ "id": label.id, "key": label.key, "value": label.value, "manifest_digest": digest });
        let audit = self.audit(caller, &repo, "manifest_label_add", data, now);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(label)
    }

    /// Deletes a label; only `api` labels may go (SPEC §3.4).
    pub async fn delete_label(&self, caller: &Caller, path: &RepoPath, digest: &Digest, label_id: &str) -> Result<Label> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Write).await?;
        let m = tx.manifest_by_digest(repo.id, digest).await?.ok_or_else(|| manifest_not_found(digest))?;
        let label = tx.label(m.id, label_id).await?.ok_or_else(label_not_found)?;
        if label.source_type != LabelSource::Api {
            return Err(Error::invalid("Cannot delete immutable label"));
        }
        tx.delete_label(&label.id).await?;
        let data = json!({ "id": label.id, "key": label.key, "value": label.value, "manifest_digest": digest });
        let audit = self.audit(caller, &repo, "manifest_label_delete", data, now);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(label)
    }

    // ---- immutability policies ----------------------------------------------------------------

    /// Adds a policy to a repository and marks the alive tags it covers immutable, clearing their
    /// expiration (SPEC §2.9).
    pub async fn add_repository_policy(
        &self,
        caller: &Caller,
        path: &RepoPath,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<ImmutabilityPolicy> {
        let compiled = TagPattern::parse(pattern)?;
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Admin).await?;
        let policy = tx.insert_policy(repo.namespace_id, Some(repo.id), pattern, matches_immutable).await?;
        self.mark_alive_tags(&mut *tx, repo.id, &compiled, matches_immutable, now).await?;
        let data = json!({ "policy_id": policy.id, "tag_pattern": pattern, "tag_pattern_matches": matches_immutable });
        let audit = self.audit(caller, &repo, "create_immutability_policy", data, now);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// Changes one of the repository's own policies (repository admins): the alive tags the new
    /// pattern covers become immutable, as for a new policy; tags the old one marked stay marked.
    pub async fn update_repository_policy(
        &self,
        caller: &Caller,
        path: &RepoPath,
        policy_id: &str,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<ImmutabilityPolicy> {
        let compiled = TagPattern::parse(pattern)?;
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Admin).await?;
        let mut policy = own_policy(&mut *tx, &repo, policy_id).await?;
        tx.update_policy(policy_id, pattern, matches_immutable).await?;
        self.mark_alive_tags(&mut *tx, repo.id, &compiled, matches_immutable, now).await?;
        let data = json!({ "policy_id": policy_id, "tag_pattern": pattern, "tag_pattern_matches": matches_immutable, "previous_pattern": policy.pattern });
        tx.insert_audit(&self.audit(caller, &repo, "update_immutability_policy", data, now)).await?;
        tx.commit().await?;
        (policy.pattern, policy.matches_immutable) = (pattern.to_owned(), matches_immutable);
        Ok(policy)
    }

    /// Marks the repository's alive tags a policy covers immutable (clearing their expiration
    /// unless immutable tags may expire); returns how many changed.
    pub(crate) async fn mark_alive_tags(
        &self,
        tx: &mut dyn Tx,
        repository_id: i64,
        pattern: &TagPattern,
        matches_immutable: bool,
        now: Millis,
    ) -> Result<u64> {
        let mut marked = 0;
        for t in tx.alive_tags(repository_id, now).await? {
            if !t.immutable && rules::policy_applies(pattern, matches_immutable, &t.name) {
                tx.set_tag_immutable(t.id, true).await?;
                if t.lifetime_end_ms.is_some() && !self.config.allow_expiration_on_immutable {
                    tx.set_tag_end(t.id, TagEnd::Never).await?;
                }
                marked += 1;
            }
        }
        Ok(marked)
    }

    /// The policies that apply to the repository: the namespace's and its own (repository admins).
    pub async fn repository_policies(&self, caller: &Caller, path: &RepoPath) -> Result<Vec<ImmutabilityPolicy>> {
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        let mut tx = self.store.begin().await?;
        tx.policies(repo.namespace_id, Some(repo.id)).await
    }

    /// The alive tags a new policy would mark immutable (those not immutable already), so the UI
    /// can show them before the policy is saved. Same validation as saving.
    pub async fn preview_policy(&self, caller: &Caller, path: &RepoPath, pattern: &str, matches_immutable: bool) -> Result<Vec<String>> {
        let compiled = TagPattern::parse(pattern)?;
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        let mut tx = self.store.begin().await?;
        let mut names: Vec<String> = tx
            .alive_tags(repo.id, self.clock.now_ms())
            .await?
            .into_iter()
            .filter(|t| !t.immutable && rules::policy_applies(&compiled, matches_immutable, &t.name))
            .map(|t| t.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// How long ended tag rows of the repository stay restorable (its namespace's window), for
    /// anyone who may read the repository.
    pub async fn time_machine_of(&self, caller: &Caller, path: &RepoPath) -> Result<i64> {
        Ok(self.readable(caller, path).await?.time_machine_s)
    }

    /// A namespace with its settings (namespace admins).
    pub async fn namespace(&self, caller: &Caller, name: &NamespaceName) -> Result<Namespace> {
        let ns = self.store.namespace_by_name(name).await?;
        self.authorize_namespace(caller, ns.as_ref(), name, Role::Admin).await?;
        ns.ok_or_else(|| Error::not_found(format!("Namespace '{name}' not found")))
    }

    /// Deletes a policy; tags it marked stay immutable.
    pub async fn delete_repository_policy(&self, caller: &Caller, path: &RepoPath, policy_id: &str) -> Result<()> {
        let Locked { mut tx, repo, now } = self.lock(caller, path, Role::Admin).await?;
        own_policy(&mut *tx, &repo, policy_id).await?;
        if !tx.delete_policy(policy_id).await? {
            return Err(Error::not_found("Immutability policy not found"));
        }
        let audit = self.audit(caller, &repo, "delete_immutability_policy", json!({ "policy_id": policy_id }), now);
        tx.insert_audit(&audit).await?;
        tx.commit().await
    }
}

impl Registry {
    // ---- blobs and uploads (/v2) ----------------------------------------------------------

    /// The size of a blob the caller may read in the repository.
    pub async fn blob_size(&self, caller: &Caller, path: &RepoPath, digest: &Digest) -> Result<i64> {
        let repo = self.readable(caller, path).await?;
        self.store.blob_size(repo.id, digest).await?.ok_or_else(|| blob_not_found(digest))
    }

    /// Starts an upload (creating the repository on a first push) and returns its id.
    pub async fn start_upload(&self, caller: &Caller, path: &RepoPath) -> Result<String> {
        let Locked { mut tx, repo, now } = self.lock_for_push(caller, path).await?;
        let id = tx.insert_upload(repo.id, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Checks that an upload in progress belongs to the repository and the caller may write it.
    pub async fn check_upload(&self, caller: &Caller, path: &RepoPath, upload_id: &str) -> Result<()> {
        let Some(repo) = self.store.repository(path).await? else { return Err(self.missing(caller, path).await) };
        self.authorize(caller, &repo, Role::Write).await?;
        match self.store.upload_repository(upload_id).await? {
            Some(id) if id == repo.id => Ok(()),
            _ => Err(Error::not_found("Upload not found")),
        }
    }

    /// Records a verified blob in the repository and ends its upload (if it had one). Called
    /// after the blob store has the content under its digest.
    pub async fn complete_upload(
        &self,
        caller: &Caller,
        path: &RepoPath,
        upload_id: Option<&str>,
        digest: &Digest,
        size: i64,
    ) -> Result<()> {
        let Locked { mut tx, repo, now } = self.lock_for_push(caller, path).await?;
        if let Some(id) = upload_id {
            if !tx.delete_upload(id).await? {
                return Err(Error::not_found("Upload not found"));
            }
        }
        tx.link_blob(repo.id, digest, size, now).await?;
        self.blob_still_stored(digest).await?;
        tx.commit().await
    }

    /// Called holding a new blob link, before it is committed: a garbage collection that
    /// deleted this digest's row committed before the link could be made, and its file may be
    /// gone with it. Then the push fails (and is retried) instead of linking nothing.
    async fn blob_still_stored(&self, digest: &Digest) -> Result<()> {
        if self.blob_files.exists(digest).await? {
            Ok(())
        } else {
            Err(Error::BlobUnknown(format!("Blob {digest} was reclaimed while it was linked; upload it again")))
        }
    }

    pub async fn cancel_upload(&self, caller: &Caller, path: &RepoPath, upload_id: &str) -> Result<()> {
        self.check_upload(caller, path, upload_id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_upload(upload_id).await?;
        tx.commit().await
    }

    /// Lets `path` read a blob of `from` (cross-repository mount). `None` when `from` lacks it or
    /// the caller may not read it: the client then uploads instead.
    pub async fn mount_blob(&self, caller: &Caller, path: &RepoPath, from: &RepoPath, digest: &Digest) -> Result<Option<i64>> {
        let size = match self.readable(caller, from).await {
            Ok(src) => self.store.blob_size(src.id, digest).await?,
            Err(_) => None,
        };
        let Some(size) = size else { return Ok(None) };
        let Locked { mut tx, repo, now } = self.lock_for_push(caller, path).await?;
        tx.link_blob(repo.id, digest, size, now).await?;
        if self.blob_still_stored(digest).await.is_err() {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(size))
    }

    /// Removes the repository's link to a blob (the bytes go with garbage collection).
    pub async fn delete_blob(&self, caller: &Caller, path: &RepoPath, digest: &Digest) -> Result<()> {
        let Locked { mut tx, repo, .. } = self.lock(caller, path, Role::Write).await?;
        if !tx.unlink_blob(repo.id, digest).await? {
            return Err(blob_not_found(digest));
        }
        tx.commit().await
    }

    /// The repository's tag version: it changes whenever any of its tags does (live pages
    /// follow it). Readers of the repository only.
    pub async fn tag_version(&self, caller: &Caller, path: &RepoPath) -> Result<i64> {
        Ok(self.readable(caller, path).await?.tag_version)
    }

    /// Alive tag names in name order, after `last`, at most `n` (1..=10,000; default 10,000), and
    /// whether more follow.
    pub async fn tag_names(
        &self,
        caller: &Caller,
        path: &RepoPath,
        last: Option<&str>,
        n: Option<u32>,
    ) -> Result<(Arc<Vec<String>>, bool)> {
        let repo = self.readable(caller, path).await?;
        let n = n.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
        let now = self.clock.now_ms();
        let key = (repo.id, last.map(str::to_owned), n);
        let read = || {
            let (store, last) = (self.store.clone(), last.map(str::to_owned));
            async move {
                let (names, next_end) = store.tag_names(repo.id, last.as_deref(), n + 1, now).await?;
                let (names, more) = truncated(names, n);
                Ok(((Arc::new(names), more), next_end))
            }
        };
        self.tag_lists.get_or_load(key, repo.tag_version, now, read).await
    }

    /// Repositories the caller may read, in name order, after `last`, at most `n` (1..=10,000),
    /// and whether more follow.
    pub async fn catalog(&self, caller: &Caller, last: Option<&str>, n: Option<u32>) -> Result<(Vec<RepoPath>, bool)> {
        let n = n.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
        let repos = self.store.catalog(last, n + 1, viewer(caller)).await?;
        Ok(truncated(repos, n))
    }

    /// Manifests whose `subject` is `digest`, optionally only of one artifact type.
    pub async fn referrers(
        &self,
        caller: &Caller,
        path: &RepoPath,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<(Manifest, Vec<u8>)>> {
        let repo = self.readable(caller, path).await?;
        let mut found = self.store.referrers(repo.id, digest).await?;
        if let Some(t) = artifact_type {
            found.retain(|(m, _)| m.artifact_type.as_deref() == Some(t));
        }
        Ok(found)
    }

    /// A manifest by digest, or the one an alive tag points at.
    pub async fn resolve_manifest(&self, caller: &Caller, path: &RepoPath, reference: &ManifestRef) -> Result<(Manifest, Vec<u8>)> {
        match reference {
            ManifestRef::Digest(d) => self.manifest(caller, path, d).await,
            ManifestRef::Tag(t) => {
                let repo = self.readable(caller, path).await?;
                let q = HistoryQuery { only_active: true, specific_tag: Some(t.to_string()), page: 1, limit: 1, ..Default::default() };
                let row = self
                    .store
                    .tag_history(repo.id, &q, self.clock.now_ms())
                    .await?
                    .items
                    .into_iter()
                    .next()
                    .ok_or_else(|| tag_not_found(t))?;
                let m = self
                    .store
                    .manifest_by_digest(repo.id, &row.tag.manifest_digest)
                    .await?
                    .ok_or_else(|| manifest_not_found(&row.tag.manifest_digest))?;
                let bytes = self.store.manifest_bytes(m.id).await?;
                Ok((m, bytes))
            }
        }
    }
}

/// The longest `/v2` tag or catalog page.
pub const MAX_LIST: u32 = 10_000;

/// A `/v2` manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    Tag(TagName),
    Digest(Digest),
}

impl ManifestRef {
    /// A digest when it has `algorithm:`, else a tag.
    pub fn parse(s: &str) -> Result<Self> {
        if s.contains(':') {
            Ok(Self::Digest(Digest::parse(s)?))
        } else {
            Ok(Self::Tag(TagName::parse(s)?))
        }
    }
}

fn truncated<T>(mut items: Vec<T>, n: u32) -> (Vec<T>, bool) {
    let more = items.len() > n as usize;
    items.truncate(n as usize);
    (items, more)
}

fn blob_not_found(digest: &Digest) -> Error {
    Error::not_found(format!("Blob '{digest}' not found"))
}

/// Parses a history name filter (SPEC §2.2): `like:TEXT` or `eq:NAME`; no `:` is an error; an
/// unknown operation is ignored.
pub fn parse_name_filter(filter: Option<&str>) -> Result<Option<NameFilter>> {
    let Some(f) = filter.filter(|f| !f.is_empty()) else { return Ok(None) };
    let (op, arg) = f.split_once(':').ok_or_else(|| Error::invalid(format!("Invalid filter: {f} (expected like:TEXT or eq:NAME)")))?;
    Ok(match op {
        "like" => Some(NameFilter::Like(arg.to_owned())),
        "eq" => Some(NameFilter::Eq(arg.to_owned())),
        _ => None,
    })
}

/// The store's query for these listing parameters (the name filter parsed, page and limit
/// bounded).
fn history_query(p: &HistoryParams) -> Result<HistoryQuery> {
    Ok(HistoryQuery {
        only_active: p.only_active,
        specific_tag: p.specific_tag.clone().filter(|s| !s.is_empty()),
        name_filter: parse_name_filter(p.filter.as_deref())?,
        page: p.page.unwrap_or(1).clamp(1, u32::MAX as i64) as u32,
        limit: p.limit.unwrap_or(50).clamp(1, 100) as u32,
        as_of: p.as_of,
        order: p.order,
        cursor: p.cursor,
    })
}

/// Whether `role` (the caller's on `repo`) is enough for `needed`, as the refusal to give if not.
fn permit(caller: &Caller, repo: &Repository, role: Option<Role>, needed: Role) -> Result<()> {
    match role {
        Some(r) if r >= needed => Ok(()),
        // A private repository is not revealed to someone who cannot read it.
        None => Err(refused(caller)),
        Some(_) if caller.principal == Principal::Anonymous => Err(Error::Unauthorized),
        Some(_) => Err(Error::Forbidden(format!("You need {} permission on {}", needed.as_str(), repo.path))),
    }
}

/// The refusal for a repository the caller may not see: sign in (401) or not allowed (403).
fn refused(caller: &Caller) -> Error {
    match caller.principal {
        Principal::Anonymous => Error::Unauthorized,
        _ => Error::Forbidden("You do not have permission for this repository".into()),
    }
}

pub(crate) fn viewer(caller: &Caller) -> Viewer {
    match &caller.principal {
        p if p.is_superuser() => Viewer::Everything,
        Principal::User(a) => Viewer::User(a.id),
        _ => Viewer::Anonymous,
    }
}

fn repo_not_found(path: &RepoPath) -> Error {
    Error::RepositoryNotFound(format!("Repository '{path}' not found"))
}

fn manifest_not_found(digest: &Digest) -> Error {
    Error::not_found(format!("Manifest '{digest}' not found"))
}

fn tag_not_found(tag: &TagName) -> Error {
    Error::not_found(format!("Tag '{tag}' not found"))
}

fn label_not_found() -> Error {
    Error::not_found("Label not found")
}

/// One of the repository's own policies (not its namespace's); any other id is not found.
async fn own_policy(tx: &mut dyn Tx, repo: &Repository, policy_id: &str) -> Result<ImmutabilityPolicy> {
    tx.policies(repo.namespace_id, Some(repo.id))
        .await?
        .into_iter()
        .find(|p| p.id == policy_id && p.repository_id == Some(repo.id))
        .ok_or_else(|| Error::not_found("Immutability policy not found"))
}
