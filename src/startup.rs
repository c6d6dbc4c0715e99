//! Start-up: open the database, build the services once, build the router, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use registry::{Caller, Config, Registry, SystemClock};
use tower_sessions::Session;

use crate::auth::{Auth, ServerSecrets, SESSION_USER};
use crate::blobs::BlobStore;
use crate::db::SqlStore;
use crate::sessions::{same_origin, Sessions};
use crate::Settings;

/// The name cargo-leptos gives the site's files (`pkg/quayside.{js,wasm,css}`), from Cargo.toml.
pub const OUTPUT_NAME: &str = "quayside";

/// Everything a request handler may need, built once at start-up.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub registry: Registry,
    pub blobs: BlobStore,
    pub auth: Auth,
    pub sessions: Sessions,
    /// Session cookies only over TLS (set when a TLS proxy fronts the server).
    pub secure_cookies: bool,
    /// The first start's one-time setup code (empty once used or when users exist).
    pub setup: app::api::SetupCode,
}

impl AppState {
    /// Builds the services on an open store: the registry with the server's secrets, the
    /// credential resolver (its signing key lives in the database) and the session store.
    pub async fn new(store: SqlStore, database_url: &str, blobs: BlobStore, leptos_options: LeptosOptions) -> anyhow::Result<Self> {
        Self::with_registry(registry(store)?, database_url, blobs, leptos_options).await
    }

    /// Like [`AppState::new`] around a registry built elsewhere (tests fix its clock).
    pub async fn with_registry(
        registry: Registry,
        database_url: &str,
        blobs: BlobStore,
        leptos_options: LeptosOptions,
    ) -> anyhow::Result<Self> {
        // Garbage collection removes, and pushes check, the files of this blob store.
        let registry = registry.with_blob_files(Arc::new(blobs.clone()));
        let auth = Auth::new(registry.clone()).await?;
        let sessions = Sessions::open(database_url).await.context("cannot open the session store")?;
        Ok(Self { leptos_options, registry, blobs, auth, sessions, secure_cookies: false, setup: Default::default() })
    }
}

/// Opens (and migrates) the database named by the settings; creates the data dir.
pub async fn open(settings: &Settings) -> anyhow::Result<SqlStore> {
    std::fs::create_dir_all(settings.data_dir.join("blobs"))
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    Ok(SqlStore::open(&settings.database_url).await?)
}

/// The service with the server's clock and secrets and the default rules.
pub fn registry(store: SqlStore) -> anyhow::Result<Registry> {
    registry_with(store, Config::default())
}

/// The service with the server's clock and secrets and the operator's rules.
pub fn registry_with(store: SqlStore, config: Config) -> anyhow::Result<Registry> {
    Ok(Registry::new(Arc::new(store), Arc::new(SystemClock), config).with_secrets(Arc::new(ServerSecrets::new()?)))
}

pub fn leptos_options(listen: SocketAddr, site_root: PathBuf) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(listen)
        .build()
}

/// The whole HTTP surface; `main` and the tests both use it.
pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let (registry, setup) = (state.registry.clone(), state.setup.clone());
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(registry.clone());
        provide_context(setup.clone());
        provide_context(app::pages::api_docs::OpenApiDocument(crate::api_v1::openapi::document_value()));
    };
    Router::new()
        .leptos_routes_with_context(&state, routes, context, move || app::shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(middleware::from_fn(rpc_status))
        .layer(middleware::from_fn_with_state(state.auth.clone(), identify))
        // Pages, JSON and the wasm compress well; blobs and manifests (added below) are served
        // as stored, byte-exact and without spending CPU on compressed layers.
        .layer(tower_http::compression::CompressionLayer::new())
        .merge(crate::api_v1::router())
        .merge(crate::events::router())
        // The UI and /api/v1 know the session cookie; /v2 (below) only takes credentials.
        .layer(middleware::from_fn(same_origin))
        .layer(state.sessions.layer(state.secure_cookies))
        .route("/healthz", get(healthz))
        .merge(crate::v2::router())
        .layer(middleware::from_fn(crate::metrics::record))
        .with_state(state)
}

