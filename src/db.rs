//! The registry store on sqlx: one implementation of [`registry::store::Store`] for SQLite and
//! PostgreSQL, chosen at runtime from the database URL.
//!
//! The SQL is written once in the dialect both accept (`$N` parameters, `RETURNING`, partial
//! indexes); the few differences are in [`Backend`]. Each backend has its own migrations directory
//! with the same version numbers. SQLite gets a single writer connection (writes are serialized,
//! readers run beside it in WAL mode); PostgreSQL serializes writes per repository with a row lock.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use registry::rules::RowLinks;
use registry::store::*;
use registry::*;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Connection as _, Executor, Row, Transaction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why the database could not be opened: one line for the operator, never sent to a client.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL (expected sqlite://… or postgres://…): {0}")]
    Scheme(String),
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

#[derive(Clone)]
pub struct SqlStore {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
}

/// Logs a database error where it happens and hands the domain its generic error.
fn db_err(e: sqlx::Error) -> Error {
    tracing::error!(error = %e, "database error");
    Error::Storage
}

/// A stored value that breaks the schema's promises (a row the domain cannot read).
/// A `(digest, size)` row of the blob table.
fn blob_from(r: &AnyRow) -> Result<(Digest, i64)> {
    let digest: String = r.try_get("digest").map_err(db_err)?;
    Ok((Digest::parse(&digest).map_err(|_| corrupt("blob digest"))?, r.try_get("size").map_err(db_err)?))
}

fn corrupt(what: &str) -> Error {
    tracing::error!(what, "database holds a value the domain rejects");
    Error::Storage
}

impl SqlStore {
    /// Connects and migrates. `url` is `sqlite://PATH` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(OpenError::Scheme(url.split(':').next().unwrap_or_default().to_owned()));
        };
        let options = sqlx::any::AnyConnectOptions::from_str(url).map_err(OpenError::Connect)?;
        // One direct attempt first: a pool would retry an unreachable server until its timeout.
        sqlx::AnyConnection::connect_with(&options).await.map_err(OpenError::Connect)?.close().await.map_err(OpenError::Connect)?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                // A connection to the embedded file cannot go stale: checking each one on every
                // acquire was a round trip to its worker thread per query (a few % of a page's
                // time). A server's connections are checked, so one restart costs no failed query.
                .test_before_acquire(backend == Backend::Postgres)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 10000",
                            ] {
                                conn.execute(pragma).await?;
                            }
                        } else {
                            // The listings' optional filters (`$n IS NULL OR …`) make a poor generic
                            // plan: after a few deep pages PostgreSQL switched page 1 of a 1M-row
                            // history to a sequential scan (1 s instead of 0.2 ms). Plan each
                            // execution for its own values.
                            conn.execute("SET plan_cache_mode = force_custom_plan").await?;
                        }
                        Ok(())
                    })
                })
        };
        let (read, write) = match backend {
            Backend::Sqlite => {
                let write = pool(1).connect_with(options.clone()).await.map_err(OpenError::Connect)?;
                let read = pool(8).connect_with(options).await.map_err(OpenError::Connect)?;
                (read, write)
            }
            Backend::Postgres => {
                let p = pool(16).connect_with(options).await.map_err(OpenError::Connect)?;
                (p.clone(), p)
            }
        };
        let store = Self { backend, read, write };
        store.migrate().await?;
        Ok(store)
    }

    /// A listing cursor's row, with its place in the newest-first order (start, name), if it is
    /// one of the repository's rows.
    async fn cursor_row(&self, repository_id: i64, cursor: Cursor) -> Result<Option<(Cursor, Millis, String)>> {
        let row = sqlx::query("SELECT lifetime_start_ms, name FROM tag WHERE id = $1 AND repository_id = $2")
            .bind(cursor.id())
            .bind(repository_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.map(|row| Ok((cursor, row.try_get("lifetime_start_ms").map_err(db_err)?, row.try_get("name").map_err(db_err)?))).transpose()
    }

    /// Bulk history for benchmarks (`examples/seed_history.rs`): `rows` tag rows in the
    /// repository, all on `manifest_id`, over `names` tag names `t0`, `t1`, …; each name's rows
    /// follow one another a second apart (each ended by the next, the last one alive), the newest
    /// starting at `now`. One transaction, 500 rows per statement. Returns the rows written.
    pub async fn seed_history(&self, repository_id: i64, manifest_id: i64, rows: u64, names: u64, now: Millis) -> Result<u64> {
        const CHUNK: u64 = 500;
        let mut tx = self.write.begin().await.map_err(db_err)?;
        let mut first = 0;
        while first < rows {
            let n = CHUNK.min(rows - first);
            let values: Vec<String> = (0..n)
                .map(|k| {
                    let p = k * 5;
                    format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
                })
                .collect();
            let sql = format!(
                "INSERT INTO tag (repository_id, name, manifest_id, lifetime_start_ms, lifetime_end_ms) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for i in first..first + n {
                let start = now - i64::try_from((rows - 1 - i) * 1000).unwrap_or(i64::MAX / 2);
                let end = (i + names < rows).then(|| start + i64::try_from(names * 1000).unwrap_or(0));
                query = query.bind(repository_id).bind(format!("t{}", i % names)).bind(manifest_id).bind(start).bind(end);
            }
            query.execute(&mut *tx).await.map_err(db_err)?;
            first += n;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(rows)
    }

    pub async fn migrate(&self) -> Result<(), OpenError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&self.write).await.map_err(OpenError::Migrate)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

// ---- row mapping ---------------------------------------------------------------------------

const REPO_COLUMNS: &str =
    "r.id, r.namespace_id, n.name AS ns, r.name, r.visibility, r.state, r.description, r.tag_version, n.time_machine_s";

fn repository_from(row: &AnyRow) -> Result<Repository> {
    let ns: String = row.try_get("ns").map_err(db_err)?;
    let name: String = row.try_get("name").map_err(db_err)?;
    let visibility: String = row.try_get("visibility").map_err(db_err)?;
    let state: String = row.try_get("state").map_err(db_err)?;
    Ok(Repository {
        id: row.try_get("id").map_err(db_err)?,
        namespace_id: row.try_get("namespace_id").map_err(db_err)?,
        path: RepoPath::parse(&format!("{ns}/{name}")).map_err(|_| corrupt("repository name"))?,
        visibility: Visibility::parse(&visibility).ok_or_else(|| corrupt("visibility"))?,
        state: RepoState::parse(&state).ok_or_else(|| corrupt("state"))?,
        description: row.try_get("description").map_err(db_err)?,
        tag_version: row.try_get("tag_version").map_err(db_err)?,
        time_machine_s: row.try_get("time_machine_s").map_err(db_err)?,
    })
}

const MANIFEST_COLUMNS: &str =
    "m.id, m.repository_id, m.digest, m.media_type, m.config_media_type, m.layers_compressed_size, m.created_ms, m.subject_digest, m.artifact_type";

fn manifest_from(row: &AnyRow) -> Result<Manifest> {
    let digest: String = row.try_get("digest").map_err(db_err)?;
    Ok(Manifest {
        id: row.try_get("id").map_err(db_err)?,
        repository_id: row.try_get("repository_id").map_err(db_err)?,
        digest: Digest::parse(&digest).map_err(|_| corrupt("manifest digest"))?,
        media_type: row.try_get("media_type").map_err(db_err)?,
        config_media_type: row.try_get("config_media_type").map_err(db_err)?,
        layers_compressed_size: row.try_get("layers_compressed_size").map_err(db_err)?,
        created_ms: row.try_get("created_ms").map_err(db_err)?,
        subject_digest: row
            .try_get::<Option<String>, _>("subject_digest")
            .map_err(db_err)?
            .map(|d| Digest::parse(&d).map_err(|_| corrupt("subject digest")))
            .transpose()?,
        artifact_type: row.try_get("artifact_type").map_err(db_err)?,
    })
}

const TAG_COLUMNS: &str = "t.id, t.repository_id, t.name, t.manifest_id, m.digest, t.lifetime_start_ms, t.lifetime_end_ms, \
     t.reversion, t.immutable, t.hidden, t.expiring, m.media_type, m.layers_compressed_size";
const TAG_FROM: &str = "FROM tag t JOIN manifest m ON m.id = t.manifest_id";
const ALIVE: &str = "NOT t.hidden AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2)";

fn tag_from(row: &AnyRow) -> Result<Tag> {
    let digest: String = row.try_get("digest").map_err(db_err)?;
    Ok(Tag {
        id: row.try_get("id").map_err(db_err)?,
        repository_id: row.try_get("repository_id").map_err(db_err)?,
        name: row.try_get("name").map_err(db_err)?,
        manifest_id: row.try_get("manifest_id").map_err(db_err)?,
        manifest_digest: Digest::parse(&digest).map_err(|_| corrupt("manifest digest"))?,
        lifetime_start_ms: row.try_get("lifetime_start_ms").map_err(db_err)?,
        lifetime_end_ms: row.try_get("lifetime_end_ms").map_err(db_err)?,
        reversion: flag(row, "reversion")?,
        immutable: flag(row, "immutable")?,
        hidden: flag(row, "hidden")?,
        expiring: flag(row, "expiring")?,
    })
}

fn tag_view_from(row: &AnyRow) -> Result<TagView> {
    let size: Option<i64> = row.try_get("layers_compressed_size").map_err(db_err)?;
    Ok(TagView {
        tag: tag_from(row)?,
        manifest_media_type: row.try_get("media_type").map_err(db_err)?,
        is_manifest_list: size.is_none(),
        size,
    })
}

fn label_from(row: &AnyRow) -> Result<Label> {
    let source: String = row.try_get("source_type").map_err(db_err)?;
    Ok(Label {
        id: row.try_get("uuid").map_err(db_err)?,
        key: row.try_get("key").map_err(db_err)?,
        value: row.try_get("value").map_err(db_err)?,
        media_type: row.try_get("media_type").map_err(db_err)?,
        source_type: LabelSource::parse(&source).ok_or_else(|| corrupt("label source"))?,
    })
}

fn policy_from(row: &AnyRow) -> Result<ImmutabilityPolicy> {
    Ok(ImmutabilityPolicy {
        id: row.try_get("id").map_err(db_err)?,
        namespace_id: row.try_get("namespace_id").map_err(db_err)?,
        repository_id: row.try_get("repository_id").map_err(db_err)?,
        pattern: row.try_get("pattern").map_err(db_err)?,
        matches_immutable: flag(row, "matches_immutable")?,
    })
}

/// A boolean column: PostgreSQL `BOOLEAN`, SQLite 0/1 `INTEGER` (told apart by the value's type,
/// not by a failed decode: that would format an error for every row).
fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    use sqlx::ValueRef as _;
    let is_bool = row.try_get_raw(column).map_err(db_err)?.type_info().kind() == sqlx::any::AnyTypeInfoKind::Bool;
    match is_bool {
        true => row.try_get::<bool, _>(column).map_err(db_err),
        false => row.try_get::<i64, _>(column).map(|v| v != 0).map_err(db_err),
    }
}

