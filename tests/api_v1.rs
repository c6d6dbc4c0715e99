//! `/api/v1` in process: Quay's paths, JSON shapes, statuses and messages (SPEC §2, §3, §5).

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use quayside::blobs::BlobStore;
use quayside::startup::build_router;
use registry::*;
use serde_json::{json, Value};
use support::{open_store_at, Backend, T0};
use tower::ServiceExt;

struct Api {
    router: axum::Router,
    reg: Registry,
    clock: Arc<FixedClock>,
    _dirs: (Option<tempfile::TempDir>, tempfile::TempDir),
}

const TAG_ERROR: &str = "Invalid tag: must match [A-Za-z0-9_.-], NOT start with \".\" or \"-\", and can contain 1-128 characters";
const BASE: &str = "/api/v1/repository/acme/app";

async fn api() -> Api {
    let (store, dir, url) = open_store_at(Backend::Sqlite).await;
    let clock = Arc::new(FixedClock::new(T0));
    // Permanent expiry on: its route is part of what these tests call (it is off by default).
    let config = Config { allow_permanent_expiry: true, ..Config::default() };
    let reg = Registry::new(Arc::new(store), clock.clone(), config).with_secrets(support::secrets());
    reg.create_repository(&Caller::system(), &RepoPath::parse("acme/app").unwrap(), Visibility::Private, "the app").await.unwrap();
    let blobs_dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(blobs_dir.path()).unwrap();
    let router = build_router(support::app_state(reg.clone(), &url, blobs).await);
    Api { router, reg, clock, _dirs: (dir, blobs_dir) }
}

impl Api {
    async fn call(&self, method: Method, uri: &str, body: Option<Vec<u8>>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        req = req.header("authorization", support::basic(support::ADMIN_USER, support::ADMIN_PASSWORD));
        let resp = self.router.clone().oneshot(req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), parts.headers)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(Method::GET, uri, None).await;
        (s, v)
    }

    async fn send(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self.call(method, uri, Some(serde_json::to_vec(&body).unwrap())).await;
        (s, v)
    }

    async fn push(&self, tag: &str, seed: &str, labels: &[(&str, &str)]) -> Digest {
        let m = quayside::demo::image("amd64", seed, &[1000, 234], labels);
        let repo = RepoPath::parse("acme/app").unwrap();
        self.reg.put_manifest(&Caller::system(), &repo, m, Some(&TagName::parse(tag).unwrap())).await.unwrap().digest
    }
}

