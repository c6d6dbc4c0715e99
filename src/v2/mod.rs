//! `/v2/`: the OCI distribution API, a thin adapter over the registry service and the blob store.
//! Repository names contain `/`, so one catch-all route splits the path itself.

pub mod manifest;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use registry::{Caller, Digest, Error, ManifestRef, Registry, RepoPath, TagName};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::auth::{credentials, Credentials, SERVICE};
use crate::blobs::{BlobError, BlobStore};
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v2", get(base)).route("/v2/", get(base)).route("/v2/auth", get(token)).route("/v2/{*rest}", any(dispatch))
}

const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// An OCI error response: `{"errors":[{"code","message","detail"}]}`.
#[derive(Debug)]
pub struct V2Error {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl V2Error {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// Maps a domain error; `not_found` is the code for this request's kind of missing thing.
    fn from_domain(e: Error, not_found: &'static str, invalid: &'static str) -> Self {
        let message = e.to_string();
        match e {
            Error::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, invalid, message),
            Error::RepositoryNotFound(_) => Self::new(StatusCode::NOT_FOUND, "NAME_UNKNOWN", message),
            Error::NotFound(_) => Self::new(StatusCode::NOT_FOUND, not_found, message),
            Error::BlobUnknown(_) => Self::new(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN", message),
            Error::TagImmutable(_) => Self::new(StatusCode::CONFLICT, "TAG_IMMUTABLE", message),
            Error::Unauthorized | Error::BadCredentials => Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message),
            Error::Throttled(_) => Self::new(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", message),
            Error::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, "DENIED", message),
            Error::ReadOnly => Self::new(StatusCode::SERVICE_UNAVAILABLE, "DENIED", message),
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, "DENIED", message),
            Error::Storage => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", message),
        }
    }

    fn blob(e: BlobError) -> Self {
        match e {
            BlobError::UploadUnknown => Self::new(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", "upload unknown to registry"),
            BlobError::OutOfOrder { .. } => Self::new(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID", e.to_string()),
            BlobError::DigestMismatch => Self::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e.to_string()),
            BlobError::Body => Self::new(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", e.to_string()),
            BlobError::Io(io) => {
                tracing::error!(error = %io, "blob storage");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "blob storage error")
            }
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message, "detail": null }] });
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
        resp
    }
}

type V2Result = Result<Response, V2Error>;

/// `GET /v2/`: 200 for a caller who presents valid credentials, else 401 with the challenge that
/// sends clients to the token endpoint (anonymous pulls of public repositories need no token).
async fn base(State(state): State<AppState>, req: Parts) -> Response {
    let resp = match credentials(&req.headers) {
        Ok(Credentials::None) => V2Error::from_domain(Error::Unauthorized, "NAME_UNKNOWN", "NAME_INVALID").into_response(),
        _ => match state.auth.registry_caller(&req.headers, None).await {
            Ok(_) => ([API_VERSION], Json(json!({}))).into_response(),
            Err(e) => V2Error::from_domain(e, "NAME_UNKNOWN", "NAME_INVALID").into_response(),
        },
    };
    challenge(resp, &req.headers, None)
}

/// Adds the Docker token challenge to a 401.
fn challenge(mut resp: Response, headers: &HeaderMap, scope: Option<String>) -> Response {
    if resp.status() == StatusCode::UNAUTHORIZED {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).filter(|p| *p == "https").unwrap_or("http");
        let mut value = format!("Bearer realm=\"{scheme}://{host}/v2/auth\",service=\"{SERVICE}\"");
        if let Some(scope) = scope {
            value.push_str(&format!(",scope=\"{scope}\""));
        }
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, header_value(&value));
    }
    resp
}

