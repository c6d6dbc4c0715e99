//! `quayside`: the registry server, its migrations and its demo data, in one binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use quayside::{demo, startup, Settings};
use registry::Caller;

/// mimalloc, not glibc's malloc: rendering a page allocates many small strings, and under load
/// (the history page at 16 clients, profiled with perf) glibc's allocator took a quarter of the
/// server's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Reclaim what the time machine no longer keeps: expired tag rows, then unreferenced
    /// manifests, blob links and blobs, then abandoned uploads.
    Gc {
        /// Print what would be removed and the bytes reclaimed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// For the crash-safety test: stop inside the pass once the first file is removed.
        #[arg(long, hide = true)]
        pause_after_first_removal: bool,
        #[command(flatten)]
        gc: GcArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Check every stored blob's file against its size and digest; exits 1 when one is missing
    /// or corrupt.
    Fsck(DbArgs),
}

#[derive(Args, Clone, Copy)]
struct GcArgs {
    /// Seconds a new manifest, blob link or blob is kept unreferenced (pushes in progress).
    #[arg(long, env = "QUAYSIDE_GC_GRACE", default_value_t = 86_400)]
    gc_grace: i64,
    /// Seconds after which an unfinished upload is abandoned.
    #[arg(long, env = "QUAYSIDE_GC_UPLOAD_AGE", default_value_t = 86_400)]
    gc_upload_age: i64,
}

impl GcArgs {
    fn options(self, dry_run: bool) -> registry::GcOptions {
        registry::GcOptions { dry_run, grace_ms: self.gc_grace.max(0) * 1000, upload_max_age_ms: self.gc_upload_age.max(0) * 1000 }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (and their namespace); the password is read from standard input.
    Add {
        name: String,
        /// Admin everywhere.
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (once: only its digest is stored).
    Create {
        #[arg(long)]
        user: String,
        /// What the token is for.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
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
    /// On first start (no user yet), create the superuser `admin` with this password.
    #[arg(long, env = "QUAYSIDE_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Mark the session cookie `Secure` (set this when a TLS proxy serves Quayside).
    #[arg(long, env = "QUAYSIDE_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Let repository admins take a tag's history out of the time machine at once
    /// (`POST /api/v1/repository/{ns}/{repo}/tag/{tag}/expire`); off by default, as in Quay.
    #[arg(long, env = "QUAYSIDE_PERMANENT_TAG_EXPIRY")]
    permanent_tag_expiry: bool,
    /// Serve Prometheus metrics (request durations by route) at http://ADDR/metrics, a listener
    /// of their own; off by default.
    #[arg(long, env = "QUAYSIDE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Seconds between garbage collection passes in the server; 0 turns them off.
    #[arg(long, env = "QUAYSIDE_GC_INTERVAL", default_value_t = 3600)]
    gc_interval: u64,
    #[command(flatten)]
    gc: GcArgs,
    #[command(flatten)]
    db: DbArgs,
}

impl DbArgs {
    fn settings(self) -> Settings {
        Settings::new(self.data_dir, self.database_url)
    }
}

/// The first line of standard input, without its line end.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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
            Command::Serve(args) => {
                let opts = startup::ServeOptions {
                    listen: args.listen,
                    site_root: args.site_root,
                    admin_password: args.admin_password,
                    secure_cookies: args.secure_cookies,
                    config: registry::Config { allow_permanent_expiry: args.permanent_tag_expiry, ..Default::default() },
                    gc_interval: (args.gc_interval > 0).then(|| std::time::Duration::from_secs(args.gc_interval)),
                    gc: args.gc.options(false),
                    metrics_listen: args.metrics_listen,
                };
                startup::serve(args.db.settings(), opts).await
            }
            Command::Migrate(args) => startup::open(&args.settings()).await.map(|_| println!("database is up to date")),
            Command::Demo(args) => {
                let settings = args.settings();
                let store = startup::open(&settings).await?;
                demo::seed(&startup::registry(store)?).await
            }
            Command::User(UserCommand::Add { name, superuser, db }) => {
                let registry = startup::registry(startup::open(&db.settings()).await?)?;
                let password = read_password()?;
                let account = registry.create_user(&Caller::system(), &name, &password, superuser).await?;
                println!("created user {}{}", account.name, if superuser { " (superuser)" } else { "" });
                Ok(())
            }
            Command::Gc { dry_run, pause_after_first_removal, gc, db } => {
                let settings = db.settings();
                let mut blobs: std::sync::Arc<dyn registry::BlobFiles> =
                    std::sync::Arc::new(quayside::blobs::BlobStore::open(&settings.data_dir)?);
                if pause_after_first_removal {
                    blobs = std::sync::Arc::new(quayside::gc::PauseAfterFirstRemoval(blobs));
                }
                let registry = startup::registry(startup::open(&settings).await?)?.with_blob_files(blobs);
                let report = registry.collect_garbage(&Caller::system(), &gc.options(dry_run)).await?;
                print!("{}", quayside::gc::describe(&report));
                Ok(())
            }
            Command::Fsck(db) => {
                let settings = db.settings();
                let blobs = quayside::blobs::BlobStore::open(&settings.data_dir)?;
                let registry = startup::registry(startup::open(&settings).await?)?.with_blob_files(std::sync::Arc::new(blobs));
                let report = registry.check_blobs(&Caller::system()).await?;
                println!("checked {} blobs, {} bytes", report.blobs_checked, report.bytes_checked);
                for d in &report.missing {
                    println!("missing: {d}");
                }
                for d in &report.corrupt {
                    println!("corrupt: {d}");
                }
                for d in &report.leftover {
                    println!("leftover: {d} (no file, nothing uses it; the next garbage collection removes it)");
                }
                if !report.healthy() {
                    anyhow::bail!("{} blobs missing, {} corrupt", report.missing.len(), report.corrupt.len());
                }
                if report.leftover.is_empty() {
                    println!("every blob is intact");
                } else {
                    println!("every blob in use is intact; {} leftover rows await garbage collection", report.leftover.len());
                }
                Ok(())
            }
            Command::Token(TokenCommand::Create { user, name, db }) => {
                let registry = startup::registry(startup::open(&db.settings()).await?)?;
                println!("{}", registry.create_token(&Caller::system(), &user, &name).await?);
                Ok(())
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