#[tokio::test]
async fn tag_listing_shape_paging_and_filters() {
    let a = api().await;
    let d1 = a.push("v1", "one", &[]).await;
    a.clock.advance(1000);
    a.push("v2", "two", &[]).await;
    a.clock.advance(1000);
    a.push("latest", "three", &[]).await;
    let (status, body) = a.get(&format!("{BASE}/tag/?limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["page"], 1);
    assert_eq!(body["has_additional"], true);
    assert_eq!(body["tags"].as_array().unwrap().len(), 2);
    let (_, p2) = a.get(&format!("{BASE}/tag/?limit=2&page=2")).await;
    assert_eq!(
        p2["tags"][0],
        json!({
            "name": "v1", "reversion": false, "immutable": false,
            "start_ts": T0 / 1000, "manifest_digest": d1, "is_manifest_list": false, "size": 1234,
            "last_modified": "Thu, 01 Jan 2026 00:00:00 -0000",
        })
    );
    assert_eq!(p2["has_additional"], false);
    let (_, like) = a.get(&format!("{BASE}/tag/?filter_tag_name=like:V")).await;
    assert_eq!(like["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect::<Vec<_>>(), ["v2", "v1"]);
    let (_, eq) = a.get(&format!("{BASE}/tag/?filter_tag_name=eq:latest")).await;
    assert_eq!(eq["tags"].as_array().unwrap().len(), 1);
    let (status, body) = a.get(&format!("{BASE}/tag/?filter_tag_name=latest")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("Invalid filter"));
    let (_, specific) = a.get(&format!("{BASE}/tag/?specificTag=v2")).await;
    assert_eq!(specific["tags"][0]["name"], "v2");
    // page 0 and a negative limit are clamped, not errors.
    let (status, clamped) = a.get(&format!("{BASE}/tag/?page=0&limit=-4")).await;
    assert_eq!((status, clamped["page"].clone(), clamped["tags"].as_array().unwrap().len()), (StatusCode::OK, json!(1), 1));
    let (status, _) = a.get(&format!("{BASE}/tag/?page=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Deleted tags stay in history; onlyActiveTags hides them.
    assert_eq!(a.call(Method::DELETE, &format!("{BASE}/tag/v1"), None).await.0, StatusCode::NO_CONTENT);
    let (_, all) = a.get(&format!("{BASE}/tag/")).await;
    let v1 = all["tags"].as_array().unwrap().iter().find(|t| t["name"] == "v1").unwrap().clone();
    assert_eq!(v1["end_ts"], T0 / 1000 + 2);
    assert_eq!(v1["expiration"], "Thu, 01 Jan 2026 00:00:02 -0000");
    let (_, active) = a.get(&format!("{BASE}/tag/?onlyActiveTags=true")).await;
    assert_eq!(active["tags"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_tag_names_are_400_with_the_spec_message() {
    let a = api().await;
    let d = a.push("v1", "one", &[]).await;
    let long = "a".repeat(129);
    for name in ["-fail", ".x", long.as_str(), "t%C3%A9st"] {
        let (status, body) = a.send(Method::PUT, &format!("{BASE}/tag/{name}"), json!({ "manifest_digest": d })).await;
        assert_eq!((status, body["message"].as_str().unwrap_or_default()), (StatusCode::BAD_REQUEST, TAG_ERROR), "{name}");
    }
}

#[tokio::test]
async fn put_tag_applies_expiration_immutability_and_digest() {
    let a = api().await;
    let d1 = a.push("v1", "one", &[]).await;
    let d2 = a.push("v2", "two", &[]).await;
    // Create and move.
    let (status, body) = a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "manifest_digest": d1 })).await;
    assert_eq!((status, body), (StatusCode::CREATED, json!("Updated")));
    a.clock.advance(1000);
    assert_eq!(a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "manifest_digest": d2 })).await.0, StatusCode::CREATED);
    // Expiration: in the past is a 400; clamped to at least an hour after the start.
    let now_s = a.reg.now_ms() / 1000;
    let (status, _) = a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "expiration": now_s - 10 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "expiration": now_s + 60 })).await;
    let (_, t) = a.get(&format!("{BASE}/tag/?specificTag=prod&onlyActiveTags=true")).await;
    assert_eq!(t["tags"][0]["end_ts"], now_s + 3600);
    // ...and at most 104 weeks after the tag's start.
    let start_s = t["tags"][0]["start_ts"].as_i64().unwrap();
    a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "expiration": now_s + 200 * 7 * 86_400 })).await;
    let (_, t) = a.get(&format!("{BASE}/tag/?specificTag=prod&onlyActiveTags=true")).await;
    assert_eq!(t["tags"][0]["end_ts"], start_s + 104 * 7 * 86_400);
    // Immutable while an expiration is set: 400; cleared in the same request first (order: expiration, immutable).
    let (status, body) = a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "immutable": true })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("has expiration set"));
    let (status, _) = a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "expiration": null, "immutable": true })).await;
    assert_eq!(status, StatusCode::CREATED);
    // Now a move is refused with Quay's 409 body, and a delete too.
    let (status, body) = a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "manifest_digest": d1 })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error_type"], "tag_immutable");
    assert_eq!(body["message"], "Cannot overwrite immutable tag 'prod'");
    let (status, body, _) = a.call(Method::DELETE, &format!("{BASE}/tag/prod"), None).await;
    assert_eq!((status, body["message"].clone()), (StatusCode::CONFLICT, json!("Cannot delete immutable tag 'prod'")));
    let (status, body) = a.send(Method::PUT, &format!("{BASE}/tag/prod"), json!({ "expiration": now_s + 7200 })).await;
    assert_eq!((status, body["message"].clone()), (StatusCode::BAD_REQUEST, json!("Cannot set expiration on immutable tag 'prod'")));
    // Unknown digest: 404.
    let unknown = Digest::parse(&format!("sha256:{}", "e".repeat(64))).unwrap();
    assert_eq!(a.send(Method::PUT, &format!("{BASE}/tag/other"), json!({ "manifest_digest": unknown })).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn restore() {
    let a = api().await;
    let d1 = a.push("v1", "one", &[]).await;
    a.clock.advance(1000);
    a.push("v1", "two", &[]).await;
    let (status, body) = a.send(Method::POST, &format!("{BASE}/tag/v1/restore"), json!({})).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "Missing manifest_digest" })));
    // d1 is only pointed at by a dead row: restore may use it.
    let (status, body) = a.send(Method::POST, &format!("{BASE}/tag/v1/restore"), json!({ "manifest_digest": d1 })).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (_, t) = a.get(&format!("{BASE}/tag/?specificTag=v1&onlyActiveTags=true")).await;
    assert_eq!((t["tags"][0]["manifest_digest"].clone(), t["tags"][0]["reversion"].clone()), (json!(d1), json!(true)));
}

