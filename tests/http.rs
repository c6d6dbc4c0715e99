//! The router in process: health, the server-rendered repositories page, its server function, 404s.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use quayside::startup::build_router;
use registry::{Caller, Registry, RepoPath, Role, SystemClock};
use std::sync::Arc;
use support::{open_store, Backend};
use tower::ServiceExt;

async fn app() -> (axum::Router, Option<tempfile::TempDir>) {
    let (router, _, dir) = app_and_registry().await;
    (router, dir)
}

/// The router over the demo data, and the service behind it.
async fn app_and_registry() -> (axum::Router, Registry, Option<tempfile::TempDir>) {
    let (store, dir, url) = support::open_store_at(Backend::Sqlite).await;
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default()).with_secrets(support::secrets());
    quayside::demo::seed(&registry).await.expect("seed");
    let blob_dir = tempfile::tempdir().unwrap();
    let blobs = quayside::blobs::BlobStore::open(blob_dir.path()).unwrap();
    let state = support::app_state(registry.clone(), &url, blobs).await;
    std::mem::forget(blob_dir); // lives as long as the test process
    (build_router(state), registry, dir)
}

/// A GET as an anonymous visitor.
async fn get(router: &axum::Router, uri: &str) -> (StatusCode, String) {
    get_as(router, uri, None).await
}

/// A GET with a session cookie (`name=value`), as a signed-in browser sends it.
async fn get_as(router: &axum::Router, uri: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = tokio::time::timeout(std::time::Duration::from_secs(30), router.clone().oneshot(req.body(Body::empty()).unwrap()))
        .await
        .unwrap_or_else(|_| panic!("no response for {uri} within 30 s"))
        .unwrap();
    let status = resp.status();
    let body = tokio::time::timeout(std::time::Duration::from_secs(30), resp.into_body().collect())
        .await
        .unwrap_or_else(|_| panic!("no complete body for {uri} within 30 s"))
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The manifest the repository's `latest` tag points at.
async fn latest_digest(registry: &Registry, repo: &RepoPath) -> registry::Digest {
    let p = registry::HistoryParams { specific_tag: Some("latest".into()), only_active: true, ..Default::default() };
    registry.tag_history(&Caller::system(), repo, &p).await.unwrap().items[0].tag.manifest_digest.clone()
}

/// Signs in through the sign-in form (no JavaScript) and returns the session cookie.
async fn sign_in(router: &axum::Router, user: &str, password: &str, cookie: Option<&str>) -> (StatusCode, String, Option<String>) {
    let form = format!("username={user}&password={password}&next=%2Frepository%2F");
    let mut req = Request::post("/rpc/sign_in")
        .header("host", "127.0.0.1")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("origin", "http://127.0.0.1")
        .header("referer", "http://127.0.0.1/signin");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = router.clone().oneshot(req.body(Body::from(form)).unwrap()).await.unwrap();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("quayside_session="))
        .map(|c| c.split(';').next().unwrap().to_owned());
    (resp.status(), location, cookie)
}