/// A condition on `r` (repository) and `n` (namespace): the viewer may see the repository.
/// `$everything` (bool) and `$user` (user id or NULL) are bound from [`viewer_binds`].
fn visible_sql(everything: usize, user: usize) -> String {
    format!(
        "(${everything} OR r.visibility = 'public' OR (${user} IS NOT NULL AND (n.owner_user_id = ${user} \
         OR EXISTS (SELECT 1 FROM repository_permission p WHERE p.repository_id = r.id AND p.user_id = ${user}) \
         OR EXISTS (SELECT 1 FROM org_member m WHERE m.namespace_id = n.id AND m.user_id = ${user}))))"
    )
}

fn viewer_binds(viewer: Viewer) -> (bool, Option<i64>) {
    match viewer {
        Viewer::Anonymous => (false, None),
        Viewer::User(id) => (false, Some(id)),
        Viewer::Everything => (true, None),
    }
}

fn account_from(row: &AnyRow) -> Result<Account> {
    Ok(Account { id: row.try_get("id").map_err(db_err)?, name: row.try_get("name").map_err(db_err)?, superuser: flag(row, "superuser")? })
}

/// `%text%` for a case-insensitive `LIKE … ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn page_of<T>(mut items: Vec<T>, page: u32, limit: u32) -> Page<T> {
    let has_additional = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page { items, page, has_additional }
}

fn offset(page: u32, limit: u32) -> i64 {
    (i64::from(page.max(1)) - 1) * i64::from(limit)
}

// ---- the store ---------------------------------------------------------------------------------