/// `GET /v2/auth?service=…&scope=repository:NAME:pull,push`: the Docker token endpoint. HTTP
/// Basic (password or API token) or nothing (an anonymous token: pulls of public repositories).
async fn token(State(state): State<AppState>, req: Parts) -> Response {
    // `scope` repeats; serde_urlencoded reads repeated keys only into a sequence via axum-extra,
    // so collect them by hand.
    let scopes: Vec<String> = req
        .uri
        .query()
        .map(|q| {
            q.split('&').filter_map(|kv| kv.split_once('=')).filter(|(k, _)| *k == "scope").filter_map(|(_, v)| percent_decode(v)).collect()
        })
        .unwrap_or_default();
    let address = req.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
    let result = async {
        let caller = state.auth.caller(&req.headers, None, address).await?;
        state.auth.issue(&caller, &scopes).await
    }
    .await;
    match result {
        Ok((token, ttl)) => {
            let issued = chrono::DateTime::from_timestamp_millis(state.registry.now_ms())
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            Json(json!({ "token": token, "access_token": token, "expires_in": ttl, "issued_at": issued })).into_response()
        }
        Err(e) => challenge(V2Error::from_domain(e, "NAME_UNKNOWN", "NAME_INVALID").into_response(), &req.headers, None),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The registry action a request needs: `pull` to read, `push` to write, `delete` to delete.
fn action(target: &Target<'_>, method: &Method) -> Option<(String, &'static str)> {
    let name = match target {
        Target::Catalog => return None,
        Target::Tags(n) | Target::Uploads(n) => n,
        Target::Manifest(n, _) | Target::Upload(n, _) | Target::Blob(n, _) | Target::Referrers(n, _) => n,
    };
    let action = match *method {
        Method::GET | Method::HEAD => match target {
            Target::Upload(..) => "push",
            _ => "pull",
        },
        Method::DELETE => match target {
            Target::Upload(..) => "push",
            _ => "delete",
        },
        _ => "push",
    };
    Some(((*name).to_owned(), action))
}

/// What a `/v2/<rest>` path names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Catalog,
    Tags(&'a str),
    Manifest(&'a str, &'a str),
    Uploads(&'a str),
    Upload(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Referrers(&'a str, &'a str),
}

fn target<'a>(rest: &'a str) -> Option<Target<'a>> {
    if rest == "_catalog" {
        return Some(Target::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Target::Tags(name));
    }
    if let Some(name) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
        return Some(Target::Uploads(name));
    }
    for (marker, make) in [
        ("/blobs/uploads/", Target::Upload as fn(&'a str, &'a str) -> Target<'a>),
        ("/manifests/", Target::Manifest),
        ("/referrers/", Target::Referrers),
        ("/blobs/", Target::Blob),
    ] {
        if let Some(i) = rest.rfind(marker) {
            let (name, arg) = (&rest[..i], &rest[i + marker.len()..]);
            if !arg.is_empty() && !arg.contains('/') {
                return Some(make(name, arg));
            }
        }
    }
    None
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    digest: Option<String>,
    mount: Option<String>,
    from: Option<String>,
    n: Option<u32>,
    last: Option<String>,
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

fn repo(name: &str) -> Result<RepoPath, V2Error> {
    RepoPath::parse(name).map_err(|e| V2Error::new(StatusCode::BAD_REQUEST, "NAME_INVALID", e.to_string()))
}

fn digest(s: &str) -> Result<Digest, V2Error> {
    Digest::parse(s).map_err(|e| V2Error::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e.to_string()))
}

async fn dispatch(State(state): State<AppState>, Query(mut params): Query<Params>, req: Request) -> Response {
    let rest = req.uri().path().trim_start_matches("/v2/").to_owned();
    let method = req.method().clone();
    let headers = req.headers().clone();
    let address = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
    let needs = target(&rest).and_then(|t| action(&t, &method));
    let scope = needs.as_ref().map(|(name, action)| {
        format!("repository:{name}:{}", if *action == "pull" { "pull".to_owned() } else { format!("pull,{action}") })
    });
    let (who, grant) = match state.auth.registry_caller(&headers, address).await {
        Ok(found) => found,
        Err(e) => return challenge(V2Error::from_domain(e, "NAME_UNKNOWN", "NAME_INVALID").into_response(), &headers, scope),
    };
    if let (Some(grant), Some((name, action))) = (&grant, &needs) {
        if !grant.allows(name, action) {
            return challenge(scope_refusal(&state, &who, name, action).await.into_response(), &headers, scope);
        }
        // A mount needs pull on the source too; without it the client gets a plain upload.
        if let Some(from) = &params.from {
            if !grant.allows(from, "pull") {
                params.mount = None;
            }
        }
    }
    let who = &who;
    let reg = &state.registry;
    let blobs = &state.blobs;
    let result = match (target(&rest), &method) {
        (Some(Target::Catalog), &Method::GET) => catalog(reg, who, &params).await,
        (Some(Target::Tags(name)), &Method::GET) => tags_list(reg, who, name, &params).await,
        (Some(Target::Manifest(name, r)), &Method::GET | &Method::HEAD) => get_manifest(reg, who, name, r, method == Method::HEAD).await,
        (Some(Target::Manifest(name, r)), &Method::PUT) => put_manifest(reg, blobs, who, name, r, req).await,
        (Some(Target::Manifest(name, r)), &Method::DELETE) => delete_manifest(reg, who, name, r).await,
        (Some(Target::Blob(name, d)), &Method::GET | &Method::HEAD) => {
            get_blob(reg, blobs, who, name, d, method == Method::HEAD, req.headers()).await
        }
        (Some(Target::Blob(name, d)), &Method::DELETE) => delete_blob(reg, who, name, d).await,
        (Some(Target::Uploads(name)), &Method::POST) => start_upload(reg, blobs, who, name, &params, req).await,
        (Some(Target::Upload(name, id)), &Method::PATCH) => patch_upload(reg, blobs, who, name, id, req).await,
        (Some(Target::Upload(name, id)), &Method::PUT) => finish_upload(reg, blobs, who, name, id, &params, req).await,
        (Some(Target::Upload(name, id)), &Method::GET) => upload_status(reg, blobs, who, name, id).await,
        (Some(Target::Upload(name, id)), &Method::DELETE) => cancel_upload(reg, blobs, who, name, id).await,
        (Some(Target::Referrers(name, d)), &Method::GET) => referrers(reg, who, name, d, &params).await,
        (Some(_), _) => Err(V2Error::new(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", format!("{method} is not supported here"))),
        (None, _) => Err(V2Error::new(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "unknown /v2 endpoint")),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    resp.headers_mut().insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
    challenge(resp, &headers, scope)
}

/// A registry token that does not grant the action: "get a token for this scope" (401) when the
/// caller would be granted it, else the refusal the service gives (401 anonymous, 403 signed in).
async fn scope_refusal(state: &AppState, who: &Caller, name: &str, action: &str) -> V2Error {
    let Ok(path) = RepoPath::parse(name) else {
        return V2Error::new(StatusCode::BAD_REQUEST, "NAME_INVALID", format!("invalid repository name: {name}"));
    };
    let granted = state.registry.registry_access(who, &path, &[action.to_owned()]).await.unwrap_or_default();
    if !granted.is_empty() || who.principal == registry::Principal::Anonymous {
        V2Error::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required")
    } else {
        V2Error::new(StatusCode::FORBIDDEN, "DENIED", "requested access to the resource is denied")
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn paged_link(base: &str, n: u32, last: &str) -> HeaderValue {
    header_value(&format!("<{base}?n={n}&last={}>; rel=\"next\"", urlencode(last)))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn catalog(reg: &Registry, who: &Caller, p: &Params) -> V2Result {
    let (repos, more) =
        reg.catalog(who, p.last.as_deref(), p.n).await.map_err(|e| V2Error::from_domain(e, "NAME_UNKNOWN", "UNSUPPORTED"))?;
    let n = p.n.unwrap_or(registry::service::MAX_LIST);
    let names: Vec<String> = repos.iter().map(ToString::to_string).collect();
    let mut resp = Json(json!({ "repositories": names })).into_response();
    if let (true, Some(last)) = (more, names.last()) {
        resp.headers_mut().insert(header::LINK, paged_link("/v2/_catalog", n, last));
    }
    Ok(resp)
}

async fn tags_list(reg: &Registry, who: &Caller, name: &str, p: &Params) -> V2Result {
    let path = repo(name)?;
    let (tags, more) =
        reg.tag_names(who, &path, p.last.as_deref(), p.n).await.map_err(|e| V2Error::from_domain(e, "NAME_UNKNOWN", "UNSUPPORTED"))?;
    let n = p.n.unwrap_or(registry::service::MAX_LIST);
    let mut resp = Json(json!({ "name": path.to_string(), "tags": tags })).into_response();
    if let (true, Some(last)) = (more, tags.last()) {
        resp.headers_mut().insert(header::LINK, paged_link(&format!("/v2/{path}/tags/list"), n, last));
    }
    Ok(resp)
}

fn manifest_ref(r: &str) -> Result<ManifestRef, V2Error> {
    ManifestRef::parse(r).map_err(|e| {
        let code = if r.contains(':') { "DIGEST_INVALID" } else { "TAG_INVALID" };
        V2Error::new(StatusCode::BAD_REQUEST, code, e.to_string())
    })
}

async fn get_manifest(reg: &Registry, who: &Caller, name: &str, r: &str, head: bool) -> V2Result {
    let path = repo(name)?;
    let reference = manifest_ref(r)?;
    let (m, bytes) =
        reg.resolve_manifest(who, &path, &reference).await.map_err(|e| V2Error::from_domain(e, "MANIFEST_UNKNOWN", "MANIFEST_INVALID"))?;
    let headers = [
        (header::CONTENT_TYPE, header_value(&m.media_type)),
        (header::CONTENT_LENGTH, header_value(&bytes.len().to_string())),
        (header::HeaderName::from_static("docker-content-digest"), header_value(m.digest.as_str())),
        (header::ETAG, header_value(&format!("\"{}\"", m.digest))),
    ];
    let body = if head { Body::empty() } else { Body::from(bytes) };
    Ok((headers, body).into_response())
}

async fn put_manifest(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, r: &str, req: Request) -> V2Result {
    let path = repo(name)?;
    let reference = manifest_ref(r)?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = axum::body::to_bytes(req.into_body(), manifest::MAX_MANIFEST_BYTES).await.map_err(|_| {
        V2Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MANIFEST_INVALID",
            format!("manifest is larger than {} bytes", manifest::MAX_MANIFEST_BYTES),
        )
    })?;
    let parsed = manifest::parse(bytes.to_vec(), content_type.as_deref()).map_err(|e| match e {
        manifest::ManifestError::Invalid(m) => V2Error::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", m),
        manifest::ManifestError::Digest(_) => V2Error::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e.to_string()),
    })?;
    let mut new = parsed.manifest;
    let tag: Option<TagName> = match reference {
        ManifestRef::Digest(d) => {
            if !manifest::digest_matches(&new.bytes, &d) {
                return Err(V2Error::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "manifest digest does not match its content"));
            }
            // Stored under the digest the client named (sha256 or sha512).
            new.digest = d;
            None
        }
        ManifestRef::Tag(t) => Some(t),
    };
    if let Some(config) = &parsed.config_digest {
        // Labels come from the image config (at most 1 MiB is read); a missing config is caught
        // by the service as an unknown blob.
        if let Some(bytes) = blobs.read_small(config, 1024 * 1024).await.map_err(V2Error::blob)? {
            new.config_labels = manifest::config_labels(&bytes);
        }
    }
    let subject = new.subject.clone();
    let m = reg
        .put_manifest(who, &path, new, tag.as_ref())
        .await
        .map_err(|e| V2Error::from_domain(e, "MANIFEST_UNKNOWN", "MANIFEST_INVALID"))?;
    let mut resp = (
        StatusCode::CREATED,
        [
            (header::LOCATION, header_value(&format!("/v2/{path}/manifests/{}", m.digest))),
            (header::HeaderName::from_static("docker-content-digest"), header_value(m.digest.as_str())),
        ],
    )
        .into_response();
    if let Some(s) = subject {
        resp.headers_mut().insert("oci-subject", header_value(s.as_str()));
    }
    Ok(resp)
}

async fn delete_manifest(reg: &Registry, who: &Caller, name: &str, r: &str) -> V2Result {
    let path = repo(name)?;
    let map = |e| V2Error::from_domain(e, "MANIFEST_UNKNOWN", "UNSUPPORTED");
    match manifest_ref(r)? {
        ManifestRef::Digest(d) => {
            reg.delete_manifest_tags(who, &path, &d).await.map_err(map)?;
        }
        ManifestRef::Tag(t) => reg.delete_tag(who, &path, &t).await.map_err(map)?,
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `Range: bytes=START-[END]` → (start, inclusive end).
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() { size.checked_sub(1)? } else { b.trim().parse::<u64>().ok()?.min(size.checked_sub(1)?) };
    (start <= end).then_some((start, end))
}

async fn get_blob(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, d: &str, head: bool, headers: &HeaderMap) -> V2Result {
    let path = repo(name)?;
    let digest = digest(d)?;
    let size = reg.blob_size(who, &path, &digest).await.map_err(|e| V2Error::from_domain(e, "BLOB_UNKNOWN", "UNSUPPORTED"))? as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(r) => match parse_range(r, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
            None => {
                return Err(V2Error::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "BLOB_UNKNOWN",
                    format!("range {r} not satisfiable for {size} bytes"),
                ))
            }
        },
    };
    let mut resp_headers = vec![
        (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        (header::CONTENT_LENGTH, header_value(&len.to_string())),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        (header::HeaderName::from_static("docker-content-digest"), header_value(digest.as_str())),
        (header::ETAG, header_value(&format!("\"{digest}\""))),
    ];
    if status == StatusCode::PARTIAL_CONTENT {
        resp_headers.push((header::CONTENT_RANGE, header_value(&format!("bytes {start}-{}/{size}", start + len - 1))));
    }
    let mut resp = (status, Body::empty()).into_response();
    resp.headers_mut().extend(resp_headers);
    if !head {
        let file = blobs.open_blob(&digest, start).await.map_err(V2Error::blob)?.ok_or_else(|| {
            tracing::error!(%digest, "blob in the database but not on disk");
            V2Error::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "blob content missing from storage")
        })?;
        *resp.body_mut() = Body::from_stream(ReaderStream::with_capacity(file.take(len), 1024 * 1024));
    }
    Ok(resp)
}

async fn delete_blob(reg: &Registry, who: &Caller, name: &str, d: &str) -> V2Result {
    let path = repo(name)?;
    let digest = digest(d)?;
    reg.delete_blob(who, &path, &digest).await.map_err(|e| V2Error::from_domain(e, "BLOB_UNKNOWN", "UNSUPPORTED"))?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn upload_response(status: StatusCode, path: &RepoPath, id: &str, len: u64) -> Response {
    let range = if len == 0 { "0-0".to_owned() } else { format!("0-{}", len - 1) };
    (
        status,
        [
            (header::LOCATION, header_value(&format!("/v2/{path}/blobs/uploads/{id}"))),
            (header::RANGE, header_value(&range)),
            (header::HeaderName::from_static("docker-upload-uuid"), header_value(id)),
            (header::CONTENT_LENGTH, HeaderValue::from_static("0")),
        ],
    )
        .into_response()
}

fn blob_created(path: &RepoPath, digest: &Digest) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, header_value(&format!("/v2/{path}/blobs/{digest}"))),
            (header::HeaderName::from_static("docker-content-digest"), header_value(digest.as_str())),
            (header::CONTENT_LENGTH, HeaderValue::from_static("0")),
        ],
    )
        .into_response()
}

fn upload_err(e: Error) -> V2Error {
    V2Error::from_domain(e, "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID")
}

async fn start_upload(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, p: &Params, req: Request) -> V2Result {
    let path = repo(name)?;
    if let (Some(mount), Some(from)) = (&p.mount, &p.from) {
        let d = digest(mount)?;
        let from = repo(from)?;
        if reg.mount_blob(who, &path, &from, &d).await.map_err(upload_err)?.is_some() {
            return Ok(blob_created(&path, &d));
        }
    }
    let monolithic = p.digest.as_deref().map(digest).transpose()?;
    let id = reg.start_upload(who, &path).await.map_err(upload_err)?;
    blobs.create_upload(&id).await.map_err(V2Error::blob)?;
    match monolithic {
        // Monolithic: the whole blob in this request.
        Some(d) => complete(reg, blobs, who, &path, &id, &d, req).await,
        None => Ok(upload_response(StatusCode::ACCEPTED, &path, &id, 0)),
    }
}

/// Appends the request body, verifies, moves the blob into place and records it.
async fn complete(reg: &Registry, blobs: &BlobStore, who: &Caller, path: &RepoPath, id: &str, d: &Digest, req: Request) -> V2Result {
    blobs.append(id, None, req.into_body().into_data_stream()).await.map_err(V2Error::blob)?;
    let size = match blobs.complete(id, d).await {
        Ok(size) => size,
        Err(e) => {
            if matches!(e, BlobError::DigestMismatch) {
                // The store dropped the bytes; end the upload so nothing half-done stays listed.
                reg.cancel_upload(who, path, id).await.ok();
            }
            return Err(V2Error::blob(e));
        }
    };
    reg.complete_upload(who, path, Some(id), d, size as i64).await.map_err(upload_err)?;
    Ok(blob_created(path, d))
}

/// The start of a chunk from `Content-Range: START-END` (as sent by clients; a `bytes ` prefix
/// and a `/TOTAL` suffix tolerated). Absent header: `None`.
fn content_range_start(headers: &HeaderMap) -> Result<Option<u64>, V2Error> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else { return Ok(None) };
    let bad = || V2Error::new(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID", "invalid Content-Range");
    let (start, _) = parse_content_range(v.to_str().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok(Some(start))
}

/// `START-END` (inclusive) from a `Content-Range` value, with `START <= END`.
pub fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let s = value.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let (a, b) = s.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end: u64 = b.split('/').next().unwrap_or("").trim().parse().ok()?;
    (end >= start).then_some((start, end))
}

async fn patch_upload(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, id: &str, req: Request) -> V2Result {
    let path = repo(name)?;
    reg.check_upload(who, &path, id).await.map_err(upload_err)?;
    let start = content_range_start(req.headers())?;
    let len = blobs.append(id, start, req.into_body().into_data_stream()).await.map_err(V2Error::blob)?;
    Ok(upload_response(StatusCode::ACCEPTED, &path, id, len))
}

async fn finish_upload(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, id: &str, p: &Params, req: Request) -> V2Result {
    let path = repo(name)?;
    let d =
        digest(p.digest.as_deref().ok_or_else(|| V2Error::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "digest parameter missing"))?)?;
    reg.check_upload(who, &path, id).await.map_err(upload_err)?;
    complete(reg, blobs, who, &path, id, &d, req).await
}