async fn admin_cookie(router: &axum::Router) -> String {
    let (status, _, cookie) = sign_in(router, support::ADMIN_USER, support::ADMIN_PASSWORD, None).await;
    assert_eq!(status, StatusCode::FOUND);
    cookie.expect("a session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_when_the_database_does() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    assert_eq!(get(&router, "/healthz").await, (StatusCode::OK, "ok\n".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_page_is_rendered_on_the_server() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let cookie = Some(cookie.as_str());
    for uri in ["/", "/repository", "/repository/"] {
        let (status, html) = get_as(&router, uri, cookie).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        // Rendered, not left in a <template> for JavaScript to swap in.
        let table = html.find("id=\"repositories\"").expect("the table is in the HTML");
        assert!(!html[..table].contains("<template"), "{uri}: content must not wait for JS");
        for name in ["<strong>web</strong>", "<strong>api</strong>", "<strong>tools/builder</strong>", "<strong>alpine</strong>"] {
            assert!(html.contains(name), "{uri} lacks {name}");
        }
        assert!(html.contains("/pkg/quayside.js"), "hydration script is linked");
        assert!(html.contains("data-hydrated=\"false\""), "the hydration marker starts false");
        // Islands: the browser hydrates the one island, not the page, so the page's data is not
        // sent a second time for hydration.
        assert_eq!(html.matches("<leptos-island data-component=\"Enhance").count(), 1, "{uri}: one island");
        assert!(html.contains("__RESOLVED_RESOURCES=[]"), "{uri}: no page data serialized for the browser");
    }
    let (_, filtered) = get_as(&router, "/repository/?q=ALP", cookie).await;
    assert!(filtered.contains("<strong>alpine</strong>") && !filtered.contains("<strong>web</strong>"));
    let (_, none) = get_as(&router, "/repository/?q=nothing-here", cookie).await;
    assert!(none.contains("No repository matches this filter."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_function_answers_json() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let (status, body) = get_as(&router, "/rpc/repositories?filter=acme&page=1", Some(&cookie)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_history_pages_are_rendered_on_the_server() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let get = |uri: &'static str| {
        let (router, cookie) = (router.clone(), cookie.clone());
        async move { get_as(&router, uri, Some(&cookie)).await }
    };
    let (status, html) = get("/repository/acme/web").await;
    assert_eq!(status, StatusCode::OK);
    let table = html.find("id=\"tags\"").expect("the tags table is in the HTML");
    assert!(!html[..table].contains("<template"));
    // The demo's active tags on acme/web: latest, v1.0.0 (locked), v1.1.0, v1.2.0, beta.
    for tag in ["<strong>latest</strong>", "<strong>v1.0.0</strong>", "<strong>v1.2.0</strong>", "<strong>beta</strong>"] {
        assert!(html.contains(tag), "{tag}");
    }
    assert!(html.contains(">locked</span>"), "the immutable tag shows its lock");
    let (_, history) = get("/repository/acme/web/history").await;
    // Read as events: a restore, a move (from the digest before), a delete.
    assert!(history.contains("class=\"event revert\">restored</span>"), "{history}");
    assert!(history.contains("class=\"event move\">moved</span> from <code"));
    assert!(history.contains("class=\"event delete\">deleted</span>"));
    assert!(history.matches("<tr").count() > html.matches("<tr").count(), "history has more rows than the active tags");
    let (_, filtered) = get("/repository/acme/web?filter=v1.").await;
    assert!(filtered.contains("<strong>v1.1.0</strong>") && !filtered.contains("<strong>latest</strong>"));
    // An index's platforms, each with its manifest's size, in a disclosure.
    let (_, api) = get("/repository/acme/api").await;
    assert!(api.contains("<summary>2 platforms</summary>"), "{api}");
    assert!(api.contains(">linux/amd64</span>") && api.contains(">linux/arm64</span>"));
    let (_, nested) = get("/repository/acme/tools/builder").await;
    assert!(nested.contains("<strong>latest</strong>"));
    let (status, missing) = get("/repository/acme/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        missing.contains("Repository &#x27;acme/nothing&#x27; not found") || missing.contains("Repository 'acme/nothing' not found"),
        "{missing}"
    );
}

/// A form post as a browser without JavaScript sends it.
async fn post_form(router: &axum::Router, uri: &str, form: &str, cookie: &str) -> (StatusCode, String) {
    post_form_from(router, uri, form, cookie, "http://127.0.0.1/repository/acme/web/history").await
}

/// A form post from the page at `referer`.
async fn post_form_from(router: &axum::Router, uri: &str, form: &str, cookie: &str, referer: &str) -> (StatusCode, String) {
    let req = Request::post(uri)
        .header("host", "127.0.0.1")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", referer)
        .body(Body::from(form.to_owned()))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (resp.status(), location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_works_without_javascript_and_says_what_happened() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let (_, history) = get_as(&router, "/repository/acme/web/history", Some(&cookie)).await;
    // The first Restore form on the page belongs to the newest ended row (`latest`, moved away).
    let start = history.find("name=\"digest\" value=\"").expect("a restore form") + 21;
    let digest = &history[start..start + 71];
    let form = format!("repository=acme%2Fweb&tag=latest&digest={}&back=%2Frepository%2Facme%2Fweb%2Fhistory", digest.replace(':', "%3A"));
    let (status, location) = post_form(&router, "/rpc/restore_tag", &form, &cookie).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("/repository/acme/web/history?msg=Restored%20latest%20to%20sha256%3A"), "{location}");
    let (_, after) = get_as(&router, &location, Some(&cookie)).await;
    assert!(after.contains("role=\"status\"") && after.contains("Restored latest to sha256:"), "the message is on the page");
    // A refused restore (v1.0.0 is immutable) comes back with the error in words.
    let form = format!("repository=acme%2Fweb&tag=v1.0.0&digest={}&back=%2Frepository%2Facme%2Fweb%2Fhistory", digest.replace(':', "%3A"));
    let (status, location) = post_form(&router, "/rpc/restore_tag", &form, &cookie).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.contains("__err="), "{location}");
    let (_, refused) = get_as(&router, &location.replace("http://127.0.0.1", ""), Some(&cookie)).await;
    assert!(
        refused.contains("Cannot overwrite immutable tag &#x27;v1.0.0&#x27;")
            || refused.contains("Cannot overwrite immutable tag 'v1.0.0'"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_see_public_repositories_and_a_sign_in_prompt() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let (status, html) = get(&router, "/repository/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<strong>alpine</strong>"), "library/alpine is public");
    assert!(html.contains("<strong>web</strong>"), "acme/web is public");
    assert!(!html.contains("<strong>api</strong>"), "acme/api is private");
    assert!(html.contains("href=\"/signin\""), "the top bar offers sign-in");
    // A private repository and a missing one look the same: 401 and a sign-in prompt.
    for uri in ["/repository/acme/api", "/repository/acme/nothing"] {
        let (status, html) = get(&router, uri).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(html.contains("Sign in to see it"), "{uri}");
    }
    // Public history: rows, but no Restore buttons for someone who may not write.
    let (status, html) = get(&router, "/repository/acme/web/history").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(">deleted</span>") && !html.contains(">Restore</button>"));
    assert!(html.contains(">read only</span>"), "restorable events say why there is no button");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_rotates_the_session_and_wrong_passwords_are_refused() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let (status, location, cookie) = sign_in(&router, "admin", "wrong-password", None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.contains("__err="), "{location}");
    assert!(cookie.is_none(), "no session for a failed sign-in");
    let (_, page) = get(&router, &location.replace("http://127.0.0.1", "")).await;
    assert!(page.contains("Invalid username, password or token"), "the error is on the sign-in page");
    // Signing in again with the first session's cookie gives a new id; the old one is dead.
    let first = admin_cookie(&router).await;
    let (status, location, second) = sign_in(&router, support::ADMIN_USER, support::ADMIN_PASSWORD, Some(&first)).await;
    assert_eq!((status, location.as_str()), (StatusCode::FOUND, "/repository/?msg=Signed%20in%20as%20admin"));
    let second = second.expect("a new session cookie");
    assert_ne!(first, second);
    let (_, old) = get_as(&router, "/repository/", Some(&first)).await;
    assert!(!old.contains("<strong>api</strong>"), "the pre-sign-in session id no longer signs anyone in");
    let (_, new) = get_as(&router, "/repository/", Some(&second)).await;
    assert!(new.contains("<strong>api</strong>"), "signed in with the new id");
    assert!(new.contains(">admin<") && new.contains("(superuser)"), "the top bar names the user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_form_posts_are_refused() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let post = |origin: Option<&'static str>, referer: Option<&'static str>| {
        let (router, cookie) = (router.clone(), cookie.clone());
        async move {
            let mut req = Request::post("/rpc/restore_tag")
                .header("host", "127.0.0.1")
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded");
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            if let Some(r) = referer {
                req = req.header("referer", r);
            }
            let form = "repository=acme%2Fweb&tag=latest&digest=sha256%3Aab&back=%2F";
            router.oneshot(req.body(Body::from(form)).unwrap()).await.unwrap().status()
        }
    };
    assert_eq!(post(Some("http://evil.example"), None).await, StatusCode::FORBIDDEN);
    assert_eq!(post(Some("http://127.0.0.1.evil.example"), Some("http://127.0.0.1/")).await, StatusCode::FORBIDDEN);
    assert_eq!(post(None, Some("http://evil.example/page")).await, StatusCode::FORBIDDEN);
    assert_eq!(post(None, None).await, StatusCode::FORBIDDEN, "a cookie with neither header is refused");
    // From this server's own pages it reaches the server function (which then judges the input).
    assert_ne!(post(Some("http://127.0.0.1"), None).await, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_page_lists_audit_records_for_admins() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let (status, html) = get_as(&router, "/repository/acme/web/logs", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let table = html.find("id=\"audit\"").expect("the audit table is in the HTML");
    assert!(!html[..table].contains("<template"));
    assert!(html.contains("<code>create_tag</code>") && html.contains("<code>move_tag</code>"));
    assert!(html.contains("/api/v1/repository/acme/web/logs?format=csv"), "a CSV download link");
    let (_, filtered) = get_as(&router, "/repository/acme/web/logs?action=revert_tag", Some(&cookie)).await;
    assert!(filtered.contains("<code>revert_tag</code>") && !filtered.contains("<code>create_tag</code>"));
    // Not for anonymous visitors, even on a public repository.
    let (status, html) = get(&router, "/repository/acme/web/logs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Sign in to see it"));
}

/// `/namespace/{ns}/logs`: every repository's records in one table with a Repository column, the
/// same filters plus a time range (days, UTC), for namespace admins only; the repository's
/// Activity tab links to it and filters by time too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespace_activity_page_spans_repositories_and_filters_by_time() {
    let _pages = support::serial_pages().await;
    let (router, registry, _dir) = app_and_registry().await;
    let cookie = admin_cookie(&router).await;
    let cookie = Some(cookie.as_str());
    let (status, html) = get_as(&router, "/namespace/acme/logs", cookie).await;
    assert_eq!(status, StatusCode::OK);
    let table = html.find("id=\"audit\"").expect("the audit table is in the HTML");
    assert!(!html[..table].contains("<template"));
    assert!(html.contains("<th scope=\"col\">Repository</th>"));
    let repos: Vec<_> = ["web", "tools/builder"].iter().filter(|r| html.contains(&format!("<td>{r}</td>"))).collect();
    assert_eq!(repos.len(), 2, "records of both repositories: {repos:?}");
    assert!(html.contains("/api/v1/organization/acme/logs?format=csv"), "a CSV download link");

    // The time range: a range before anything happened, one that covers it, a bad day.
    let (_, before) = get_as(&router, "/namespace/acme/logs?until=2001-01-01", cookie).await;
    assert!(before.contains("No record matches this filter.") && !before.contains("id=\"audit\""));
    let (_, covered) = get_as(&router, "/namespace/acme/logs?since=2001-01-01&action=create_tag", cookie).await;
    assert!(covered.contains("<code>create_tag</code>") && !covered.contains("<code>move_tag</code>"));
    assert!(covered.contains("starttime=2001-01-01"), "the download keeps the range");
    let (status, bad) = get_as(&router, "/namespace/acme/logs?since=yesterday", cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("Invalid time: yesterday (expected Unix seconds or YYYY-MM-DD)"));
    let (_, repo) = get_as(&router, "/repository/acme/web/logs?until=2001-01-01", cookie).await;
    assert!(repo.contains("No record matches this filter."));
    assert!(repo.contains("href=\"/namespace/acme/logs\""), "the Activity tab links to the namespace's");

    // Namespace admins only: anonymous visitors are asked to sign in, others refused.
    let (status, html) = get(&router, "/namespace/acme/logs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Sign in to see it"));
    registry.create_user(&Caller::system(), "reader", "reader-password", false).await.unwrap();
    registry.set_permission(&Caller::system(), &RepoPath::parse("acme/web").unwrap(), "reader", Role::Admin).await.unwrap();
    let (_, _, reader) = sign_in(&router, "reader", "reader-password", None).await;
    let (status, html) = get_as(&router, "/namespace/acme/logs", reader.as_deref()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a repository admin is not a namespace admin");
    assert!(html.contains("You need admin permission on the namespace acme"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_superuser_comes_from_a_one_time_setup_link() {
    let _pages = support::serial_pages().await;
    let (store, _dir, url) = support::open_store_at(Backend::Sqlite).await;
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default()).with_secrets(support::secrets());
    let blob_dir = tempfile::tempdir().unwrap();
    let blobs = quayside::blobs::BlobStore::open(blob_dir.path()).unwrap();
    let options = quayside::startup::leptos_options("127.0.0.1:0".parse().unwrap(), "target/site".into());
    let mut state = quayside::startup::AppState::with_registry(registry.clone(), &url, blobs, options).await.unwrap();
    let code = "5e7c0de".repeat(6);
    state.setup = app::api::SetupCode::new(code.clone());
    let router = build_router(state);
    let setup = |form: String| {
        let router = router.clone();
        async move {
            let req = Request::post("/rpc/setup")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .header("referer", "http://127.0.0.1/setup")
                .body(Body::from(form))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let cookie = resp.headers().get("set-cookie").is_some();
            (resp.status(), location, cookie)
        }
    };
    let (status, html) = get(&router, &format!("/setup?code={code}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("value=\"{code}\"")), "the form carries the code");
    let (_, location, cookie) = setup("code=wrong&username=root&password=long-enough".into()).await;
    assert!(location.contains("__err=") && !cookie, "{location}");
    let (_, location, _) = setup(format!("code={code}&username=root&password=short")).await;
    assert!(location.contains("__err="), "{location}");
    assert_eq!(registry.user_count().await.unwrap(), 0, "a refused password creates nothing and keeps the code");
    let (status, location, cookie) = setup(format!("code={code}&username=root&password=long-enough")).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("/repository/?msg=Welcome") && cookie, "{location}");
    let account = registry.sign_in("root", "long-enough", None).await.unwrap();
    assert!(account.superuser);
    let (_, location, cookie) = setup(format!("code={code}&username=other&password=long-enough")).await;
    assert!(location.contains("__err=") && !cookie, "the link works once: {location}");
    assert_eq!(registry.user_count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_preview_a_policy_before_saving_it_without_javascript() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let (status, html) = get_as(&router, "/repository/acme/web/settings", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    for text in ["User permissions", "Tag immutability policies", "Time machine", "Make private", "2 weeks"] {
        assert!(html.contains(text), "{text}");
    }
    // The preview names the current tags the pattern would lock (v1.0.0 is locked already).
    let (_, preview) = get_as(&router, "/repository/acme/web/settings?pattern=v1%5C..*", Some(&cookie)).await;
    assert!(preview.contains("2 current tags would be locked"), "{preview}");
    assert!(preview.contains("<code>v1.1.0</code>") && preview.contains("<code>v1.2.0</code>") && !preview.contains("<code>v1.0.0</code>"));
    let (_, bad) = get_as(&router, "/repository/acme/web/settings?pattern=v(", Some(&cookie)).await;
    assert!(bad.contains("Invalid regular expression: v("), "the pattern's error in words");
    // Saving it (a plain form post) comes back with a message and locks those tags.
    let form = "repository=acme%2Fweb&pattern=v1%5C..*&matches_immutable=true&back=%2Frepository%2Facme%2Fweb%2Fsettings";
    let (status, location) = post_form(&router, "/rpc/add_policy", form, &cookie).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("/repository/acme/web/settings?msg=Saved%20the%20policy"), "{location}");
    let (_, tags) = get_as(&router, "/repository/acme/web?filter=v1.1", Some(&cookie)).await;
    assert!(tags.contains(">locked</span>"), "the saved policy locked v1.1.0");
    // Granting a role to a user who does not exist says so.
    let form = "repository=acme%2Fweb&user=ghost&role=read&back=%2Frepository%2Facme%2Fweb%2Fsettings";
    let (_, location) = post_form_from(&router, "/rpc/grant", form, &cookie, "http://127.0.0.1/repository/acme/web/settings").await;
    let (_, page) = get_as(&router, &location.replace("http://127.0.0.1", ""), Some(&cookie)).await;
    assert!(page.contains("User &#x27;ghost&#x27; not found") || page.contains("User 'ghost' not found"), "{location}");
    // Not for anonymous visitors.
    assert_eq!(get(&router, "/repository/acme/web/settings").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tag_page_changes_labels_expiration_and_immutability_without_javascript() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let page = "/repository/acme/web/tag/v1.2.0";
    let (status, html) = get_as(&router, page, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for text in
        ["application/vnd.oci.image.manifest.v1+json", "id=\"layers\"", "podman pull localhost/acme/web:v1.2.0", "Raw manifest JSON"]
    {
        assert!(html.contains(text), "{text}");
    }
    let referer = format!("http://127.0.0.1{page}");
    let digest_at = html.find("name=\"digest\" value=\"").expect("the label form names the manifest") + 21;
    let digest = html[digest_at..digest_at + 71].replace(':', "%3A");
    let post = |uri: &'static str, form: String| {
        let (router, cookie, referer) = (router.clone(), cookie.clone(), referer.clone());
        async move {
            let (status, location) = post_form_from(&router, uri, &form, &cookie, &referer).await;
            assert_eq!(status, StatusCode::FOUND);
            let (_, html) = get_as(&router, &location.replace("http://127.0.0.1", ""), Some(&cookie)).await;
            (location, html)
        }
    };
    let back = "back=%2Frepository%2Facme%2Fweb%2Ftag%2Fv1.2.0";
    // A label with an invalid key comes back with the SPEC's message next to the form.
    let (location, html) =
        post("/rpc/add_label", format!("repository=acme%2Fweb&digest={digest}&key=Bad+Key&value=x&media_type=&{back}")).await;
    assert!(location.contains("__err="), "{location}");
    assert!(html.contains("Invalid label key: lowercase letters and digits"), "the error is on the page");
    // A value that looks like markup is shown as text.
    let script = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let (location, html) =
        post("/rpc/add_label", format!("repository=acme%2Fweb&digest={digest}&key=team&value={script}&media_type=&{back}")).await;
    assert!(location.contains("msg=Added%20the%20label%20team"), "{location}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert(1)</script>"));
    // Expiration: a preset, then cleared.
    let (_, html) = post("/rpc/set_expiration", format!("repository=acme%2Fweb&tag=v1.2.0&preset=86400&{back}")).await;
    assert!(html.contains("v1.2.0 expires at "), "preset applied");
    let (_, html) = post("/rpc/set_expiration", format!("repository=acme%2Fweb&tag=v1.2.0&at=2001-01-01T00%3A00&apply=at&{back}")).await;
    assert!(html.contains("role=\"alert\""), "a past date is refused in words");
    let (_, html) = post("/rpc/set_expiration", format!("repository=acme%2Fweb&tag=v1.2.0&clear=true&{back}")).await;
    assert!(html.contains("v1.2.0 never expires"));
    // Lock, fail to delete (409 in words), unlock, delete.
    let (_, html) = post("/rpc/set_immutable", format!("repository=acme%2Fweb&tag=v1.2.0&immutable=true&{back}")).await;
    assert!(html.contains("Locked v1.2.0") && html.contains(">Unlock</button>"));
    let (_, html) = post("/rpc/delete_tag", format!("repository=acme%2Fweb&tag=v1.2.0&{back}")).await;
    assert!(html.contains("Cannot delete immutable tag &#x27;v1.2.0&#x27;") || html.contains("Cannot delete immutable tag 'v1.2.0'"));
    post("/rpc/set_immutable", format!("repository=acme%2Fweb&tag=v1.2.0&immutable=false&{back}")).await;
    let (location, html) = post("/rpc/delete_tag", format!("repository=acme%2Fweb&tag=v1.2.0&{back}")).await;
    assert!(location.starts_with("/repository/acme/web?msg=Deleted%20tag%20v1.2.0"), "{location}");
    assert!(!html.contains("<strong>v1.2.0</strong>"));
    // A tag that is not alive is a 404 page.
    assert_eq!(get_as(&router, page, Some(&cookie)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_are_http_404() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let (status, html) = get(&router, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_refuses_a_registry_that_has_data() {
    let _pages = support::serial_pages().await;
    let (store, _dir) = open_store(Backend::Sqlite).await;
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Default::default());
    quayside::demo::seed(&registry).await.unwrap();
    let err = quayside::demo::seed(&registry).await.unwrap_err();
    assert!(err.to_string().contains("already has repositories"));
    let page = registry.list_repositories(&Caller::system(), Default::default()).await.unwrap();
    assert!(!page.items.is_empty());
}

/// The API reference page is rendered on the server from the OpenAPI document: every operation
/// the document lists is on the page, with no JavaScript needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_reference_page_lists_every_operation() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let (status, html) = get(&router, "/api/docs").await;
    assert_eq!(status, StatusCode::OK);
    let doc = quayside::api_v1::openapi::document_value();
    let mut count = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(html.contains(&format!("id=\"{id}\"")), "{id} is not on the page");
            count += 1;
        }
        assert!(html.contains(&format!("<code>{path}</code>")), "{path} is not on the page");
    }
    assert_eq!(count, 26, "every operation of the document");
    assert!(html.contains("id=\"schema-TagList\""), "schemas are listed");
}

/// Select several tags and change them in one request, without JavaScript: all or nothing, with
/// each refusal named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_tag_changes_work_without_javascript() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let page = "/repository/acme/web";
    let (status, html) = get_as(&router, page, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"bulk\"") && html.contains("value=\"latest\" form=\"bulk\""), "checkboxes for the bulk form");
    let referer = format!("http://127.0.0.1{page}");
    let post = |form: String| {
        let (router, cookie, referer) = (router.clone(), cookie.clone(), referer.clone());
        async move {
            let (status, location) = post_form_from(&router, "/rpc/bulk_tags", &form, &cookie, &referer).await;
            assert_eq!(status, StatusCode::FOUND);
            let (_, html) = get_as(&router, &location.replace("http://127.0.0.1", ""), Some(&cookie)).await;
            (location, html)
        }
    };
    let form = |action: &str, tags: &[&str]| {
        // As a browser sends the checked boxes of rows 1 and 3, say.
        let picked: String = tags.iter().enumerate().map(|(i, t)| format!("&tags%5B{}%5D={t}", 2 * i + 1)).collect();
        format!("repository=acme%2Fweb&back=%2Frepository%2Facme%2Fweb&action={action}{picked}")
    };
    let (location, html) = post(form("lock", &["latest", "v1.2.0"])).await;
    assert!(location.contains("msg=Locked%20latest%2C%20v1.2.0"), "{location}");
    assert_eq!(html.matches("title=\"Immutable: cannot be moved, deleted or pushed over\"").count(), 3, "v1.0.0 was locked already");
    // Deleting a locked tag with an unlocked one: nothing changes, the refusal is named.
    let (location, html) = post(form("delete", &["beta", "latest"])).await;
    assert!(location.contains("__err="), "{location}");
    assert!(html.contains("Nothing was changed. latest: Cannot delete immutable tag"), "the refusal is on the page");
    assert!(html.contains("<strong>beta</strong>"), "beta was not deleted either");
    let (_, html) = post(form("unlock", &["latest", "v1.2.0"])).await;
    assert_eq!(html.matches("title=\"Immutable: cannot be moved, deleted or pushed over\"").count(), 1);
    let (_, html) = post(form("delete", &["beta", "latest"])).await;
    assert!(!html.contains("<strong>beta</strong>") && !html.contains("<strong>latest</strong>"), "both deleted");
    let (location, html) = post(form("delete", &[])).await;
    assert!(location.contains("__err=") && html.contains("Select at least one tag"), "{location}");
}

/// The history says how long ended rows stay restorable, and offers Restore only within the
/// namespace's time machine window (SPEC §2.10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_until_when_rows_are_restorable() {
    let _pages = support::serial_pages().await;
    let (router, registry, _dir) = app_and_registry().await;
    let cookie = admin_cookie(&router).await;
    let (_, html) = get_as(&router, "/repository/acme/web/history", Some(&cookie)).await;
    assert!(html.contains("Deleted and moved tags stay restorable for 2 weeks"), "the window is named");
    assert!(html.contains("restorable until "), "ended rows say until when");
    assert!(html.contains(">Restore</button>"));
    assert!(!html.contains("no longer restorable"));
    // With the window off, no ended row can be restored.
    let acme = registry::NamespaceName::parse("acme").unwrap();
    registry.set_time_machine(&Caller::system(), &acme, 0).await.unwrap();
    let (_, html) = get_as(&router, "/repository/acme/web/history", Some(&cookie)).await;
    assert!(html.contains("cannot be restored (its time machine is off)"));
    assert!(html.contains("no longer restorable") && !html.contains(">Restore</button>"), "no restore offered");
}