#[tokio::test]
async fn bad_bodies_are_400_or_413_never_500() {
    let a = api().await;
    a.push("v1", "one", &[]).await;
    let uri = format!("{BASE}/tag/v1");
    for body in [
        &b""[..],
        b"{",
        b"[1,2]",
        br#"{"immutable":"yes"}"#,
        br#"{"expiration":"tomorrow"}"#,
        br#"{"bogus":1}"#,
        br#"{"manifest_digest":"sha256:nope"}"#,
    ] {
        let (status, v, _) = a.call(Method::PUT, &uri, Some(body.to_vec())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {v}", String::from_utf8_lossy(body));
        assert!(v["message"].is_string(), "{v}");
    }
    let huge = format!(r#"{{"manifest_digest":"{}"}}"#, "a".repeat(1024 * 1024 + 10));
    let (status, _, _) = a.call(Method::PUT, &uri, Some(huge.into_bytes())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = a.get(&format!("{BASE}/manifest/sha256:bogus")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.get("/api/v1/repository/acme/missing/tag/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manifests_and_labels() {
    let a = api().await;
    let d = a.push("v1", "one", &[("org.opencontainers.image.source", "git")]).await;
    let (status, m) = a.get(&format!("{BASE}/manifest/{d}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (m["digest"].clone(), m["is_manifest_list"].clone(), m["layers_compressed_size"].clone()),
        (json!(d), json!(false), json!(1234))
    );
    assert_eq!(m["layers"].as_array().unwrap().iter().map(|l| l["compressed_size"].as_i64().unwrap()).collect::<Vec<_>>(), [1000, 234]);
    assert!(m["manifest_data"].as_str().unwrap().contains("schemaVersion"));

    let labels = format!("{BASE}/manifest/{d}/labels");
    let (status, body, headers) = a.call(Method::POST, &labels, Some(br#"{"key":"git-sha","value":"abc"}"#.to_vec())).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["label"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["label"], json!({ "id": id, "key": "git-sha", "value": "abc", "source_type": "api", "media_type": "text/plain" }));
    assert_eq!(headers["location"], format!("{labels}/{id}").as_str());
    let (_, json_label) = a.send(Method::POST, &labels, json!({ "key": "info", "value": "{\"a\":1}" })).await;
    assert_eq!(json_label["label"]["media_type"], "application/json");
    for (key, message) in [
        ("io.quay.x", "Label has a reserved prefix"),
        ("git_sha", "Invalid label key: lowercase letters and digits with single '.' or '-' between them, at most 255 characters"),
    ] {
        let (status, body) = a.send(Method::POST, &labels, json!({ "key": key, "value": "v" })).await;
        assert_eq!((status, body["message"].as_str().unwrap()), (StatusCode::BAD_REQUEST, message));
    }
    let (status, _) = a.send(Method::POST, &labels, json!({ "key": "k", "value": "v", "media_type": "image/png" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Listing, prefix filter, single label.
    let (_, all) = a.get(&labels).await;
    assert_eq!(all["labels"].as_array().unwrap().len(), 3);
    let (_, filtered) = a.get(&format!("{labels}?filter=GIT")).await;
    assert_eq!(filtered["labels"].as_array().unwrap().iter().map(|l| l["key"].as_str().unwrap()).collect::<Vec<_>>(), ["git-sha"]);
    let (status, one) = a.get(&format!("{labels}/{id}")).await;
    assert_eq!((status, one["value"].clone()), (StatusCode::OK, json!("abc")));
    // A manifest label cannot be deleted; an api label can.
    let manifest_label =
        all["labels"].as_array().unwrap().iter().find(|l| l["source_type"] == "manifest").unwrap()["id"].as_str().unwrap().to_owned();
    let (status, body, _) = a.call(Method::DELETE, &format!("{labels}/{manifest_label}"), None).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "Cannot delete immutable label" })));
    assert_eq!(a.call(Method::DELETE, &format!("{labels}/{id}"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(a.get(&format!("{labels}/{id}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn repositories() {
    let a = api().await;
    a.push("v1", "one", &[]).await;
    let (status, r) = a.get(BASE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        r,
        json!({
            "namespace": "acme", "name": "app", "description": "the app", "is_public": false, "state": "NORMAL",
            "has_tags": true, "tag_count": 1, "last_modified": T0 / 1000,
        })
    );
    let (_, list) = a.get("/api/v1/repository?namespace=acme").await;
    assert_eq!(list["repositories"][0]["name"], "app");
    assert_eq!(list["repositories"][0]["tag_count"], 1);
    let (_, none) = a.get("/api/v1/repository?namespace=nobody").await;
    assert_eq!(none["repositories"], json!([]));
    // A read-only repository refuses changes with 503.
    a.reg.set_repository_state(&Caller::system(), &RepoPath::parse("acme/app").unwrap(), RepoState::ReadOnly).await.unwrap();
    let (status, body, _) = a.call(Method::DELETE, &format!("{BASE}/tag/v1"), None).await;
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, json!({ "message": "Repository is in read only or mirror mode" })));
}

#[tokio::test]
async fn batch_changes_many_tags_with_a_result_each() {
    let a = api().await;
    let d1 = a.push("v1", "one", &[]).await;
    a.push("v2", "two", &[]).await;
    a.push("v3", "three", &[]).await;
    let batch = format!("{BASE}/tags/batch");
    let later = a.reg.now_ms() / 1000 + 86_400;
    // All-or-nothing with one refusal: nothing is stored, every change has its result.
    let body = json!({
        "all_or_nothing": true,
        "changes": [
            { "tag": "v1", "action": "set_immutable", "immutable": true },
            { "tag": "v2", "action": "set_expiration", "expiration": later },
            { "tag": "v3", "action": "delete" },
            { "tag": "v1", "action": "delete" },
            { "tag": "nope", "action": "restore", "manifest_digest": "sha256:bogus" },
        ],
    });
    let (status, out) = a.send(Method::POST, &batch, body.clone()).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    insta::assert_json_snapshot!("batch_all_or_nothing_refused", out);
    let (_, active) = a.get(&format!("{BASE}/tag/?onlyActiveTags=true")).await;
    assert!(active["tags"].as_array().unwrap().iter().all(|t| t["immutable"] == false && t.get("end_ts").is_none()), "{active}");
    // Each on its own: the good ones are stored.
    let mut each = body.clone();
    each["all_or_nothing"] = json!(false);
    let (status, out) = a.send(Method::POST, &batch, each).await;
    assert_eq!((status, out["applied"].clone()), (StatusCode::MULTI_STATUS, json!(true)));
    let statuses: Vec<_> = out["results"].as_array().unwrap().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 200, 200, 409, 400]);
    let (_, active) = a.get(&format!("{BASE}/tag/?onlyActiveTags=true")).await;
    let names: Vec<_> = active["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "v3 is deleted: {names:?}");
    // Everything succeeds: 200.
    let ok = json!({ "changes": [{ "tag": "v3", "action": "restore", "manifest_digest": d1 }] });
    let (status, out) = a.send(Method::POST, &batch, ok).await;
    assert_eq!((status, out["applied"].clone()), (StatusCode::OK, json!(true)));
    // A change without the key its action needs, an unknown action, an empty batch: 400.
    for bad in [
        json!({ "changes": [{ "tag": "v1", "action": "set_expiration" }] }),
        json!({ "changes": [{ "tag": "v1", "action": "explode" }] }),
        json!({ "changes": [] }),
        json!({ "changes": [{ "tag": "v1", "action": "delete", "extra": 1 }] }),
    ] {
        let (status, body) = a.send(Method::POST, &batch, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["message"].is_string());
    }
}

/// The OpenAPI document: its routes are a reviewed list, and every operation it lists answers
/// with one of the statuses it documents for it (never 404 for the route itself, 405 or 5xx).
#[tokio::test]
async fn openapi_document_lists_routes_that_answer() {
    let a = api().await;
    let d = a.push("v1", "one", &[]).await;
    a.reg.set_tag(&Caller::system(), &RepoPath::parse("acme/app").unwrap(), &TagName::parse("v2").unwrap(), &d).await.unwrap();
    let (status, doc) = a.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete"].contains(&method.as_str()) {
                operations.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    // Per path: reads first, deletes last, so each call finds what it names.
    let rank = |m: &str| ["GET", "POST", "PUT", "DELETE"].iter().position(|x| *x == m);
    operations.sort_by(|x, y| (&x.1, rank(&x.0)).cmp(&(&y.1, rank(&y.0))));
    let listed: Vec<_> = operations.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    insta::assert_json_snapshot!("openapi_operations", listed);

    let (_, labels) = a.send(Method::POST, &format!("{BASE}/manifest/{d}/labels"), json!({ "key": "k", "value": "v" })).await;
    let label_id = labels["label"]["id"].as_str().unwrap().to_owned();
    a.reg.set_permission(&Caller::system(), &RepoPath::parse("acme/app").unwrap(), support::ADMIN_USER, Role::Admin).await.ok();
    // A second admin of the organization, so that removing the caller from it is allowed.
    let acme = NamespaceName::parse("acme").unwrap();
    a.reg.create_user(&Caller::system(), "ops", "ops-password-1", false).await.unwrap();
    a.reg.set_org_member(&Caller::system(), &acme, "ops", OrgRole::Admin).await.unwrap();
    for (method, path, op) in &operations {
        let uri = path
            .replace("{namespace}", "acme")
            .replace("{repository}", "app")
            .replace("{tag}", "v2")
            .replace("{digest}", d.as_str())
            .replace("{label_id}", &label_id)
            .replace("{username}", support::ADMIN_USER);
        let body = match (method.as_str(), path.rsplit('/').next().unwrap_or("")) {
            ("PUT", "{tag}") => Some(json!({ "immutable": false })),
            ("POST", "restore") => Some(json!({ "manifest_digest": d })),
            // After the DELETE above: v2's ended row on `d` leaves the time machine.
            ("POST", "expire") => Some(json!({ "manifest_digest": d })),
            ("POST", "batch") => Some(json!({ "changes": [{ "tag": "v2", "action": "set_immutable", "immutable": false }] })),
            ("POST", "labels") => Some(json!({ "key": "k2", "value": "v" })),
            ("PUT", "{username}") => Some(json!({ "role": "admin" })),
            ("POST", "changevisibility") => Some(json!({ "visibility": "private" })),
            ("PUT", "changestate") => Some(json!({ "state": "NORMAL" })),
            ("POST", "repository") => Some(json!({ "namespace": "acme", "repository": "made", "visibility": "private" })),
            ("POST", "") => Some(json!({ "name": "neworg" })),
            _ => None,
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, v, _) = a.call(method.clone(), &uri, body.map(|b| serde_json::to_vec(&b).unwrap())).await;
        let documented = op["responses"].as_object().unwrap();
        assert!(status.is_success(), "{method} {uri}: {status} {v}");
        assert!(documented.contains_key(status.as_str()), "{method} {uri}: {status} is not documented");
    }
}

#[tokio::test]
async fn permanent_expiry_takes_rows_out_of_the_time_machine() {
    let a = api().await;
    let d1 = a.push("v1", "one", &[]).await;
    a.clock.advance(1000);
    a.push("v1", "two", &[]).await;
    let expire = format!("{BASE}/tag/v1/expire");
    let (status, body) = a.send(Method::POST, &expire, json!({})).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "Missing manifest_digest" })));
    let (status, body) = a.send(Method::POST, &expire, json!({ "manifest_digest": d1 })).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "expired_rows": 1 })));
    // The row's end moved back past the window (two weeks by default).
    let (_, history) = a.get(&format!("{BASE}/tag/?specificTag=v1")).await;
    let ended = history["tags"].as_array().unwrap().iter().find(|t| t["manifest_digest"] == json!(d1)).unwrap().clone();
    assert!(ended["end_ts"].as_i64().unwrap() < a.reg.now_ms() / 1000 - 14 * 86_400, "{ended}");
    let (status, body) = a.send(Method::POST, &expire, json!({ "manifest_digest": d1 })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing restorable is left: {body}");
    let (_, logs) = a.get(&format!("{BASE}/logs?action=expire_tag_permanently")).await;
    assert_eq!(logs["logs"][0]["metadata"]["rows"], 1);
}

/// Organization members: list, add, change a role, remove; only the organization's admins, and
/// never its last admin; a user's own namespace has no members.
#[tokio::test]
async fn organization_members() {
    let a = api().await;
    let sys = Caller::system();
    for name in ["alice", "bob"] {
        a.reg.create_user(&sys, name, &format!("{name}-password"), false).await.unwrap();
    }
    let members = "/api/v1/organization/acme/members";
    let (status, list) = a.get(members).await;
    assert_eq!((status, list), (StatusCode::OK, json!({ "members": [] })));
    let (status, body) = a.send(Method::PUT, &format!("{members}/alice"), json!({ "role": "admin" })).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "name": "alice", "kind": "user", "role": "admin" })));
    a.send(Method::PUT, &format!("{members}/bob"), json!({ "role": "member" })).await;
    let (_, list) = a.get(members).await;
    assert_eq!(
        list,
        json!({ "members": [{ "name": "alice", "kind": "user", "role": "admin" }, { "name": "bob", "kind": "user", "role": "member" }] })
    );

    // As the members themselves: bob (a member) may not manage; alice (an admin) may.
    let as_user = |user: &'static str, method: Method, uri: String, body: Option<Value>| {
        let router = a.router.clone();
        async move {
            let mut req =
                Request::builder().method(method).uri(uri).header("authorization", support::basic(user, &format!("{user}-password")));
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let body = body.map(|b| Body::from(serde_json::to_vec(&b).unwrap())).unwrap_or_else(Body::empty);
            let resp = router.oneshot(req.body(body).unwrap()).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let (status, body) = as_user("bob", Method::GET, members.into(), None).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, json!({ "message": "You need admin permission on the namespace acme" })));
    let (status, _) = as_user("bob", Method::DELETE, format!("{members}/alice"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let anonymous = a.router.clone().oneshot(Request::get(members).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // The last admin can neither step down nor leave; once bob is an admin too, alice can.
    let last = json!({ "message": "'alice' is the last admin of organization 'acme'" });
    let (status, body) = as_user("alice", Method::PUT, format!("{members}/alice"), Some(json!({ "role": "member" }))).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, last.clone()));
    let (status, body) = as_user("alice", Method::DELETE, format!("{members}/alice"), None).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, last));
    let (status, _) = as_user("alice", Method::PUT, format!("{members}/bob"), Some(json!({ "role": "admin" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = as_user("alice", Method::DELETE, format!("{members}/alice"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = a.get(members).await;
    assert_eq!(list, json!({ "members": [{ "name": "bob", "kind": "user", "role": "admin" }] }));

    // Bad input: a clear 400 or 404, nothing changed.
    let (status, body) = a.send(Method::PUT, &format!("{members}/bob"), json!({ "role": "owner" })).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "Invalid role: owner (expected admin or member)" })));
    let (status, body) = a.send(Method::PUT, &format!("{members}/ghost"), json!({ "role": "member" })).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "message": "User 'ghost' not found" })));
    let (status, body, _) = a.call(Method::DELETE, &format!("{members}/alice"), None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "message": "User 'alice' is not a member of organization 'acme'" })));
    let (status, _) = a.get("/api/v1/organization/nowhere/members").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = a.get("/api/v1/organization/alice/members").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "'alice' is a user's namespace, not an organization" })));
    let (_, list) = a.get(members).await;
    assert_eq!(list["members"].as_array().unwrap().len(), 1);

    // Every change is in the namespace's audit log.
    let (_, logs) = a.get("/api/v1/organization/acme/logs?action=org_set_member").await;
    assert_eq!(logs["logs"].as_array().unwrap().len(), 3, "alice, bob, bob again");
    let (_, logs) = a.get("/api/v1/organization/acme/logs?action=org_remove_member").await;
    assert_eq!(logs["logs"][0]["performer"]["name"], "alice");
}
