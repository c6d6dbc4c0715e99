//! Audit logs of a repository and of a namespace, a page as JSON or every record as a download.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::DateTime;
use registry::{AuditEntry, AuditParams, Caller, NamespaceName, Registry, RepoPath};

use super::openapi::{NamespaceParam, RepoParams};
use super::schema::*;
use super::{caller, query, repo, ApiError, ApiResult};
use crate::startup::AppState;

/// Most records one download carries.
const MAX_EXPORT_ROWS: usize = 100_000;

#[derive(Clone, Copy)]
enum Scope<'a> {
    Repository(&'a RepoPath),
    Namespace(&'a NamespaceName),
}

async fn logs(reg: &Registry, who: &Caller, scope: Scope<'_>, uri: &Uri) -> ApiResult {
    let q: LogQuery = query(uri)?;
    let mut params = AuditParams {
        action: q.action,
        actor: q.performer,
        since_ms: q.starttime.as_deref().map(|s| AuditParams::time_bound(s, false)).transpose()?.flatten(),
        until_ms: q.endtime.as_deref().map(|s| AuditParams::time_bound(s, true)).transpose()?.flatten(),
        page: q.page,
        limit: q.limit,
    };
    let fetch = |params: AuditParams| async move {
        match scope {
            Scope::Repository(path) => reg.audit_log(who, path, &params).await,
            Scope::Namespace(ns) => reg.namespace_audit_log(who, ns, &params).await,
        }
    };
    let format = q.format.as_deref().unwrap_or("json");
    if format == "json" {
        let page = fetch(params).await?;
        let logs = page.items.iter().map(LogEntry::from).collect();
        return Ok(Json(LogList { logs, page: page.page, has_additional: page.has_additional }).into_response());
    }
    if !matches!(format, "csv" | "ndjson") {
        return Err(ApiError::bad_request(format!("Invalid format: {format} (expected json, csv or ndjson)")));
    }
    // Every matching record, page by page, up to the export cap.
    params.limit = Some(AuditParams::MAX_LIMIT);
    let mut rows = Vec::new();
    for page in 1.. {
        params.page = Some(page);
        let p = fetch(params.clone()).await?;
        rows.extend(p.items);
        if !p.has_additional || rows.len() >= MAX_EXPORT_ROWS {
            break;
        }
    }
    rows.truncate(MAX_EXPORT_ROWS);
    let (body, content_type) = if format == "csv" {
        (
            csv(&rows).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("Cannot write CSV: {e}")))?,
            "text/csv; charset=utf-8",
        )
    } else {
        let mut out = Vec::new();
        for e in &rows {
            out.extend_from_slice(serde_json::to_string(&LogEntry::from(e)).unwrap_or_default().as_bytes());
            out.push(b'\n');
        }
        (out, "application/x-ndjson")
    };
    Ok(download(body, content_type, &format!("audit-log.{format}")))
}

fn csv(rows: &[AuditEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["datetime", "performer", "ip", "kind", "repository", "metadata"])?;
    for e in rows {
        let repo = match (e.data["namespace"].as_str(), e.data["repo"].as_str()) {
            (Some(ns), Some(r)) => format!("{ns}/{r}"),
            _ => String::new(),
        };
        let time = DateTime::from_timestamp_millis(e.created_ms).map(|t| t.to_rfc3339()).unwrap_or_default();
        w.write_record([time.as_str(), &e.actor, e.address.as_deref().unwrap_or(""), &e.action, &repo, &e.data.to_string()])?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn download(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// The repository's audit records, newest first (repository admins).
#[utoipa::path(
    get, path = "/api/v1/repository/{namespace}/{repository}/logs", operation_id = "listRepoLogs", tag = "logs",
    params(RepoParams, LogQuery),
    responses((status = 200, description = "One page of records (`format=json`), or every matching record as CSV or NDJSON",
        content(
            (LogList = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        ))),
)]
pub(super) async fn repository_logs(reg: &Registry, r: &str, who: &Caller, uri: &Uri) -> ApiResult {
    let path = repo(r)?;
    logs(reg, who, Scope::Repository(&path), uri).await
}

/// A namespace's audit records, every repository's included (namespace admins).
#[utoipa::path(
    get, path = "/api/v1/organization/{namespace}/logs", operation_id = "listOrgLogs", tag = "logs",
    params(NamespaceParam, LogQuery),
    responses((status = 200, description = "One page of records (`format=json`), or every matching record as CSV or NDJSON",
        content(
            (LogList = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        ))),
)]
pub(super) async fn namespace_logs(
    State(state): State<AppState>,
    ns: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Request,
) -> Response {
    let Ok(Path(ns)) = ns else { return ApiError::not_found("Not found").into_response() };
    let uri = req.uri().clone();
    let who = caller(&state.auth, &req);
    drop(req);
    let result = async {
        let who = who.await?;
        let ns = NamespaceName::parse(&ns).map_err(|e| ApiError::not_found(e.to_string()))?;
        logs(&state.registry, &who, Scope::Namespace(&ns), &uri).await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