#[async_trait]
impl Store for SqlStore {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        // SQLite: take the write lock up front, so a transaction that reads and then writes
        // waits for another process's writer (busy_timeout) instead of failing its upgrade.
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
        .map_err(db_err)?;
        Ok(Box::new(SqlTx { backend: self.backend, tx }))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await.map_err(db_err)?;
        Ok(())
    }

    async fn repository(&self, path: &RepoPath) -> Result<Option<Repository>> {
        let row = repository_query(path).fetch_optional(&self.read).await.map_err(db_err)?;
        row.as_ref().map(repository_from).transpose()
    }

    async fn list_repositories(&self, q: &RepositoryQuery, now: Millis) -> Result<Page<RepositorySummary>> {
        let sql = format!(
            "SELECT n.name AS ns, r.name, r.visibility, r.state, \
                (SELECT COUNT(*) FROM tag t WHERE t.repository_id = r.id AND NOT t.hidden \
                    AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $1)) AS tag_count, \
                COALESCE((SELECT MAX(t.lifetime_start_ms) FROM tag t WHERE t.repository_id = r.id), r.created_ms) AS last_modified \
            FROM repository r JOIN namespace n ON n.id = r.namespace_id \
            WHERE ($2 IS NULL OR n.name = $2) AND ($3 IS NULL OR LOWER(n.name || '/' || r.name) LIKE $3 ESCAPE '\\') \
              AND {visible} \
            ORDER BY n.name, r.name LIMIT $4 OFFSET $5",
            visible = visible_sql(6, 7)
        );
        let (everything, user) = viewer_binds(q.viewer);
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(q.namespace.clone())
            .bind(q.filter.as_deref().filter(|f| !f.is_empty()).map(like_pattern))
            .bind(i64::from(q.limit) + 1)
            .bind(offset(q.page, q.limit))
            .bind(everything)
            .bind(user)
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        let items = rows
            .iter()
            .map(|row| {
                let ns: String = row.try_get("ns").map_err(db_err)?;
                let name: String = row.try_get("name").map_err(db_err)?;
                let visibility: String = row.try_get("visibility").map_err(db_err)?;
                let state: String = row.try_get("state").map_err(db_err)?;
                Ok(RepositorySummary {
                    path: RepoPath::parse(&format!("{ns}/{name}")).map_err(|_| corrupt("repository name"))?,
                    visibility: Visibility::parse(&visibility).ok_or_else(|| corrupt("visibility"))?,
                    state: RepoState::parse(&state).ok_or_else(|| corrupt("state"))?,
                    tag_count: row.try_get("tag_count").map_err(db_err)?,
                    last_modified_ms: row.try_get("last_modified").map_err(db_err)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, q.page, q.limit))
    }

    async fn tag_history(&self, repository_id: i64, q: &HistoryQuery, now: Millis) -> Result<Page<TagView>> {
        let order = match q.order {
            TagOrder::Newest => "t.lifetime_start_ms DESC, t.name ASC",
            TagOrder::Name => "t.name ASC, t.lifetime_start_ms DESC",
            TagOrder::Size => "COALESCE(m.layers_compressed_size, -1) DESC, t.name ASC",
            TagOrder::Expiration => "COALESCE(t.lifetime_end_ms, 9223372036854775807) ASC, t.name ASC",
        };
        let (like, eq) = match &q.name_filter {
            Some(NameFilter::Like(s)) => (Some(like_pattern(s)), None),
            Some(NameFilter::Eq(s)) => (None, Some(s.clone())),
            None => (None, None),
        };
        // Newest first from a row's place (start, name, id): the rows on its side of it, read
        // from the index `tag_repo_start_cover` from there on, instead of skipping an offset.
        let keyset = match q.cursor {
            Some(cursor) if q.pages_by_cursor() => self.cursor_row(repository_id, cursor).await?,
            _ => None,
        };
        let display_order = format!("{order}, t.id DESC");
        let (cursor_sql, inner_order, skip) = match &keyset {
            None => ("", display_order.as_str(), offset(q.page, q.limit)),
            Some((Cursor::After(_), _, _)) => (
                " AND t.lifetime_start_ms <= $10 AND (t.lifetime_start_ms < $10 OR t.name > $11 OR (t.name = $11 AND t.id < $12))",
                display_order.as_str(),
                0,
            ),
            // The rows before it, nearest first (the reverse order); put back in order below.
            Some((Cursor::Before(_), _, _)) => (
                " AND t.lifetime_start_ms >= $10 AND (t.lifetime_start_ms > $10 OR t.name < $11 OR (t.name = $11 AND t.id > $12))",
                "t.lifetime_start_ms ASC, t.name DESC, t.id ASC",
                0,
            ),
        };
        // The page's ids first, from the tag rows alone (for the default order, from the index
        // `tag_repo_start_cover` alone: OFFSET skips index entries), then their columns.
        let manifest = if q.order == TagOrder::Size { "JOIN manifest m ON m.id = t.manifest_id" } else { "" };
        let sql = format!(
            "SELECT {TAG_COLUMNS} FROM (SELECT t.id FROM tag t {manifest} WHERE t.repository_id = $1 AND NOT t.hidden \
             AND (NOT $3 OR t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2) \
             AND ($4 IS NULL OR t.name = $4) AND ($5 IS NULL OR LOWER(t.name) LIKE $5 ESCAPE '\\') AND ($6 IS NULL OR t.name = $6) \
             AND ($9 IS NULL OR (t.lifetime_start_ms <= $9 AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $9))){cursor_sql} \
             ORDER BY {inner_order} LIMIT $7 OFFSET $8) p \
             JOIN tag t ON t.id = p.id JOIN manifest m ON m.id = t.manifest_id \
             ORDER BY {display_order}"
        );
        let mut query = sqlx::query(&sql)
            .bind(repository_id)
            .bind(now)
            .bind(q.only_active)
            .bind(q.specific_tag.clone())
            .bind(like)
            .bind(eq)
            .bind(i64::from(q.limit) + 1)
            .bind(skip)
            .bind(q.as_of);
        if let Some((cursor, start_ms, name)) = &keyset {
            query = query.bind(*start_ms).bind(name.clone()).bind(cursor.id());
        }
        let rows = query.fetch_all(&self.read).await.map_err(db_err)?;
        let mut items = rows.iter().map(tag_view_from).collect::<Result<Vec<_>>>()?;
        if let Some((Cursor::Before(_), _, _)) = keyset {
            // One row more than a page: there are rows before these (the farthest one is first).
            // The page after these is the cursor's own.
            if items.len() > q.limit as usize {
                items.remove(0);
            }
            return Ok(Page { items, page: q.page, has_additional: true });
        }
        Ok(page_of(items, q.page, q.limit))
    }

    async fn history_links(&self, repository_id: i64, tag_ids: &[i64]) -> Result<Vec<RowLinks>> {
        if tag_ids.is_empty() {
            return Ok(Vec::new());
        }
        // The same tag's earlier row that ended near this row's start (latest end first), and
        // whether a later one started near its end: two index seeks per row on (repository, name,
        // end|start). The rows themselves by id (`+ 0` keeps a planner from scanning the
        // repository's rows for them instead: 100 ms at 1M rows).
        let placeholders = (0..tag_ids.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT t.id, \
               (SELECT m.digest FROM tag p JOIN manifest m ON m.id = p.manifest_id \
                 WHERE p.repository_id = t.repository_id AND p.name = t.name AND NOT p.hidden \
                   AND (p.lifetime_start_ms < t.lifetime_start_ms OR (p.lifetime_start_ms = t.lifetime_start_ms AND p.id < t.id)) \
                   AND p.lifetime_end_ms BETWEEN t.lifetime_start_ms - $2 AND t.lifetime_start_ms + $2 \
                 ORDER BY p.lifetime_end_ms DESC, p.id DESC LIMIT 1) AS previous_digest, \
               EXISTS (SELECT 1 FROM tag n WHERE n.repository_id = t.repository_id AND n.name = t.name AND NOT n.hidden \
                   AND (n.lifetime_start_ms > t.lifetime_start_ms OR (n.lifetime_start_ms = t.lifetime_start_ms AND n.id > t.id)) \
                   AND n.lifetime_start_ms BETWEEN t.lifetime_end_ms - $2 AND t.lifetime_end_ms + $2) AS followed \
             FROM tag t WHERE t.id IN ({placeholders}) AND t.repository_id + 0 = $1"
        );
        let mut query = sqlx::query(&sql).bind(repository_id).bind(rules::CHAIN_MS);
        for id in tag_ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.read).await.map_err(db_err)?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id").map_err(db_err)?;
            let previous: Option<String> = row.try_get("previous_digest").map_err(db_err)?;
            let previous_digest = previous.map(|d| Digest::parse(&d).map_err(|_| corrupt("manifest digest"))).transpose()?;
            by_id.insert(id, RowLinks { previous_digest, followed: flag(row, "followed")? });
        }
        // A row that is gone (hidden meanwhile, or another repository's id) has no neighbours.
        Ok(tag_ids.iter().map(|id| by_id.remove(id).unwrap_or_default()).collect())
    }

    async fn manifest_bytes(&self, manifest_id: i64) -> Result<Vec<u8>> {
        let row = sqlx::query("SELECT bytes FROM manifest WHERE id = $1").bind(manifest_id).fetch_one(&self.read).await.map_err(db_err)?;
        row.try_get("bytes").map_err(db_err)
    }

    async fn manifest_by_digest(&self, repository_id: i64, digest: &Digest) -> Result<Option<Manifest>> {
        let row = manifest_query(repository_id, digest).fetch_optional(&self.read).await.map_err(db_err)?;
        row.as_ref().map(manifest_from).transpose()
    }

    async fn manifests_by_digests(&self, repository_id: i64, digests: &[Digest], with_bytes: bool) -> Result<Vec<(Manifest, Vec<u8>)>> {
        let mut found = Vec::with_capacity(digests.len());
        // Chunks keep each statement well under either backend's limit on bound values.
        for chunk in digests.chunks(500) {
            let placeholders = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {MANIFEST_COLUMNS}, CASE WHEN $2 = 1 THEN m.bytes END AS bytes FROM manifest m \
                 WHERE m.repository_id = $1 AND m.digest IN ({placeholders})"
            );
            let mut query = sqlx::query(&sql).bind(repository_id).bind(i32::from(with_bytes));
            for d in chunk {
                query = query.bind(d.as_str());
            }
            for row in query.fetch_all(&self.read).await.map_err(db_err)? {
                let bytes: Option<Vec<u8>> = row.try_get("bytes").map_err(db_err)?;
                found.push((manifest_from(&row)?, bytes.unwrap_or_default()));
            }
        }
        Ok(found)
    }

    async fn labels(&self, manifest_id: i64, key_prefix: Option<&str>) -> Result<Vec<Label>> {
        let rows = sqlx::query(
            "SELECT uuid, key, value, media_type, source_type FROM label WHERE manifest_id = $1 \
             AND ($2 IS NULL OR LOWER(key) LIKE $2 ESCAPE '\\') ORDER BY id",
        )
        .bind(manifest_id)
        .bind(key_prefix.map(|p| {
            let mut pat = like_pattern(p);
            pat.remove(0); // a prefix, not a substring
            pat
        }))
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter().map(label_from).collect()
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Page<AuditEntry>> {
        let (page, limit) = (q.page, q.limit);
        let rows = sqlx::query(
            "SELECT id, namespace_id, repository_id, actor, address, action, data, created_ms FROM audit_log \
             WHERE namespace_id = $1 AND ($2 IS NULL OR repository_id = $2) AND ($3 IS NULL OR action = $3) \
               AND ($4 IS NULL OR actor = $4) AND ($5 IS NULL OR created_ms >= $5) AND ($6 IS NULL OR created_ms < $6) \
             ORDER BY created_ms DESC, id DESC LIMIT $7 OFFSET $8",
        )
        .bind(q.namespace_id)
        .bind(q.repository_id)
        .bind(q.action.clone())
        .bind(q.actor.clone())
        .bind(q.since_ms)
        .bind(q.until_ms)
        .bind(i64::from(limit) + 1)
        .bind(offset(page, limit))
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows
            .iter()
            .map(|row| {
                let data: String = row.try_get("data").map_err(db_err)?;
                Ok(AuditEntry {
                    id: row.try_get("id").map_err(db_err)?,
                    namespace_id: row.try_get("namespace_id").map_err(db_err)?,
                    repository_id: row.try_get("repository_id").map_err(db_err)?,
                    actor: row.try_get("actor").map_err(db_err)?,
                    address: row.try_get("address").map_err(db_err)?,
                    action: row.try_get("action").map_err(db_err)?,
                    data: serde_json::from_str(&data).map_err(|_| corrupt("audit data"))?,
                    created_ms: row.try_get("created_ms").map_err(db_err)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, page, limit))
    }

    async fn blob_size(&self, repository_id: i64, digest: &Digest) -> Result<Option<i64>> {
        self.blob_size_in(repository_id, digest).await
    }

    async fn upload_repository(&self, upload_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT repository_id FROM blob_upload WHERE uuid = $1")
            .bind(upload_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get("repository_id").map_err(db_err)).transpose()
    }

    async fn tag_names(&self, repository_id: i64, last: Option<&str>, n: u32, now: Millis) -> Result<(Vec<String>, Option<Millis>)> {
        // One row with the names joined by newlines (which tag names cannot contain): a list of
        // 10,000 tags costs one row to decode, not 10,000. `string_agg` is in PostgreSQL and
        // in SQLite since 3.44.
        let sql = format!(
            "SELECT string_agg(s.name, '\n' ORDER BY s.name) AS names, \
                (SELECT MIN(t.lifetime_end_ms) FROM tag t WHERE t.repository_id = $1 AND NOT t.hidden AND t.lifetime_end_ms > $2) AS next_end \
             FROM (SELECT t.name FROM tag t WHERE t.repository_id = $1 AND {ALIVE} AND ($3 IS NULL OR t.name > $3) ORDER BY t.name LIMIT $4) s"
        );
        let row =
            sqlx::query(&sql).bind(repository_id).bind(now).bind(last).bind(i64::from(n)).fetch_one(&self.read).await.map_err(db_err)?;
        let names: Option<String> = row.try_get("names").map_err(db_err)?;
        let next_end: Option<i64> = row.try_get("next_end").map_err(db_err)?;
        Ok((names.map(|s| s.split('\n').map(str::to_owned).collect()).unwrap_or_default(), next_end))
    }

    async fn catalog(&self, last: Option<&str>, n: u32, viewer: Viewer) -> Result<Vec<RepoPath>> {
        let sql = format!(
            "SELECT n.name || '/' || r.name AS path FROM repository r JOIN namespace n ON n.id = r.namespace_id \
             WHERE ($1 IS NULL OR n.name || '/' || r.name > $1) AND {} \
             ORDER BY n.name || '/' || r.name LIMIT $2",
            visible_sql(3, 4)
        );
        let (everything, user) = viewer_binds(viewer);
        let rows =
            sqlx::query(&sql).bind(last).bind(i64::from(n)).bind(everything).bind(user).fetch_all(&self.read).await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let p: String = r.try_get("path").map_err(db_err)?;
                RepoPath::parse(&p).map_err(|_| corrupt("repository name"))
            })
            .collect()
    }

    async fn referrers(&self, repository_id: i64, digest: &Digest) -> Result<Vec<(Manifest, Vec<u8>)>> {
        let sql = format!(
            "SELECT {MANIFEST_COLUMNS}, m.bytes FROM manifest m WHERE m.repository_id = $1 AND m.subject_digest = $2 ORDER BY m.id"
        );
        let rows = sqlx::query(&sql).bind(repository_id).bind(digest.as_str()).fetch_all(&self.read).await.map_err(db_err)?;
        rows.iter().map(|r| Ok((manifest_from(r)?, r.try_get("bytes").map_err(db_err)?))).collect()
    }

    async fn user_count(&self) -> Result<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM app_user").fetch_one(&self.read).await.map_err(db_err)?.try_get("n").map_err(db_err)
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<StoredUser>> {
        let row = sqlx::query("SELECT id, name, superuser, password_hash FROM app_user WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.map(|r| Ok(StoredUser { account: account_from(&r)?, password_hash: r.try_get("password_hash").map_err(db_err)? })).transpose()
    }

    async fn account(&self, user_id: i64) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT id, name, superuser FROM app_user WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.as_ref().map(account_from).transpose()
    }

    async fn token_account(&self, token_digest: &str) -> Result<Option<Account>> {
        let row =
            sqlx::query("SELECT u.id, u.name, u.superuser FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.token_digest = $1")
                .bind(token_digest)
                .fetch_optional(&self.read)
                .await
                .map_err(db_err)?;
        row.as_ref().map(account_from).transpose()
    }

    async fn user_role(&self, user_id: i64, namespace_id: i64, repository_id: Option<i64>) -> Result<Option<Role>> {
        let row = sqlx::query(
            "SELECT (SELECT role FROM repository_permission WHERE repository_id = $3 AND user_id = $1) AS repo_role, \
                    (SELECT CASE WHEN n.owner_user_id = $1 THEN 'admin' \
                                 ELSE (SELECT CASE m.role WHEN 'admin' THEN 'admin' ELSE 'read' END FROM org_member m \
                                       WHERE m.namespace_id = n.id AND m.user_id = $1) END \
                     FROM namespace n WHERE n.id = $2) AS ns_role",
        )
        .bind(user_id)
        .bind(namespace_id)
        .bind(repository_id)
        .fetch_one(&self.read)
        .await
        .map_err(db_err)?;
        let role = |column: &str| -> Result<Option<Role>> {
            let v: Option<String> = row.try_get(column).map_err(db_err)?;
            v.map(|v| Role::parse(&v).ok_or_else(|| corrupt("role"))).transpose()
        };
        Ok(role("repo_role")?.max(role("ns_role")?))
    }

    async fn permissions(&self, repository_id: i64) -> Result<Vec<Permission>> {
        let rows = sqlx::query(
            "SELECT u.name, p.role FROM repository_permission p JOIN app_user u ON u.id = p.user_id WHERE p.repository_id = $1 ORDER BY u.name",
        )
        .bind(repository_id)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role").map_err(db_err)?;
                Ok(Permission { user: r.try_get("name").map_err(db_err)?, role: Role::parse(&role).ok_or_else(|| corrupt("role"))? })
            })
            .collect()
    }

    async fn namespace_by_name(&self, name: &NamespaceName) -> Result<Option<Namespace>> {
        Self::namespace_in(&self.read, name).await
    }

    async fn repository_ids(&self) -> Result<Vec<i64>> {
        sqlx::query("SELECT id FROM repository ORDER BY id")
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.try_get("id").map_err(db_err))
            .collect()
    }

    async fn blobs_after(&self, after: Option<&Digest>, n: u32) -> Result<Vec<StoredBlob>> {
        sqlx::query(
            "SELECT b.digest, b.size, \
                    (EXISTS (SELECT 1 FROM repository_blob rb WHERE rb.digest = b.digest) \
                     OR EXISTS (SELECT 1 FROM manifest_blob mb WHERE mb.digest = b.digest)) AS in_use \
             FROM blob b WHERE b.digest > $1 ORDER BY b.digest LIMIT $2",
        )
        .bind(after.map_or("", |d| d.as_str()))
        .bind(i64::from(n))
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            let (digest, size) = blob_from(r)?;
            Ok(StoredBlob { digest, size, in_use: flag(r, "in_use")? })
        })
        .collect()
    }

    async fn server_secret(&self, name: &str, value: &str) -> Result<String> {
        sqlx::query("INSERT INTO server_secret (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.write)
            .await
            .map_err(db_err)?;
        sqlx::query("SELECT value FROM server_secret WHERE name = $1")
            .bind(name)
            .fetch_one(&self.write)
            .await
            .map_err(db_err)?
            .try_get("value")
            .map_err(db_err)
    }
}

