//! Test support: a registry on a fresh SQLite file or a fresh PostgreSQL database, with a fixed clock.
#![allow(dead_code)]

use std::sync::Arc;

use quayside::db::SqlStore;
use registry::*;
use sqlx::{Connection, Executor};

/// 2026-01-01T00:00:00Z.
pub const T0: Millis = 1_767_225_600_000;

pub struct Fixture {
    pub reg: Registry,
    pub clock: Arc<FixedClock>,
    pub store: SqlStore,
    pub repo: RepoPath,
    pub admin: Caller,
    /// The database's URL (for tests that reach past the store).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the test command started: `QUAYSIDE_TEST_POSTGRES_URL`, without a database
/// name (e.g. `postgres://postgres@127.0.0.1:55432`). Each test gets a database of its own.
pub fn postgres_server() -> String {
    std::env::var("QUAYSIDE_TEST_POSTGRES_URL")
        .expect("QUAYSIDE_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts a private PostgreSQL 15 cluster")
}

/// A new, empty PostgreSQL database on the test cluster; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let server = postgres_server();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.expect("connect to the test cluster");
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
    admin.close().await.ok();
    format!("{server}/{name}")
}

pub async fn open_store(backend: Backend) -> (SqlStore, Option<tempfile::TempDir>) {
    let (store, dir, _) = open_store_at(backend).await;
    (store, dir)
}

/// Like [`open_store`], with the database URL (the session store opens its own pool on it).
pub async fn open_store_at(backend: Backend) -> (SqlStore, Option<tempfile::TempDir>, String) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (SqlStore::open(&url).await.expect("open sqlite"), Some(dir), url)
        }
        Backend::Postgres => {
            let url = fresh_postgres_database().await;
            (SqlStore::open(&url).await.expect("open postgres"), None, url)
        }
    }
}

/// Leptos spawns its rendering tasks through one process-wide executor; test processes run
/// several tokio runtimes at once (one per test), and pages rendered on two of them at the same
/// time can lose a wake-up and never finish (seen about once in six runs of tests/http.rs). The
/// server has one runtime and is not affected (measured: 16 concurrent clients on the pages,
/// no timeouts). Tests that go through the Leptos handler take this lock.
pub async fn serial_pages() -> tokio::sync::MutexGuard<'static, ()> {
    static PAGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    PAGES.lock().await
}

/// The superuser every HTTP test registry starts with.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// The server's password hashing and tokens.
pub fn secrets() -> Arc<dyn Secrets> {
    Arc::new(quayside::auth::ServerSecrets::new().expect("secrets"))
}

/// An `Authorization: Basic` value.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The server's state around `registry` (which must have [`secrets`]), with the superuser
/// [`ADMIN_USER`] created.
pub async fn app_state(registry: Registry, url: &str, blobs: quayside::blobs::BlobStore) -> quayside::startup::AppState {
    registry.bootstrap_admin(ADMIN_PASSWORD).await.expect("admin user");
    let options = quayside::startup::leptos_options("127.0.0.1:0".parse().unwrap(), "target/site".into());
    quayside::startup::AppState::with_registry(registry, url, blobs, options).await.expect("app state")
}

pub async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, Config::default()).await
}

pub async fn fixture_with(backend: Backend, config: Config) -> Fixture {
    let (store, dir, url) = open_store_at(backend).await;
    let clock = Arc::new(FixedClock::new(T0));
    let reg = Registry::new(Arc::new(store.clone()), clock.clone(), config).with_secrets(secrets());
    let repo = RepoPath::parse("acme/app").unwrap();
    let admin = Caller::system();
    reg.create_repository(&admin, &repo, Visibility::Private, "test").await.unwrap();
    Fixture { reg, clock, store, repo, admin, url, _dir: dir }
}

pub fn tag(s: &str) -> TagName {
    TagName::parse(s).unwrap()
}

impl Fixture {
    /// Pushes a single-layer image whose config has `labels`, tagged `tag`.
    pub async fn push(&self, tag_name: &str, seed: &str, labels: &[(&str, &str)]) -> Result<Manifest> {
        let m = quayside::demo::image("amd64", seed, &[1000], labels);
        self.reg.put_manifest(&self.admin, &self.repo, m, Some(&tag(tag_name))).await
    }

    /// Pushes an image by digest only (no tag).
    pub async fn push_untagged(&self, seed: &str, labels: &[(&str, &str)]) -> Manifest {
        let m = quayside::demo::image("amd64", seed, &[1000], labels);
        self.reg.put_manifest(&self.admin, &self.repo, m, None).await.unwrap()
    }

    pub async fn history(&self, p: HistoryParams) -> Page<TagView> {
        self.reg.tag_history(&self.admin, &self.repo, &p).await.unwrap()
    }

    /// Every row of the history (all pages), newest first.
    pub async fn all_rows(&self) -> Vec<Tag> {
        let mut rows = Vec::new();
        for page in 1.. {
            let p = self.history(HistoryParams { page: Some(page), limit: Some(100), ..Default::default() }).await;
            rows.extend(p.items.into_iter().map(|v| v.tag));
            if !p.has_additional {
                break;
            }
        }
        rows
    }

    pub async fn alive(&self, name: &str) -> Option<Tag> {
        let p = self
            .history(HistoryParams { only_active: true, specific_tag: Some(name.into()), limit: Some(100), ..Default::default() })
            .await;
        assert!(p.items.len() <= 1, "more than one alive row for {name}: {:?}", p.items);
        p.items.into_iter().next().map(|v| v.tag)
    }

    pub async fn actions(&self) -> Vec<String> {
        let log = self.reg.audit_log(&self.admin, &self.repo, &AuditParams { limit: Some(100), ..Default::default() }).await.unwrap();
        log.items.into_iter().rev().map(|e| e.action).collect()
    }

    /// Creates a user (password `NAME-password`) and returns them signed in, with their account.
    pub async fn account(&self, name: &str, superuser: bool) -> (Caller, Account) {
        let account = self.reg.create_user(&self.admin, name, &format!("{name}-password"), superuser).await.unwrap();
        (Caller { principal: Principal::User(account.clone()), address: None }, account)
    }

    /// Creates a user with `role` on the fixture's repository and returns them signed in.
    pub async fn user(&self, name: &str, role: Role) -> Caller {
        let (caller, _) = self.account(name, false).await;
        self.reg.set_permission(&self.admin, &self.repo, name, role).await.unwrap();
        caller
    }

    /// An existing user, signed in with their password.
    pub async fn signed_in(&self, name: &str) -> Caller {
        let account = self.reg.sign_in(name, &format!("{name}-password"), None).await.unwrap();
        Caller { principal: Principal::User(account), address: None }
    }

    pub fn advance(&self, ms: Millis) {
        self.clock.advance(ms);
    }

    pub fn now(&self) -> Millis {
        self.reg.now_ms()
    }
}