/// The client's address, for the audit log and sign-in throttling.
pub fn client_address(req: &Request) -> Option<String> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// Server functions answer every error with 500; this gives a refused call the status of its
/// error (401, 403, 404, 400, 409, 503…) so no client mistake reads as a server failure. Form
/// posts without JavaScript are redirects and pass unchanged.
async fn rpc_status(req: Request, next: Next) -> Response {
    let is_rpc = req.uri().path().starts_with("/rpc/");
    let resp = next.run(req).await;
    if !is_rpc || resp.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    parts.status = match serde_json::from_slice::<app::error::AppError>(&bytes) {
        Ok(app::error::AppError::Registry(e)) => crate::api_v1::status_of(&e),
        // The call did not reach the function: its arguments could not be read.
        Ok(app::error::AppError::Transport(_)) => StatusCode::BAD_REQUEST,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Puts the UI request's [`Caller`] (from the session) where server functions find it.
async fn identify(State(auth): State<Auth>, session: Session, mut req: Request, next: Next) -> Response {
    let user = session.get::<i64>(SESSION_USER).await.ok().flatten();
    let address = client_address(&req);
    // A browser sends no Authorization header; one that is wrong makes the page anonymous.
    let caller = match auth.caller(req.headers(), user, address.clone()).await {
        Ok(caller) => caller,
        Err(_) => Caller { principal: registry::Principal::Anonymous, address },
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

async fn healthz(State(registry): State<Registry>) -> (StatusCode, &'static str) {
    match registry.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}

/// How the server runs, beyond where its state lives.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub site_root: PathBuf,
    /// Creates the superuser `admin` with this password when no user exists.
    pub admin_password: Option<String>,
    pub secure_cookies: bool,
    /// The registry rules the operator chose.
    pub config: Config,
    /// Time between garbage collection passes (`None`: no background collection).
    pub gc_interval: Option<std::time::Duration>,
    pub gc: registry::GcOptions,
    /// Where to serve Prometheus metrics (`/metrics`); none: not served, not recorded.
    pub metrics_listen: Option<SocketAddr>,
}

pub async fn serve(settings: Settings, opts: ServeOptions) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    tracing::info!(database = %redact(&settings.database_url), backend = ?store.backend(), "database ready");
    let blobs =
        BlobStore::open(&settings.data_dir).with_context(|| format!("cannot open the blob store under {}", settings.data_dir.display()))?;
    let registry = registry_with(store, opts.config)?;
    let mut state = AppState::with_registry(registry, &settings.database_url, blobs, leptos_options(opts.listen, opts.site_root)).await?;
    state.secure_cookies = opts.secure_cookies;
    let listener = tokio::net::TcpListener::bind(opts.listen).await.with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let hint = first_start(&mut state, opts.admin_password.as_deref(), addr).await?;
    state.sessions.spawn_cleanup();
    if let Some(every) = opts.gc_interval {
        crate::gc::spawn(state.registry.clone(), every, opts.gc);
    }
    if let Some(at) = opts.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(at).await.with_context(|| format!("cannot listen on {at} for metrics"))?;
        println!("Metrics on http://{}/metrics", metrics.local_addr()?);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, crate::metrics::router()).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    println!("Quayside is serving on http://{addr}/");
    if let Some(hint) = hint {
        eprintln!("{hint}");
    }
    axum::serve(listener, build_router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// With no user yet: creates `admin` from `QUAYSIDE_ADMIN_PASSWORD`, or opens a one-time setup
/// link for the first visitor (printed for the operator).
async fn first_start(state: &mut AppState, admin_password: Option<&str>, addr: SocketAddr) -> anyhow::Result<Option<String>> {
    if state.registry.user_count().await.map_err(|e| anyhow::anyhow!("{e}"))? > 0 {
        return Ok(None);
    }
    Ok(Some(match admin_password {
        Some(pw) => {
            state.registry.bootstrap_admin(pw).await.map_err(|e| anyhow::anyhow!("cannot create the admin user: {e}"))?;
            "Created the superuser 'admin' from QUAYSIDE_ADMIN_PASSWORD.".to_owned()
        }
        None => {
            let mut code = [0u8; 24];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut code);
            let code = hex::encode(code);
            state.setup = app::api::SetupCode::new(code.clone());
            format!(
                "No user exists yet. Create the first superuser at http://{addr}/setup?code={code} (works once), \
                 or with `quayside user add NAME --superuser`."
            )
        }
    }))
}

/// The database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