/// The Tags tab sorts by name in natural order (and by the other keys) from the URL, without
/// JavaScript; the pager keeps the sort; an unknown sort is a 400 in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_sort_from_the_url() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let (status, html) = get(&router, "/repository/acme/web?sort=name").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"tag-sort\""));
    let pos = |name: &str| html.find(&format!(">{name}</strong>")).unwrap_or_else(|| panic!("{name} listed"));
    assert!(pos("beta") < pos("latest") && pos("latest") < pos("v1.0.0") && pos("v1.0.0") < pos("v1.2.0"), "natural name order");
    for sort in ["size", "expiration", "newest"] {
        let (status, _) = get(&router, &format!("/repository/acme/web?sort={sort}")).await;
        assert_eq!(status, StatusCode::OK, "{sort}");
    }
    let (status, bad) = get(&router, "/repository/acme/web?sort=color").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("Invalid sort: color"));
}

/// The History tab as of a time, without JavaScript: only the rows alive then, the instant named,
/// and a clear refusal for a time that does not parse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_as_of_a_time_without_javascript() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let (status, html) = get_as(&router, "/repository/acme/web/history", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"history-at\"") && html.contains("type=\"datetime-local\""), "the As of field");
    let all = html.matches("<tr").count();
    // In two minutes (no demo tag expires that soon) the rows alive are the tags alive now.
    let now_ms = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let soon = chrono::DateTime::from_timestamp_millis(now_ms + 120_000).unwrap().format("%Y-%m-%dT%H:%M").to_string();
    let (_, then) = get_as(&router, &format!("/repository/acme/web/history?at={}", url_encode(&soon)), Some(&cookie)).await;
    assert!(then.contains("id=\"as-of\""), "the page says which time it shows");
    let (_, tags) = get_as(&router, "/repository/acme/web", Some(&cookie)).await;
    assert_eq!(then.matches("<tr").count(), tags.matches("<tr").count(), "the rows alive then are the tags alive now");
    assert!(then.matches("<tr").count() < all, "fewer rows than the whole history");
    let (_, none) = get_as(&router, "/repository/acme/web/history?at=2001-01-01T00%3A00", Some(&cookie)).await;
    assert!(none.contains("No tag was alive at that time."));
    let (status, bad) = get_as(&router, "/repository/acme/web/history?at=yesterday", Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("Invalid time: yesterday"));
}