async fn upload_status(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, id: &str) -> V2Result {
    let path = repo(name)?;
    reg.check_upload(who, &path, id).await.map_err(upload_err)?;
    let len = blobs.upload_len(id).await.map_err(V2Error::blob)?;
    Ok(upload_response(StatusCode::NO_CONTENT, &path, id, len))
}

async fn cancel_upload(reg: &Registry, blobs: &BlobStore, who: &Caller, name: &str, id: &str) -> V2Result {
    let path = repo(name)?;
    reg.cancel_upload(who, &path, id).await.map_err(upload_err)?;
    blobs.cancel(id).await.map_err(V2Error::blob)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn referrers(reg: &Registry, who: &Caller, name: &str, d: &str, p: &Params) -> V2Result {
    let path = repo(name)?;
    let subject = digest(d)?;
    let found = reg
        .referrers(who, &path, &subject, p.artifact_type.as_deref())
        .await
        .map_err(|e| V2Error::from_domain(e, "MANIFEST_UNKNOWN", "UNSUPPORTED"))?;
    let manifests: Vec<_> = found
        .iter()
        .map(|(m, bytes)| {
            let annotations = serde_json::from_slice::<serde_json::Value>(bytes).ok().and_then(|v| v.get("annotations").cloned());
            let mut d = json!({ "mediaType": m.media_type, "digest": m.digest, "size": bytes.len() });
            if let Some(t) = &m.artifact_type {
                d["artifactType"] = json!(t);
            }
            if let Some(a) = annotations {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    let body = json!({ "schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": manifests });
    // Json sets its own Content-Type; the referrers API answers with the index media type.
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(manifest::OCI_INDEX));
    if p.artifact_type.is_some() {
        resp.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target("_catalog"), Some(Target::Catalog));
        assert_eq!(target("a/b/tags/list"), Some(Target::Tags("a/b")));
        assert_eq!(target("a/b/c/manifests/latest"), Some(Target::Manifest("a/b/c", "latest")));
        assert_eq!(target("a/b/blobs/uploads/"), Some(Target::Uploads("a/b")));
        assert_eq!(target("a/b/blobs/uploads/123"), Some(Target::Upload("a/b", "123")));
        assert_eq!(target("a/b/blobs/sha256:00"), Some(Target::Blob("a/b", "sha256:00")));
        assert_eq!(target("a/b/referrers/sha256:00"), Some(Target::Referrers("a/b", "sha256:00")));
        assert_eq!(target("a/b/nothing"), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=90-500", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
