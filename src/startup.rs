//! Start-up: open the database, build the services once, build the router, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use registry::{Config, Registry, SystemClock};

use crate::blobs::BlobStore;
use crate::db::SqlStore;
use crate::Settings;

/// The name cargo-leptos gives the site's files (`pkg/quayside.{js,wasm,css}`), from Cargo.toml.
pub const OUTPUT_NAME: &str = "quayside";

/// Everything a request handler may need, built once at start-up.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub registry: Registry,
    pub blobs: BlobStore,
}

/// Opens (and migrates) the database named by the settings; creates the data dir.
pub async fn open(settings: &Settings) -> anyhow::Result<SqlStore> {
    std::fs::create_dir_all(settings.data_dir.join("blobs"))
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    Ok(SqlStore::open(&settings.database_url).await?)
}

pub fn registry(store: SqlStore) -> Registry {
    Registry::new(Arc::new(store), Arc::new(SystemClock), Config::default())
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
    let registry = state.registry.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .leptos_routes_with_context(&state, routes, move || provide_context(registry.clone()), move || app::shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        // Pages, JSON and the wasm compress well; blobs and manifests (added below) are served
        // as stored, byte-exact and without spending CPU on compressed layers.
        .layer(tower_http::compression::CompressionLayer::new())
        .route("/healthz", get(healthz))
        .merge(crate::v2::router())
        .merge(crate::api_v1::router())
        .with_state(state)
}

async fn healthz(State(registry): State<Registry>) -> (StatusCode, &'static str) {
    match registry.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}

pub async fn serve(settings: Settings, listen: SocketAddr, site_root: PathBuf) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    tracing::info!(database = %redact(&settings.database_url), backend = ?store.backend(), "database ready");
    let blobs =
        BlobStore::open(&settings.data_dir).with_context(|| format!("cannot open the blob store under {}", settings.data_dir.display()))?;
    let state = AppState { leptos_options: leptos_options(listen, site_root), registry: registry(store), blobs };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    println!("Quayside is serving on http://{addr}/");
    axum::serve(listener, build_router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
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