fn url_encode(s: &str) -> String {
    s.replace(':', "%3A")
}

/// `/events/repository/{ns}/{repo}`: a server-sent event stream that says `changed` soon after
/// any change to the repository's tags (made anywhere: here, through the service directly); the
/// same read permission as the pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_announce_tag_changes() {
    let _pages = support::serial_pages().await;
    let (router, registry, _dir) = app_and_registry().await;
    let resp = router.clone().oneshot(Request::get("/events/repository/acme/web").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let web = RepoPath::parse("acme/web").unwrap();
    let latest = latest_digest(&registry, &web).await;
    registry.set_tag(&Caller::system(), &web, &registry::TagName::parse("live-1").unwrap(), &latest).await.unwrap();
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains("event: changed") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let frame = tokio::time::timeout(left, body.frame()).await.expect("a changed event within 5 s").unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    // Private repositories: anonymous visitors are refused, as on the pages.
    registry
        .create_repository(&Caller::system(), &RepoPath::parse("acme/secret").unwrap(), registry::Visibility::Private, "")
        .await
        .unwrap();
    let resp = router.clone().oneshot(Request::get("/events/repository/acme/secret").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = router.oneshot(Request::get("/events/repository/acme/nothing-here").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "a missing repository looks like a private one");
}

/// A policy's Edit link opens the same form filled in, the preview shows what the new pattern
/// would lock, and saving changes that policy (no new one), without JavaScript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_is_edited_from_the_settings_page_without_javascript() {
    let _pages = support::serial_pages().await;
    let (router, registry, _dir) = app_and_registry().await;
    let cookie = admin_cookie(&router).await;
    let web = RepoPath::parse("acme/web").unwrap();
    let policy = registry.add_repository_policy(&Caller::system(), &web, "nothing-yet", true).await.unwrap();
    let (_, html) = get_as(&router, "/repository/acme/web/settings", Some(&cookie)).await;
    let edit = format!("/repository/acme/web/settings?edit={}&amp;pattern=nothing-yet", policy.id);
    assert!(html.contains(&edit), "an Edit link per policy: {edit}");
    let (_, form) = get_as(&router, &format!("/repository/acme/web/settings?edit={}&pattern=beta", policy.id), Some(&cookie)).await;
    assert!(form.contains("Edit policy") && form.contains("Save changes"));
    assert!(form.contains("1 current tag would be locked") && form.contains("<code>beta</code>"), "the preview of the new pattern");
    let body =
        format!("repository=acme%2Fweb&pattern=beta&matches_immutable=true&id={}&back=%2Frepository%2Facme%2Fweb%2Fsettings", policy.id);
    let (status, location) = post_form(&router, "/rpc/add_policy", &body, &cookie).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("/repository/acme/web/settings?msg=Saved%20the%20policy%20beta"), "{location}");
    let policies = registry.repository_policies(&Caller::system(), &web).await.unwrap();
    let own: Vec<_> = policies.iter().filter(|p| p.repository_id.is_some()).map(|p| (p.id.as_str(), p.pattern.as_str())).collect();
    assert_eq!(own, [(policy.id.as_str(), "beta")], "changed in place, not added");
    let (_, tags) = get_as(&router, "/repository/acme/web?filter=beta", Some(&cookie)).await;
    assert!(tags.contains(">locked</span>"), "the new pattern locked beta");
}

