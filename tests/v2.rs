//! `/v2` in process: uploads (monolithic, chunked, resumed after a restart, mounted), ranges,
//! manifests, listings with paging, referrers, and the spec's error codes for bad input.

mod support;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use quayside::blobs::BlobStore;
use quayside::startup::build_router;
use quayside::v2::manifest::sha256_digest;
use registry::{Registry, SystemClock};
use serde_json::{json, Value};
use tower::ServiceExt;

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
    }
    fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }
}

struct Env {
    router: axum::Router,
    data: tempfile::TempDir,
    url: String,
    /// Sent as `Authorization` unless a request names its own.
    auth: Option<String>,
}

async fn router_for(data: &Path, url: &str) -> axum::Router {
    let store = quayside::db::SqlStore::open(url).await.unwrap();
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default()).with_secrets(support::secrets());
    let blobs = BlobStore::open(data).unwrap();
    build_router(support::app_state(registry, url, blobs).await)
}

async fn env() -> Env {
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.path().join("q.db").display());
    Env { router: router_for(data.path(), &url).await, data, url, auth: Some(support::basic(support::ADMIN_USER, support::ADMIN_PASSWORD)) }
}

impl Env {
    async fn send(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(auth) = self.auth.as_deref().filter(|_| !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization"))) {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let resp = self.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        Resp { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes().to_vec() }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(Method::GET, uri, &[], vec![]).await
    }

    /// Monolithic upload; returns the digest.
    async fn blob(&self, repo: &str, content: &[u8]) -> String {
        let d = sha256_digest(content).to_string();
        let r = self.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={d}"), &[], content.to_vec()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        d
    }

    /// Pushes an image (config + one layer) under `reference`; returns the manifest digest.
    async fn image(&self, repo: &str, reference: &str, layer: &[u8], extra: Value) -> String {
        let config = serde_json::to_vec(&json!({ "architecture": "amd64", "os": "linux", "config": { "Labels": { "x": "y" } } })).unwrap();
        let cd = self.blob(repo, &config).await;
        let ld = self.blob(repo, layer).await;
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len() }],
        });
        if let Value::Object(extra) = extra {
            m.as_object_mut().unwrap().extend(extra);
        }
        let bytes = serde_json::to_vec(&m).unwrap();
        let r = self
            .send(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                bytes.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        sha256_digest(&bytes).to_string()
    }
}

