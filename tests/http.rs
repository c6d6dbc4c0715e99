//! The router in process: health, the server-rendered repositories page, its server function, 404s.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use quayside::startup::{build_router, leptos_options, AppState};
use registry::{Caller, Registry, SystemClock};
use std::sync::Arc;
use support::{open_store, Backend};
use tower::ServiceExt;

async fn app() -> (axum::Router, Option<tempfile::TempDir>) {
    let (store, dir) = open_store(Backend::Sqlite).await;
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default());
    quayside::demo::seed(&registry).await.expect("seed");
    let blob_dir = tempfile::tempdir().unwrap();
    let blobs = quayside::blobs::BlobStore::open(blob_dir.path()).unwrap();
    let state = AppState { leptos_options: leptos_options("127.0.0.1:0".parse().unwrap(), "target/site".into()), registry, blobs };
    std::mem::forget(blob_dir); // lives as long as the test process
    (build_router(state), dir)
}

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, String) {
    let resp = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_answers_when_the_database_does() {
    let (router, _dir) = app().await;
    assert_eq!(get(&router, "/healthz").await, (StatusCode::OK, "ok\n".to_owned()));
}

#[tokio::test]
async fn repositories_page_is_rendered_on_the_server() {
    let (router, _dir) = app().await;
    for uri in ["/", "/repository", "/repository/"] {
        let (status, html) = get(&router, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        // Rendered, not left in a <template> for JavaScript to swap in.
        let table = html.find("id=\"repositories\"").expect("the table is in the HTML");
        assert!(!html[..table].contains("<template"), "{uri}: content must not wait for JS");
        for name in ["<strong>web</strong>", "<strong>api</strong>", "<strong>tools/builder</strong>", "<strong>alpine</strong>"] {
            assert!(html.contains(name), "{uri} lacks {name}");
        }
        assert!(html.contains("/pkg/quayside.js"), "hydration script is linked");
        assert!(html.contains("data-hydrated=\"false\""), "the hydration marker starts false");
    }
    let (_, filtered) = get(&router, "/repository/?q=ALP").await;
    assert!(filtered.contains("<strong>alpine</strong>") && !filtered.contains("<strong>web</strong>"));
    let (_, none) = get(&router, "/repository/?q=nothing-here").await;
    assert!(none.contains("No repository matches this filter."));
}

#[tokio::test]
async fn the_server_function_answers_json() {
    let (router, _dir) = app().await;
    let (status, body) = get(&router, "/rpc/repositories?filter=acme&page=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<_> = v["page"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}/{}", r["path"]["namespace"].as_str().unwrap(), r["path"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, ["acme/api", "acme/tools/builder", "acme/web"]);
    assert_eq!(v["page"]["has_additional"], false);
}

#[tokio::test]
async fn tags_and_history_pages_are_rendered_on_the_server() {
    let (router, _dir) = app().await;
    let (status, html) = get(&router, "/repository/acme/web").await;
    assert_eq!(status, StatusCode::OK);
    let table = html.find("id=\"tags\"").expect("the tags table is in the HTML");
    assert!(!html[..table].contains("<template"));
    // The demo's active tags on acme/web: latest, v1.0.0 (locked), v1.1.0, v1.2.0, beta.
    for tag in ["<strong>latest</strong>", "<strong>v1.0.0</strong>", "<strong>v1.2.0</strong>", "<strong>beta</strong>"] {
        assert!(html.contains(tag), "{tag}");
    }
    assert!(html.contains(">locked</span>"), "the immutable tag shows its lock");
    let (_, history) = get(&router, "/repository/acme/web/history").await;
    assert!(history.contains(">restored</span>") && history.contains(">ended</span>"));
    assert!(history.matches("<tr").count() > html.matches("<tr").count(), "history has more rows than the active tags");
    let (_, filtered) = get(&router, "/repository/acme/web?filter=v1.").await;
    assert!(filtered.contains("<strong>v1.1.0</strong>") && !filtered.contains("<strong>latest</strong>"));
    let (_, nested) = get(&router, "/repository/acme/tools/builder").await;
    assert!(nested.contains("<strong>latest</strong>"));
    let (status, missing) = get(&router, "/repository/acme/nothing").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        missing.contains("Repository &#x27;acme/nothing&#x27; not found") || missing.contains("Repository 'acme/nothing' not found"),
        "{missing}"
    );
}

/// A form post as a browser without JavaScript sends it.
async fn post_form(router: &axum::Router, uri: &str, form: &str) -> (StatusCode, String) {
    let req = Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", "http://127.0.0.1/repository/acme/web/history")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (resp.status(), location)
}

#[tokio::test]
async fn restore_works_without_javascript_and_says_what_happened() {
    let (router, _dir) = app().await;
    let (_, history) = get(&router, "/repository/acme/web/history").await;
    // The first Restore form on the page belongs to the newest ended row (`latest`, moved away).
    let start = history.find("name=\"digest\" value=\"").expect("a restore form") + 21;
    let digest = &history[start..start + 71];
    let form = format!("repository=acme%2Fweb&tag=latest&digest={}&back=%2Frepository%2Facme%2Fweb%2Fhistory", digest.replace(':', "%3A"));
    let (status, location) = post_form(&router, "/rpc/restore_tag", &form).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("/repository/acme/web/history?msg=Restored%20latest%20to%20sha256%3A"), "{location}");
    let (_, after) = get(&router, &location).await;
    assert!(after.contains("role=\"status\"") && after.contains("Restored latest to sha256:"), "the message is on the page");
    // A refused restore (v1.0.0 is immutable) comes back with the error in words.
    let form = format!("repository=acme%2Fweb&tag=v1.0.0&digest={}&back=%2Frepository%2Facme%2Fweb%2Fhistory", digest.replace(':', "%3A"));
    let (status, location) = post_form(&router, "/rpc/restore_tag", &form).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.contains("__err="), "{location}");
    let (_, refused) = get(&router, &location.replace("http://127.0.0.1", "")).await;
    assert!(
        refused.contains("Cannot overwrite immutable tag &#x27;v1.0.0&#x27;")
            || refused.contains("Cannot overwrite immutable tag 'v1.0.0'"),
        "{refused}"
    );
}

#[tokio::test]
async fn unknown_pages_are_http_404() {
    let (router, _dir) = app().await;
    let (status, html) = get(&router, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"));
}

#[tokio::test]
async fn demo_refuses_a_registry_that_has_data() {
    let (store, _dir) = open_store(Backend::Sqlite).await;
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default());
    quayside::demo::seed(&registry).await.unwrap();
    let err = quayside::demo::seed(&registry).await.unwrap_err();
    assert!(err.to_string().contains("already has repositories"));
    let page = registry.list_repositories(&Caller::admin(), Default::default()).await.unwrap();
    assert!(!page.items.is_empty());
}