/// A namespace admin previews and saves a policy for every repository of the namespace, without
/// JavaScript; the repositories list it, and only the namespace deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_policies_from_the_settings_page() {
    let _pages = support::serial_pages().await;
    let (router, _dir) = app().await;
    let cookie = admin_cookie(&router).await;
    let (_, html) = get_as(&router, "/repository/acme/web/settings", Some(&cookie)).await;
    assert!(html.contains("the whole namespace"), "namespace admins get the scope choice");
    let (_, preview) = get_as(&router, "/repository/acme/web/settings?pattern=latest&scope=namespace", Some(&cookie)).await;
    assert!(preview.contains("<code>acme/web:latest</code>") && preview.contains("<code>acme/tools/builder:latest</code>"), "{preview}");
    let form = "repository=acme%2Fweb&pattern=latest&matches_immutable=true&scope=namespace&back=%2Frepository%2Facme%2Fweb%2Fsettings";
    let (status, location) =
        post_form_from(&router, "/rpc/add_policy", form, &cookie, "http://127.0.0.1/repository/acme/web/settings").await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.contains("for%20every%20repository%20of%20acme"), "{location}");
    let (_, tags) = get_as(&router, "/repository/acme/tools/builder?filter=latest", Some(&cookie)).await;
    assert!(tags.contains(">locked</span>"), "the other repository's latest is locked too");
    let (_, settings) = get_as(&router, "/repository/acme/tools/builder/settings", Some(&cookie)).await;
    assert!(settings.contains("<code>latest</code>") && settings.contains("the namespace"), "listed where it applies");
    assert!(settings.contains("name=\"scope\" value=\"namespace\""), "a namespace admin may delete it");
}

