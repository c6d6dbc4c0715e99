//! `quayside`: the registry server, its migrations and its demo data, in one binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use quayside::{demo, startup, Settings};

#[derive(Parser)]
#[command(name = "quayside", version, about = "A container registry with an admin web UI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI, /v2/ and /api/v1/ on one port (migrates the database first).
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(DbArgs),
    /// Fill an empty registry with demo repositories, tags with history, and labels.
    Demo(DbArgs),
}

#[derive(Args)]
struct DbArgs {
    /// Where blobs and the embedded database live.
    #[arg(long, env = "QUAYSIDE_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`; default: SQLite at DATA_DIR/quayside.db.
    #[arg(long, env = "QUAYSIDE_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "QUAYSIDE_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// The built site (JS, wasm, CSS, assets), as `cargo leptos build` leaves it.
    #[arg(long, env = "QUAYSIDE_SITE_ROOT", default_value = "target/site")]
    site_root: PathBuf,
    #[command(flatten)]
    db: DbArgs,
}

impl DbArgs {
    fn settings(self) -> Settings {
        Settings::new(self.data_dir, self.database_url)
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("QUAYSIDE_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quayside: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => startup::serve(args.db.settings(), args.listen, args.site_root).await,
            Command::Migrate(args) => startup::open(&args.settings()).await.map(|_| println!("database is up to date")),
            Command::Demo(args) => {
                let settings = args.settings();
                let store = startup::open(&settings).await?;
                demo::seed(&startup::registry(store)).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quayside: {e:#}");
            ExitCode::FAILURE
        }
    }
}
