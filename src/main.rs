//! `quayside`: the registry server, its migrations and its demo data, in one binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use quayside::{demo, startup, Settings};
use registry::Caller;

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