/// The History pager without JavaScript: the next page is found from the last row of this one
/// (`after=`), the previous from the first (`before=`), page 2's previous is the plain first
/// page; the rows are the same as the page number alone gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pager_links_carry_a_cursor() {
    let _pages = support::serial_pages().await;
    let (router, registry, _dir) = app_and_registry().await;
    let web = RepoPath::parse("acme/web").unwrap();
    let sys = Caller::system();
    let latest = latest_digest(&registry, &web).await;
    // Over three pages of 50 rows.
    for i in 0..120 {
        registry.set_tag(&sys, &web, &registry::TagName::parse(&format!("many-{i}")).unwrap(), &latest).await.unwrap();
    }
    let link = |html: &str, rel: &str| {
        let at = html.find(&format!("rel=\"{rel}\"")).map(|end| html[..end].rfind("href=\"").unwrap() + 6);
        at.map(|start| html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&"))
    };
    // The rows (the rest of a page differs between requests: nonces).
    let body = |html: &str| {
        let start = html.find("<tbody>").expect("a table");
        html[start..start + html[start..].find("</tbody>").unwrap()].to_owned()
    };
    let base = "/repository/acme/web/history";
    let (status, page1) = get(&router, base).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(link(&page1, "prev"), None);
    let next = link(&page1, "next").expect("a next page");
    assert!(next.starts_with(&format!("{base}?page=2&after=")), "{next}");
    let (_, page2) = get(&router, &next).await;
    let (_, page2_by_number) = get(&router, &format!("{base}?page=2")).await;
    assert!(body(&page2) == body(&page2_by_number), "the same page either way");
    assert_eq!(body(&page2).matches("<tr").count(), 50);
    assert_eq!(link(&page2, "prev").as_deref(), Some(base), "page 1 is the top: no cursor");
    let next = link(&page2, "next").expect("a third page");
    let (_, page3) = get(&router, &next).await;
    assert!(page3.contains("Page <!>3</span>"), "numbered 3");
    assert!(body(&page3) != body(&page2));
    let prev = link(&page3, "prev").unwrap();
    assert!(prev.starts_with(&format!("{base}?page=2&before=")), "{prev}");
    let (_, back) = get(&router, &prev).await;
    assert!(body(&back) == body(&page2), "back from page 3 is page 2");
    assert_eq!(link(&back, "next"), link(&page2, "next"));
    // A cursor that names no row of this repository: the page number decides.
    let (status, stray) = get(&router, &format!("{base}?page=2&after=999999999")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body(&stray) == body(&page2_by_number));
    let (status, _) = get(&router, &format!("{base}?page=2&after=x")).await;
    assert_eq!(status, StatusCode::OK, "a cursor that is not a number is left out");
}