#[tokio::test]
async fn base_endpoint_names_the_api_version() {
    let e = env().await;
    let r = e.get("/v2/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("docker-distribution-api-version"), "registry/2.0");
}

#[tokio::test]
async fn chunked_upload_with_ranges_and_out_of_order_chunks() {
    let e = env().await;
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let start = e.send(Method::POST, "/v2/acme/app/blobs/uploads/", &[], vec![]).await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    let loc = start.header("location");
    assert_eq!(start.header("range"), "0-0");
    let r = e.send(Method::PATCH, &loc, &[("content-range", "0-59999")], content[..60_000].to_vec()).await;
    assert_eq!((r.status, r.header("range")), (StatusCode::ACCEPTED, "0-59999".to_owned()));
    // A chunk that skips bytes: 416, and the upload is unchanged.
    let r = e.send(Method::PATCH, &loc, &[("content-range", "60001-70000")], content[60_001..70_001].to_vec()).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let status = e.get(&loc).await;
    assert_eq!((status.status, status.header("range")), (StatusCode::NO_CONTENT, "0-59999".to_owned()));
    // The rest with the final PUT.
    let d = sha256_digest(&content);
    let r = e.send(Method::PUT, &format!("{loc}?digest={d}"), &[], content[60_000..].to_vec()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("docker-content-digest"), d.as_str());
    let got = e.send(Method::GET, &format!("/v2/acme/app/blobs/{d}"), &[("accept-encoding", "gzip, br")], vec![]).await;
    assert_eq!(got.body, content);
    assert_eq!(got.header("content-encoding"), "", "blobs are served as stored, never recompressed");
    // Ranged read.
    let part = e.send(Method::GET, &format!("/v2/acme/app/blobs/{d}"), &[("range", "bytes=10-19")], vec![]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, content[10..20]);
    assert_eq!(part.header("content-range"), "bytes 10-19/100000");
    let head = e.send(Method::HEAD, &format!("/v2/acme/app/blobs/{d}"), &[], vec![]).await;
    assert_eq!((head.status, head.header("content-length")), (StatusCode::OK, "100000".to_owned()));
}

#[tokio::test]
async fn an_upload_survives_a_restart() {
    let e = env().await;
    let content = vec![7u8; 50_000];
    let loc = e.send(Method::POST, "/v2/acme/app/blobs/uploads/", &[], vec![]).await.header("location");
    e.send(Method::PATCH, &loc, &[("content-range", "0-24999")], content[..25_000].to_vec()).await;
    // A new server over the same data dir and database: the upload continues where it was.
    let restarted = Env {
        router: router_for(e.data.path(), &e.url).await,
        data: tempfile::tempdir().unwrap(),
        url: e.url.clone(),
        auth: e.auth.clone(),
    };
    let status = restarted.get(&loc).await;
    assert_eq!(status.header("range"), "0-24999");
    let r = restarted.send(Method::PATCH, &loc, &[("content-range", "25000-49999")], content[25_000..].to_vec()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let d = sha256_digest(&content);
    let r = restarted.send(Method::PUT, &format!("{loc}?digest={d}"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(restarted.get(&format!("/v2/acme/app/blobs/{d}")).await.body, content);
}

#[tokio::test]
async fn wrong_digests_store_nothing() {
    let e = env().await;
    let wrong = sha256_digest(b"something else");
    let r = e.send(Method::POST, &format!("/v2/acme/app/blobs/uploads/?digest={wrong}"), &[], b"content".to_vec()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".to_owned()));
    assert_eq!(e.get(&format!("/v2/acme/app/blobs/{wrong}")).await.code(), "BLOB_UNKNOWN");
    let r = e.send(Method::POST, "/v2/acme/app/blobs/uploads/?digest=sha256:xyz", &[], b"content".to_vec()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".to_owned()));
    // No verified blob file and no upload file is left behind.
    let blobs = walk(&e.data.path().join("blobs"));
    assert!(blobs.is_empty(), "{blobs:?}");
    assert!(walk(&e.data.path().join("uploads")).is_empty());
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn cross_repository_mount() {
    let e = env().await;
    let d = e.blob("acme/one", b"shared layer").await;
    let r = e.send(Method::POST, &format!("/v2/acme/two/blobs/uploads/?mount={d}&from=acme/one"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(e.get(&format!("/v2/acme/two/blobs/{d}")).await.body, b"shared layer");
    // Not in the source: the registry starts an upload instead.
    let missing = sha256_digest(b"nope");
    let r = e.send(Method::POST, &format!("/v2/acme/two/blobs/uploads/?mount={missing}&from=acme/one"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn manifests_are_served_byte_exact_and_checked() {
    let e = env().await;
    let digest = e.image("acme/app", "v1", b"layer one", json!({})).await;
    let by_tag = e.get("/v2/acme/app/manifests/v1").await;
    assert_eq!(by_tag.status, StatusCode::OK);
    assert_eq!(sha256_digest(&by_tag.body).to_string(), digest);
    assert_eq!(by_tag.header("docker-content-digest"), digest);
    assert_eq!(by_tag.header("content-type"), "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(e.get(&format!("/v2/acme/app/manifests/{digest}")).await.body, by_tag.body);

    let put = |body: Vec<u8>, ct: &'static str| {
        let e = &e;
        async move { e.send(Method::PUT, "/v2/acme/app/manifests/v2", &[("content-type", ct)], body).await }
    };
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let r = put(b"{not json".to_vec(), oci).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".to_owned()));
    let r = put(
        br#"{"schemaVersion":1,"name":"acme/app","tag":"v2","fsLayers":[]}"#.to_vec(),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    )
    .await;
    assert_eq!(r.code(), "MANIFEST_INVALID");
    assert!(r.json()["errors"][0]["message"].as_str().unwrap().contains("schema 1"));
    let r = put(br#"{"schemaVersion":2,"mediaType":"application/x-unknown","layers":[]}"#.to_vec(), "application/x-unknown").await;
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = put(vec![b' '; 4 * 1024 * 1024 + 1], oci).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let unknown_blob = json!({
        "schemaVersion": 2, "mediaType": oci,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(b"missing config"), "size": 14 },
        "layers": [],
    });
    let r = put(serde_json::to_vec(&unknown_blob).unwrap(), oci).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".to_owned()));
    // Nothing half-written is visible: no v2 tag.
    assert_eq!(e.get("/v2/acme/app/manifests/v2").await.code(), "MANIFEST_UNKNOWN");
    // A digest reference that does not match the content.
    let body = e.get("/v2/acme/app/manifests/v1").await.body;
    let wrong = sha256_digest(b"other");
    let r = e.send(Method::PUT, &format!("/v2/acme/app/manifests/{wrong}"), &[("content-type", oci)], body).await;
    assert_eq!(r.code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn bad_names_and_references() {
    let e = env().await;
    for (uri, code) in [
        ("/v2/ACME/app/tags/list", "NAME_INVALID"),
        ("/v2/acme/../etc/tags/list", "NAME_INVALID"),
        ("/v2/acme/App/manifests/latest", "NAME_INVALID"),
        ("/v2/acme/app/manifests/-bad", "TAG_INVALID"),
        ("/v2/acme/app/manifests/sha256:zz", "DIGEST_INVALID"),
        ("/v2/acme/app/blobs/md5:abc", "DIGEST_INVALID"),
        ("/v2/acme/nothing/tags/list", "NAME_UNKNOWN"),
    ] {
        let r = e.get(uri).await;
        assert_eq!(r.code(), code, "{uri}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.status.is_client_error(), "{uri}: {}", r.status);
    }
}

#[tokio::test]
async fn tags_list_and_catalog_page_with_links() {
    let e = env().await;
    let d = e.image("acme/app", "a", b"l", json!({})).await;
    let body = e.get(&format!("/v2/acme/app/manifests/{d}")).await.body;
    for t in ["b", "c", "d", "e"] {
        let r = e
            .send(
                Method::PUT,
                &format!("/v2/acme/app/manifests/{t}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                body.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let all = e.get("/v2/acme/app/tags/list").await;
    assert_eq!(all.json(), json!({ "name": "acme/app", "tags": ["a", "b", "c", "d", "e"] }));
    assert_eq!(all.header("link"), "");
    let p1 = e.get("/v2/acme/app/tags/list?n=2").await;
    assert_eq!(p1.json()["tags"], json!(["a", "b"]));
    assert_eq!(p1.header("link"), "</v2/acme/app/tags/list?n=2&last=b>; rel=\"next\"");
    let p3 = e.get("/v2/acme/app/tags/list?n=2&last=d").await;
    assert_eq!(p3.json()["tags"], json!(["e"]));
    assert_eq!(p3.header("link"), "");
    // Deleting by tag removes it from the list; by digest ends every tag on it.
    assert_eq!(e.send(Method::DELETE, "/v2/acme/app/manifests/e", &[], vec![]).await.status, StatusCode::ACCEPTED);
    assert_eq!(e.get("/v2/acme/app/tags/list").await.json()["tags"], json!(["a", "b", "c", "d"]));
    assert_eq!(e.send(Method::DELETE, &format!("/v2/acme/app/manifests/{d}"), &[], vec![]).await.status, StatusCode::ACCEPTED);
    assert_eq!(e.get("/v2/acme/app/tags/list").await.json()["tags"], json!([]));

    e.image("acme/web", "v1", b"w", json!({})).await;
    e.image("library/alpine", "v1", b"x", json!({})).await;
    let c = e.get("/v2/_catalog?n=2").await;
    assert_eq!(c.json(), json!({ "repositories": ["acme/app", "acme/web"] }));
    assert_eq!(c.header("link"), "</v2/_catalog?n=2&last=acme%2Fweb>; rel=\"next\"");
    assert_eq!(e.get("/v2/_catalog?n=2&last=acme/web").await.json(), json!({ "repositories": ["library/alpine"] }));
}

#[tokio::test]
async fn referrers_with_artifact_type_filter() {
    let e = env().await;
    let subject = e.image("acme/app", "v1", b"image", json!({})).await;
    let size = e.get(&format!("/v2/acme/app/manifests/{subject}")).await.body.len();
    let subject_desc = json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": size });
    // Two referrers of different artifact types, pushed by digest.
    let mut pushed = vec![];
    for (t, layer) in [("application/vnd.example.sbom", b"sbom".as_slice()), ("application/vnd.example.sig", b"sig2".as_slice())] {
        let cfg = e.blob("acme/app", b"{}").await;
        let ld = e.blob("acme/app", layer).await;
        let m = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": t,
            "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2 },
            "layers": [{ "mediaType": "application/octet-stream", "digest": ld, "size": layer.len() }],
            "subject": subject_desc, "annotations": { "kind": t },
        });
        let bytes = serde_json::to_vec(&m).unwrap();
        let d = sha256_digest(&bytes);
        let r = e
            .send(
                Method::PUT,
                &format!("/v2/acme/app/manifests/{d}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                bytes,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("oci-subject"), subject);
        pushed.push(d.to_string());
    }
    let all = e.get(&format!("/v2/acme/app/referrers/{subject}")).await;
    assert_eq!(all.header("content-type"), "application/vnd.oci.image.index.v1+json");
    let listed: Vec<_> = all.json()["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, pushed);
    let only = e.get(&format!("/v2/acme/app/referrers/{subject}?artifactType=application/vnd.example.sig")).await;
    assert_eq!(only.header("oci-filters-applied"), "artifactType");
    let m = &only.json()["manifests"];
    assert_eq!(m.as_array().unwrap().len(), 1);
    assert_eq!(m[0]["artifactType"], "application/vnd.example.sig");
    assert_eq!(m[0]["annotations"]["kind"], "application/vnd.example.sig");
}

#[tokio::test]
async fn pushes_go_through_the_data_model() {
    let e = env().await;
    let first = e.image("acme/app", "v1", b"one", json!({})).await;
    e.image("acme/app", "v1", b"two", json!({})).await;
    // Quay's history: two rows for v1, the first ended.
    let store = quayside::db::SqlStore::open(&e.url).await.unwrap();
    let reg = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default());
    let repo = registry::RepoPath::parse("acme/app").unwrap();
    let rows = reg.tag_history(&registry::Caller::system(), &repo, &Default::default()).await.unwrap();
    assert_eq!(rows.items.len(), 2);
    assert_eq!(rows.items[1].tag.manifest_digest.as_str(), first);
    // Labels come from the image config, with source `manifest`.
    let labels = reg.labels(&registry::Caller::system(), &repo, &rows.items[0].tag.manifest_digest, None).await.unwrap();
    assert_eq!(labels.iter().map(|l| (l.key.as_str(), l.value.as_str())).collect::<Vec<_>>(), [("x", "y")]);
    // An immutable tag refuses a push with 409 TAG_IMMUTABLE.
    reg.set_immutable(&registry::Caller::system(), &repo, &registry::TagName::parse("v1").unwrap(), true).await.unwrap();
    let body = e.get(&format!("/v2/acme/app/manifests/{first}")).await.body;
    let r = e
        .send(
            Method::PUT,
            "/v2/acme/app/manifests/v1",
            &[(header::CONTENT_TYPE.as_str(), "application/vnd.oci.image.manifest.v1+json")],
            body,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "TAG_IMMUTABLE".to_owned()));
    assert_eq!(e.send(Method::DELETE, "/v2/acme/app/manifests/v1", &[], vec![]).await.code(), "TAG_IMMUTABLE");
}
