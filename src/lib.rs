//! The Quayside server: storage backends, start-up and the HTTP surfaces around the registry
//! service (the service itself lives in the `registry` crate).

pub mod api_v1;
pub mod auth;
pub mod blobs;
pub mod db;
pub mod demo;
pub mod events;
pub mod gc;
pub mod metrics;
pub mod sessions;
pub mod startup;
pub mod v2;

use std::path::PathBuf;

/// Where the server keeps its state.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
}

impl Settings {
    /// `database_url` defaults to SQLite at `DATA_DIR/quayside.db`.
    pub fn new(data_dir: PathBuf, database_url: Option<String>) -> Self {
        let database_url = database_url.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("quayside.db").display()));
        Self { data_dir, database_url }
    }
}