/// Request durations by route pattern and status, in the Prometheus text format the metrics
/// listener serves: a page's requests are counted under its route (no repository name in a
/// label), a refusal under its status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_measured_by_route() {
    let _pages = support::serial_pages().await;
    let handle = quayside::metrics::handle();
    let (router, _dir) = app().await;
    let count = |text: &str, route: &str, status: u16| {
        let prefix = format!("quayside_http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\",status=\"{status}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let before = handle.render();
    for _ in 0..3 {
        assert_eq!(get(&router, "/repository/acme/web/history").await.0, StatusCode::OK);
    }
    // Anonymous: a missing repository looks like a private one.
    assert_eq!(get(&router, "/repository/acme/nothing-here").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&router, "/healthz").await.0, StatusCode::OK);
    let after = handle.render();
    let route = after
        .lines()
        .filter(|l| l.starts_with("quayside_http_request_duration_seconds_count") && l.contains("repository"))
        .find_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .expect("the pages' route")
        .to_owned();
    assert!(!route.contains("acme"), "a pattern, not the path: {route}");
    assert_eq!(count(&after, &route, 200) - count(&before, &route, 200), 3, "{after}");
    assert_eq!(count(&after, &route, 401) - count(&before, &route, 401), 1);
    assert_eq!(count(&after, "/healthz", 200) - count(&before, "/healthz", 200), 1);
    assert!(after.contains(&format!(
        "quayside_http_request_duration_seconds_bucket{{method=\"GET\",route=\"{route}\",status=\"200\",le=\"0.03\"}}"
    )));
}
