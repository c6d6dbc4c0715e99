//! The UI's server-side sessions (tower-sessions with its sqlx stores, in the same database as
//! the registry) and the cross-site request check for cookie-authenticated requests.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tower_sessions::cookie::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The session cookie's name.
pub const COOKIE: &str = "quayside_session";
/// A session ends after this long without a request.
pub const IDLE_HOURS: i64 = 12;

/// The session store of the configured backend.
#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    /// Connects to the registry's database (its own small pool) and creates the session table.
    pub async fn open(database_url: &str) -> anyhow::Result<Self> {
        let store = if database_url.starts_with("sqlite:") {
            let options = database_url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(2).connect_with(options).await?;
            let store = SqliteStore::new(pool);
            store.migrate().await?;
            Self::Sqlite(store)
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(database_url).await?;
            let store = PostgresStore::new(pool);
            store.migrate().await?;
            Self::Postgres(store)
        };
        Ok(store)
    }

    /// The layer that loads and saves sessions. `secure`: the cookie only travels over TLS.
    pub fn layer(&self, secure: bool) -> SessionManagerLayer<Self> {
        SessionManagerLayer::new(self.clone())
            .with_name(COOKIE)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(secure)
            .with_expiry(Expiry::OnInactivity(Duration::hours(IDLE_HOURS)))
    }

    /// Deletes expired sessions every hour, for as long as the server runs.
    pub fn spawn_cleanup(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(e) = store.delete_expired().await {
                    tracing::warn!(error = %e, "cannot delete expired sessions");
                }
            }
        });
    }
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(s) => s.load(id).await,
            Self::Postgres(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete_expired().await,
            Self::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// Refuses a state-changing request that carries the session cookie unless its `Origin` (or,
/// without one, its `Referer`) is this server. Browsers send `Origin` on every cross-site POST,
/// so a form on another site cannot act with the user's session; `SameSite=Lax` is the second
/// line. Requests without the cookie (API clients with tokens) are not affected.
pub async fn same_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || !has_session_cookie(&req) {
        return next.run(req).await;
    }
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let source = req.headers().get(header::ORIGIN).or_else(|| req.headers().get(header::REFERER)).and_then(|h| h.to_str().ok());
    match (host, source.and_then(authority)) {
        (Some(host), Some(from)) if from.eq_ignore_ascii_case(host) => next.run(req).await,
        _ => (StatusCode::FORBIDDEN, Json(json!({ "message": "Cross-site request refused: it did not come from this server's pages" })))
            .into_response(),
    }
}

fn has_session_cookie(req: &Request) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().split_once('=').is_some_and(|(name, _)| name == COOKIE))
}

/// `host[:port]` of an `Origin` or `Referer` URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn authority_of_origin_and_referer() {
        assert_eq!(authority("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(authority("https://reg.example/repository/a/b?x=1"), Some("reg.example"));
        assert_eq!(authority("null"), None);
        assert_eq!(authority("http://"), None);
    }
}