impl SqlStore {
    async fn namespace_in<'e, E>(executor: E, name: &NamespaceName) -> Result<Option<Namespace>>
    where
        E: Executor<'e, Database = Any>,
    {
        let row = sqlx::query("SELECT id, time_machine_s FROM namespace WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(executor)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(Namespace {
                id: r.try_get("id").map_err(db_err)?,
                name: name.clone(),
                time_machine_s: r.try_get("time_machine_s").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn blob_size_in(&self, repository_id: i64, digest: &Digest) -> Result<Option<i64>> {
        blob_size_query(repository_id, digest)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?
            .map(|r| r.try_get("size").map_err(db_err))
            .transpose()
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

// Queries both the store (reads on the pool) and a transaction run.

fn repository_query(path: &RepoPath) -> AnyQuery<'_> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {REPO_COLUMNS} FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE n.name = $1 AND r.name = $2")
    });
    sqlx::query(SQL.as_str()).bind(path.namespace.as_str()).bind(path.name.as_str())
}

fn manifest_query(repository_id: i64, digest: &Digest) -> AnyQuery<'_> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {MANIFEST_COLUMNS} FROM manifest m WHERE m.repository_id = $1 AND m.digest = $2"));
    sqlx::query(SQL.as_str()).bind(repository_id).bind(digest.as_str())
}

