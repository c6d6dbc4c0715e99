//! Seeds a repository with a long tag history for `benches/history.sh`: `bench/history` (public),
//! one manifest, and `--rows` history rows over `--tags` tag names, written in bulk through the
//! storage layer ([`SqlStore::seed_history`]).
//!
//! `cargo run --release --example seed_history -- --database-url URL --rows 1000000`

use std::sync::Arc;

use clap::Parser;
use quayside::db::SqlStore;
use registry::{Caller, Clock, Config, Registry, RepoPath, SystemClock, TagName, Visibility};

#[derive(Parser)]
struct Args {
    /// `sqlite://PATH?mode=rwc` or `postgres://…` (migrated here if new).
    #[arg(long)]
    database_url: String,
    /// History rows in all.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Tag names the rows are spread over (each moves rows / tags times).
    #[arg(long, default_value_t = 1_000)]
    tags: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = SqlStore::open(&args.database_url).await?;
    let registry = Registry::new(Arc::new(store.clone()), Arc::new(SystemClock), Config::default());
    let system = Caller::system();
    let path = RepoPath::parse("bench/history")?;
    registry.create_repository(&system, &path, Visibility::Public, "history benchmark").await?;
    let manifest = quayside::demo::image("amd64", "history", &[1000, 234], &[]);
    let manifest = registry.put_manifest(&system, &path, manifest, Some(&TagName::parse("seed")?)).await?;
    let repository = registry.repository(&system, &path).await?;
    let rows = store.seed_history(repository.id, manifest.id, args.rows, args.tags.max(1), SystemClock.now_ms()).await?;
    println!("bench/history: {rows} history rows over {} tags", args.tags);
    Ok(())
}