fn blob_size_query(repository_id: i64, digest: &Digest) -> AnyQuery<'_> {
    sqlx::query("SELECT b.size FROM repository_blob rb JOIN blob b ON b.digest = rb.digest WHERE rb.repository_id = $1 AND rb.digest = $2")
        .bind(repository_id)
        .bind(digest.as_str())
}

struct SqlTx {
    backend: Backend,
    tx: Transaction<'static, Any>,
}

impl SqlTx {
    /// Runs a statement with two integer parameters; returns the rows affected.
    async fn exec(&mut self, sql: &str, a: i64, b: i64) -> Result<u64> {
        Ok(sqlx::query(sql).bind(a).bind(b).execute(&mut *self.tx).await.map_err(db_err)?.rows_affected())
    }

    /// Marks the repository's tag rows as changed; `which` selects the repository from `$1`.
    async fn bump_tag_version(&mut self, which: &str, arg: i64) -> Result<()> {
        let sql = format!("UPDATE repository SET tag_version = tag_version + 1 WHERE {which}");
        sqlx::query(&sql).bind(arg).execute(&mut *self.tx).await.map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl Tx for SqlTx {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.map_err(db_err)
    }

    async fn lock_repository(&mut self, repository_id: i64) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM repository WHERE id = $1 FOR UPDATE")
                .bind(repository_id)
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn namespace(&mut self, name: &NamespaceName) -> Result<Option<Namespace>> {
        SqlStore::namespace_in(&mut *self.tx, name).await
    }

    async fn insert_namespace(&mut self, name: &NamespaceName, time_machine_s: i64, now: Millis) -> Result<Namespace> {
        let row = sqlx::query("INSERT INTO namespace (name, time_machine_s, created_ms) VALUES ($1, $2, $3) RETURNING id")
            .bind(name.as_str())
            .bind(time_machine_s)
            .bind(now)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(Namespace { id: row.try_get("id").map_err(db_err)?, name: name.clone(), time_machine_s })
    }

    async fn set_time_machine(&mut self, namespace_id: i64, seconds: i64) -> Result<()> {
        sqlx::query("UPDATE namespace SET time_machine_s = $1 WHERE id = $2")
            .bind(seconds)
            .bind(namespace_id)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn repository(&mut self, path: &RepoPath) -> Result<Option<Repository>> {
        let row = repository_query(path).fetch_optional(&mut *self.tx).await.map_err(db_err)?;
        row.as_ref().map(repository_from).transpose()
    }

    async fn insert_repository(
        &mut self,
        namespace_id: i64,
        path: &RepoPath,
        visibility: Visibility,
        description: &str,
        now: Millis,
    ) -> Result<Repository> {
        let row = sqlx::query(
            "INSERT INTO repository (namespace_id, name, visibility, state, description, created_ms) VALUES ($1, $2, $3, 'normal', $4, $5) \
             RETURNING id, (SELECT time_machine_s FROM namespace WHERE id = $1) AS time_machine_s",
        )
            .bind(namespace_id)
            .bind(path.name.as_str())
            .bind(visibility.as_str())
            .bind(description)
            .bind(now)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(Repository {
            id: row.try_get("id").map_err(db_err)?,
            namespace_id,
            path: path.clone(),
            visibility,
            state: RepoState::Normal,
            description: description.to_owned(),
            tag_version: 0,
            time_machine_s: row.try_get("time_machine_s").map_err(db_err)?,
        })
    }

    async fn set_repository_state(&mut self, repository_id: i64, state: RepoState) -> Result<()> {
        sqlx::query("UPDATE repository SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(repository_id)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn manifest_by_digest(&mut self, repository_id: i64, digest: &Digest) -> Result<Option<Manifest>> {
        let row = manifest_query(repository_id, digest).fetch_optional(&mut *self.tx).await.map_err(db_err)?;
        row.as_ref().map(manifest_from).transpose()
    }

    async fn insert_manifest(&mut self, repository_id: i64, m: &NewManifest, child_ids: &[i64], now: Millis) -> Result<Manifest> {
        let row = sqlx::query(
            "INSERT INTO manifest (repository_id, digest, media_type, bytes, config_media_type, layers_compressed_size, created_ms, subject_digest, artifact_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(repository_id)
        .bind(m.digest.as_str())
        .bind(m.media_type.as_str())
        .bind(m.bytes.clone())
        .bind(m.config_media_type.clone())
        .bind(m.layers_compressed_size)
        .bind(now)
        .bind(m.subject.as_ref().map(|d| d.as_str().to_owned()))
        .bind(m.artifact_type.clone())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        let id: i64 = row.try_get("id").map_err(db_err)?;
        for child in child_ids {
            sqlx::query("INSERT INTO manifest_child (manifest_id, child_manifest_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(*child)
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        }
        for blob in &m.blobs {
            sqlx::query("INSERT INTO manifest_blob (manifest_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(blob.as_str())
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        }
        Ok(Manifest {
            id,
            repository_id,
            digest: m.digest.clone(),
            media_type: m.media_type.clone(),
            config_media_type: m.config_media_type.clone(),
            layers_compressed_size: m.layers_compressed_size,
            created_ms: now,
            subject_digest: m.subject.clone(),
            artifact_type: m.artifact_type.clone(),
        })
    }

    async fn manifest_children(&mut self, manifest_id: i64) -> Result<Vec<Manifest>> {
        let sql = format!("SELECT {MANIFEST_COLUMNS} FROM manifest m JOIN manifest_child c ON c.child_manifest_id = m.id WHERE c.manifest_id = $1 ORDER BY m.id");
        let rows = sqlx::query(&sql).bind(manifest_id).fetch_all(&mut *self.tx).await.map_err(db_err)?;
        rows.iter().map(manifest_from).collect()
    }

    async fn manifest_available(&mut self, repository_id: i64, manifest_id: i64, now: Millis) -> Result<bool> {
        let sql = format!(
            "SELECT 1 AS one FROM tag t WHERE t.repository_id = $1 AND {ALIVE} AND (t.manifest_id = $3 \
             OR t.manifest_id IN (SELECT c.manifest_id FROM manifest_child c WHERE c.child_manifest_id = $3)) LIMIT 1"
        );
        let row = sqlx::query(&sql).bind(repository_id).bind(now).bind(manifest_id).fetch_optional(&mut *self.tx).await.map_err(db_err)?;
        Ok(row.is_some())
    }

    async fn alive_tag(&mut self, repository_id: i64, name: &str, now: Millis) -> Result<Option<Tag>> {
        let sql = format!("SELECT {TAG_COLUMNS} {TAG_FROM} WHERE t.repository_id = $1 AND {ALIVE} AND t.name = $3");
        let row = sqlx::query(&sql).bind(repository_id).bind(now).bind(name).fetch_optional(&mut *self.tx).await.map_err(db_err)?;
        row.as_ref().map(tag_from).transpose()
    }

    async fn alive_tags(&mut self, repository_id: i64, now: Millis) -> Result<Vec<Tag>> {
        let sql = format!("SELECT {TAG_COLUMNS} {TAG_FROM} WHERE t.repository_id = $1 AND {ALIVE} ORDER BY t.name");
        let rows = sqlx::query(&sql).bind(repository_id).bind(now).fetch_all(&mut *self.tx).await.map_err(db_err)?;
        rows.iter().map(tag_from).collect()
    }

    async fn alive_tags_on_manifest(&mut self, repository_id: i64, manifest_id: i64, now: Millis) -> Result<Vec<Tag>> {
        let sql = format!("SELECT {TAG_COLUMNS} {TAG_FROM} WHERE t.repository_id = $1 AND {ALIVE} AND t.manifest_id = $3 ORDER BY t.name");
        let rows = sqlx::query(&sql).bind(repository_id).bind(now).bind(manifest_id).fetch_all(&mut *self.tx).await.map_err(db_err)?;
        rows.iter().map(tag_from).collect()
    }

    async fn insert_tag(&mut self, t: &NewTag) -> Result<Tag> {
        let row = sqlx::query(
            "INSERT INTO tag (repository_id, name, manifest_id, lifetime_start_ms, lifetime_end_ms, reversion, immutable, hidden, expiring) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(t.repository_id)
        .bind(t.name.as_str())
        .bind(t.manifest_id)
        .bind(t.start_ms)
        .bind(t.end_ms)
        .bind(t.reversion)
        .bind(t.immutable)
        .bind(t.hidden)
        .bind(t.end_ms.is_some())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        let id: i64 = row.try_get("id").map_err(db_err)?;
        self.bump_tag_version("id = $1", t.repository_id).await?;
        let digest: String = sqlx::query("SELECT digest FROM manifest WHERE id = $1")
            .bind(t.manifest_id)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?
            .try_get("digest")
            .map_err(db_err)?;
        Ok(Tag {
            id,
            repository_id: t.repository_id,
            name: t.name.clone(),
            manifest_id: t.manifest_id,
            manifest_digest: Digest::parse(&digest).map_err(|_| corrupt("manifest digest"))?,
            lifetime_start_ms: t.start_ms,
            lifetime_end_ms: t.end_ms,
            reversion: t.reversion,
            immutable: t.immutable,
            hidden: t.hidden,
            expiring: t.end_ms.is_some(),
        })
    }

    async fn set_tag_end(&mut self, tag_id: i64, end: TagEnd) -> Result<()> {
        sqlx::query("UPDATE tag SET lifetime_end_ms = $1, expiring = $2 WHERE id = $3")
            .bind(end.ms())
            .bind(matches!(end, TagEnd::Expires(_)))
            .bind(tag_id)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        self.bump_tag_version("id = (SELECT repository_id FROM tag WHERE id = $1)", tag_id).await
    }

    async fn expire_tag_rows(&mut self, repository_id: i64, name: &str, manifest_id: i64, now: Millis, cutoff: Millis) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE tag SET lifetime_end_ms = $1 WHERE repository_id = $2 AND name = $3 AND manifest_id = $4 AND NOT hidden \
             AND lifetime_end_ms IS NOT NULL AND lifetime_end_ms <= $5 AND lifetime_end_ms > $1",
        )
        .bind(cutoff)
        .bind(repository_id)
        .bind(name)
        .bind(manifest_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn set_tag_immutable(&mut self, tag_id: i64, immutable: bool) -> Result<()> {
        sqlx::query("UPDATE tag SET immutable = $1 WHERE id = $2")
            .bind(immutable)
            .bind(tag_id)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        self.bump_tag_version("id = (SELECT repository_id FROM tag WHERE id = $1)", tag_id).await
    }

    async fn labels(&mut self, manifest_id: i64) -> Result<Vec<Label>> {
        let rows = sqlx::query("SELECT uuid, key, value, media_type, source_type FROM label WHERE manifest_id = $1 ORDER BY id")
            .bind(manifest_id)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?;
        rows.iter().map(label_from).collect()
    }

    async fn label(&mut self, manifest_id: i64, label_id: &str) -> Result<Option<Label>> {
        let row = sqlx::query("SELECT uuid, key, value, media_type, source_type FROM label WHERE manifest_id = $1 AND uuid = $2")
            .bind(manifest_id)
            .bind(label_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?;
        row.as_ref().map(label_from).transpose()
    }

    async fn insert_label(&mut self, l: &NewLabel, now: Millis) -> Result<Label> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO label (uuid, manifest_id, key, value, media_type, source_type, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(l.manifest_id)
        .bind(l.key.as_str())
        .bind(l.value.as_str())
        .bind(l.media_type.as_str())
        .bind(l.source_type.as_str())
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(Label { id, key: l.key.clone(), value: l.value.clone(), media_type: l.media_type.clone(), source_type: l.source_type })
    }

    async fn delete_label(&mut self, label_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM label WHERE uuid = $1").bind(label_id).execute(&mut *self.tx).await.map_err(db_err)?;
        Ok(())
    }

    async fn namespace_repositories(&mut self, namespace_id: i64) -> Result<Vec<(i64, RepoPath)>> {
        sqlx::query("SELECT r.id, n.name AS ns, r.name FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.namespace_id = $1 ORDER BY r.name")
            .bind(namespace_id)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| {
                let (ns, name): (String, String) = (r.try_get("ns").map_err(db_err)?, r.try_get("name").map_err(db_err)?);
                Ok((r.try_get("id").map_err(db_err)?, RepoPath::parse(&format!("{ns}/{name}")).map_err(|_| corrupt("repository name"))?))
            })
            .collect()
    }

    async fn policies(&mut self, namespace_id: i64, repository_id: Option<i64>) -> Result<Vec<ImmutabilityPolicy>> {
        let rows = sqlx::query(
            "SELECT id, namespace_id, repository_id, pattern, matches_immutable FROM immutability_policy \
             WHERE namespace_id = $1 AND (repository_id IS NULL OR repository_id = $2) ORDER BY id",
        )
        .bind(namespace_id)
        .bind(repository_id)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_err)?;
        rows.iter().map(policy_from).collect()
    }

    async fn insert_policy(
        &mut self,
        namespace_id: i64,
        repository_id: Option<i64>,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<ImmutabilityPolicy> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO immutability_policy (id, namespace_id, repository_id, pattern, matches_immutable) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(namespace_id)
        .bind(repository_id)
        .bind(pattern)
        .bind(matches_immutable)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(ImmutabilityPolicy { id, namespace_id, repository_id, pattern: pattern.to_owned(), matches_immutable })
    }

    async fn update_policy(&mut self, policy_id: &str, pattern: &str, matches_immutable: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE immutability_policy SET pattern = $2, matches_immutable = $3 WHERE id = $1")
            .bind(policy_id)
            .bind(pattern)
            .bind(matches_immutable)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_policy(&mut self, policy_id: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM immutability_policy WHERE id = $1").bind(policy_id).execute(&mut *self.tx).await.map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn blob_size(&mut self, repository_id: i64, digest: &Digest) -> Result<Option<i64>> {
        blob_size_query(repository_id, digest)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?
            .map(|r| r.try_get("size").map_err(db_err))
            .transpose()
    }

    async fn link_blob(&mut self, repository_id: i64, digest: &Digest, size: i64, now: Millis) -> Result<()> {
        // A new link restarts the blob's grace period (garbage collection spares young blobs).
        sqlx::query("INSERT INTO blob (digest, size, created_ms) VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE SET created_ms = $3")
            .bind(digest.as_str())
            .bind(size)
            .bind(now)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO repository_blob (repository_id, digest, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(repository_id)
            .bind(digest.as_str())
            .bind(now)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn unlink_blob(&mut self, repository_id: i64, digest: &Digest) -> Result<bool> {
        let done = sqlx::query("DELETE FROM repository_blob WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_upload(&mut self, repository_id: i64, now: Millis) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO blob_upload (uuid, repository_id, created_ms) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(repository_id)
            .bind(now)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(id)
    }

    async fn delete_upload(&mut self, upload_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM blob_upload WHERE uuid = $1").bind(upload_id).execute(&mut *self.tx).await.map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn repository_window(&mut self, repository_id: i64) -> Result<Option<(RepoPath, i64)>> {
        let row = sqlx::query(
            "SELECT n.name AS ns, r.name AS repo, n.time_machine_s FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.id = $1",
        )
        .bind(repository_id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let (ns, repo): (String, String) = (row.try_get("ns").map_err(db_err)?, row.try_get("repo").map_err(db_err)?);
        let path = RepoPath::parse(&format!("{ns}/{repo}")).map_err(|_| corrupt("repository name"))?;
        Ok(Some((path, row.try_get("time_machine_s").map_err(db_err)?)))
    }

    async fn gc_tag_rows(&mut self, repository_id: i64, cutoff: Millis, keep_immutable: bool) -> Result<u64> {
        let sql = format!(
            "DELETE FROM tag WHERE repository_id = $1 AND lifetime_end_ms IS NOT NULL AND lifetime_end_ms < $2{}",
            if keep_immutable { " AND NOT immutable" } else { "" }
        );
        let done = sqlx::query(&sql).bind(repository_id).bind(cutoff).execute(&mut *self.tx).await.map_err(db_err)?;
        if done.rows_affected() > 0 {
            self.bump_tag_version("id = $1", repository_id).await?;
        }
        Ok(done.rows_affected())
    }

    async fn gc_manifests(&mut self, repository_id: i64, created_before: Millis) -> Result<Vec<(i64, Digest)>> {
        sqlx::query(
            "SELECT m.id, m.digest FROM manifest m WHERE m.repository_id = $1 AND m.created_ms < $2 \
             AND NOT EXISTS (SELECT 1 FROM tag t WHERE t.manifest_id = m.id) \
             AND NOT EXISTS (SELECT 1 FROM manifest_child c WHERE c.child_manifest_id = m.id) \
             AND NOT EXISTS (SELECT 1 FROM manifest s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest) \
             ORDER BY m.id",
        )
        .bind(repository_id)
        .bind(created_before)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            let digest: String = r.try_get("digest").map_err(db_err)?;
            Ok((r.try_get("id").map_err(db_err)?, Digest::parse(&digest).map_err(|_| corrupt("manifest digest"))?))
        })
        .collect()
    }

    async fn delete_manifest(&mut self, manifest_id: i64) -> Result<()> {
        for sql in [
            "DELETE FROM label WHERE manifest_id = $1",
            "DELETE FROM manifest_child WHERE manifest_id = $1",
            "DELETE FROM manifest_blob WHERE manifest_id = $1",
            "DELETE FROM manifest WHERE id = $1",
        ] {
            sqlx::query(sql).bind(manifest_id).execute(&mut *self.tx).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn gc_blob_links(&mut self, repository_id: i64, created_before: Millis) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM repository_blob WHERE repository_id = $1 AND created_ms < $2 AND NOT EXISTS (\
             SELECT 1 FROM manifest_blob mb JOIN manifest m ON m.id = mb.manifest_id \
             WHERE m.repository_id = $1 AND mb.digest = repository_blob.digest)",
        )
        .bind(repository_id)
        .bind(created_before)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn gc_blobs(&mut self, created_before: Millis) -> Result<Vec<(Digest, i64)>> {
        sqlx::query(
            "SELECT b.digest, b.size FROM blob b WHERE b.created_ms < $1 \
             AND NOT EXISTS (SELECT 1 FROM repository_blob rb WHERE rb.digest = b.digest) \
             AND NOT EXISTS (SELECT 1 FROM manifest_blob mb WHERE mb.digest = b.digest) ORDER BY b.digest",
        )
        .bind(created_before)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(blob_from)
        .collect()
    }

    async fn gc_delete_blob(&mut self, digest: &Digest, created_before: Millis) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM blob WHERE digest = $1 AND created_ms < $2 \
             AND NOT EXISTS (SELECT 1 FROM repository_blob rb WHERE rb.digest = $1) \
             AND NOT EXISTS (SELECT 1 FROM manifest_blob mb WHERE mb.digest = $1)",
        )
        .bind(digest.as_str())
        .bind(created_before)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn gc_uploads(&mut self, created_before: Millis) -> Result<Vec<String>> {
        sqlx::query("DELETE FROM blob_upload WHERE created_ms < $1 RETURNING uuid")
            .bind(created_before)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.try_get("uuid").map_err(db_err))
            .collect()
    }

    async fn insert_audit(&mut self, a: &NewAudit) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (namespace_id, repository_id, actor, address, action, data, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(a.namespace_id)
            .bind(a.repository_id)
            .bind(a.actor.as_str())
            .bind(a.address.clone())
            .bind(a.action)
            .bind(a.data.to_string())
            .bind(a.created_ms)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_user(&mut self, name: &str, password_hash: &str, superuser: bool, now: Millis) -> Result<Account> {
        let row = sqlx::query("INSERT INTO app_user (name, password_hash, superuser, created_ms) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name)
            .bind(password_hash)
            .bind(superuser)
            .bind(now)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(Account { id: row.try_get("id").map_err(db_err)?, name: name.to_owned(), superuser })
    }

    async fn set_namespace_owner(&mut self, namespace_id: i64, user_id: i64) -> Result<()> {
        self.exec("UPDATE namespace SET owner_user_id = $2 WHERE id = $1", namespace_id, user_id).await.map(drop)
    }

    async fn insert_token(&mut self, user_id: i64, label: &str, token_digest: &str, now: Millis) -> Result<()> {
        sqlx::query("INSERT INTO api_token (user_id, name, token_digest, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(label)
            .bind(token_digest)
            .bind(now)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn set_org_member(&mut self, namespace_id: i64, user_id: i64, role: OrgRole) -> Result<()> {
        sqlx::query(
            "INSERT INTO org_member (namespace_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (namespace_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(namespace_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_org_member(&mut self, namespace_id: i64, user_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM org_member WHERE namespace_id = $1 AND user_id = $2")
            .bind(namespace_id)
            .bind(user_id)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn org_members(&mut self, namespace_id: i64) -> Result<Vec<OrgMember>> {
        // Locked until the transaction ends (SQLite's writer is already alone): two admins
        // stepping down at once cannot both see the other one stay.
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE OF m" } else { "" };
        let sql = format!(
            "SELECT u.name, m.role FROM org_member m JOIN app_user u ON u.id = m.user_id WHERE m.namespace_id = $1 ORDER BY u.name{lock}"
        );
        let rows = sqlx::query(&sql).bind(namespace_id).fetch_all(&mut *self.tx).await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role").map_err(db_err)?;
                Ok(OrgMember { user: r.try_get("name").map_err(db_err)?, role: OrgRole::parse(&role).ok_or_else(|| corrupt("org role"))? })
            })
            .collect()
    }

    async fn set_permission(&mut self, repository_id: i64, user_id: i64, role: Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO repository_permission (repository_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(repository_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_permission(&mut self, repository_id: i64, user_id: i64) -> Result<bool> {
        self.exec("DELETE FROM repository_permission WHERE repository_id = $1 AND user_id = $2", repository_id, user_id)
            .await
            .map(|n| n > 0)
    }

    async fn set_visibility(&mut self, repository_id: i64, visibility: Visibility) -> Result<()> {
        sqlx::query("UPDATE repository SET visibility = $2 WHERE id = $1")
            .bind(repository_id)
            .bind(visibility.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
