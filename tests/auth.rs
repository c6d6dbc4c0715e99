//! Who may do what, over HTTP (SPEC §4): the permission matrix for `/api/v1`, `/v2` and the UI's
//! server functions, the registry token flow, and bad credentials.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use quayside::startup::build_router;
use registry::*;
use serde_json::Value;
use support::{basic, Backend};
use tower::ServiceExt;

struct Env {
    router: axum::Router,
    reg: Registry,
    digest: String,
    _dir: Option<tempfile::TempDir>,
    _blobs: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Env {
    async fn send(&self, method: Method, uri: &str, auth: Option<&str>, body: Option<&str>) -> Resp {
        let mut req = Request::builder().method(method).uri(uri).header(header::HOST, "registry.test");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body.map(|b| Body::from(b.to_owned())).unwrap_or_else(Body::empty)).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Resp { status: parts.status, headers: parts.headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }
}

/// Two repositories (`acme/pub` public, `acme/priv` private) with a tag `v1`, and one user per
/// role on both: `nobody` (none), `reader`, `writer`, `boss` (admin), `root` (superuser).
async fn env() -> Env {
    let (store, dir, url) = support::open_store_at(Backend::Sqlite).await;
    let reg = Registry::new(Arc::new(store), Arc::new(SystemClock), Config::default()).with_secrets(support::secrets());
    let sys = Caller::system();
    let mut digest = String::new();
    for (name, vis) in [("acme/pub", Visibility::Public), ("acme/priv", Visibility::Private)] {
        let path = RepoPath::parse(name).unwrap();
        reg.create_repository(&sys, &path, vis, "").await.unwrap();
        let m = quayside::demo::image("amd64", "one", &[100], &[]);
        digest = reg.put_manifest(&sys, &path, m, Some(&TagName::parse("v1").unwrap())).await.unwrap().digest.to_string();
    }
    for (user, role, superuser) in [
        ("nobody", None, false),
        ("reader", Some(Role::Read), false),
        ("writer", Some(Role::Write), false),
        ("boss", Some(Role::Admin), false),
        ("root", None, true),
    ] {
        reg.create_user(&sys, user, &format!("{user}-password"), superuser).await.unwrap();
        if let Some(role) = role {
            for name in ["acme/pub", "acme/priv"] {
                reg.set_permission(&sys, &RepoPath::parse(name).unwrap(), user, role).await.unwrap();
            }
        }
    }
    reg.create_user(&sys, "bystander", "bystander-password", false).await.unwrap();
    let blobs_dir = tempfile::tempdir().unwrap();
    let blobs = quayside::blobs::BlobStore::open(blobs_dir.path()).unwrap();
    let router = build_router(support::app_state(reg.clone(), &url, blobs).await);
    Env { router, reg, digest, _dir: dir, _blobs: blobs_dir }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Nobody,
    Reader,
    Writer,
    Boss,
    Root,
}

impl Who {
    const ALL: [Who; 6] = [Who::Anonymous, Who::Nobody, Who::Reader, Who::Writer, Who::Boss, Who::Root];
    fn user(self) -> Option<&'static str> {
        match self {
            Who::Anonymous => None,
            Who::Nobody => Some("nobody"),
            Who::Reader => Some("reader"),
            Who::Writer => Some("writer"),
            Who::Boss => Some("boss"),
            Who::Root => Some("root"),
        }
    }
    /// The role this caller holds on the test repositories.
    fn role(self) -> Option<Role> {
        match self {
            Who::Anonymous | Who::Nobody => None,
            Who::Reader => Some(Role::Read),
            Who::Writer => Some(Role::Write),
            Who::Boss | Who::Root => Some(Role::Admin),
        }
    }
}

/// What a request needs and how to make it.
struct Case {
    what: &'static str,
    needs: Role,
    method: Method,
    /// `{repo}`, `{digest}` and `{label}` are filled in, in the body also `{visibility}` (the
    /// repository's own, so the matrix stays as it is).
    uri: &'static str,
    body: Option<&'static str>,
    /// Made before every attempt, so each caller finds what the request names.
    prepare: Prepare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prepare {
    Nothing,
    /// `bystander` holds read on the repository.
    Grant,
    /// The tag `gone` is alive.
    Tag,
    /// A fresh `api` label, as `{label}`.
    Label,
    /// A fresh repository policy, as `{label}`.
    Policy,
}

impl Env {
    /// Makes what the case needs; returns the `{label}` id.
    async fn prepare(&self, prepare: Prepare, repo: &str) -> String {
        let (sys, path) = (Caller::system(), RepoPath::parse(repo).unwrap());
        let digest = Digest::parse(&self.digest).unwrap();
        match prepare {
            Prepare::Nothing => String::new(),
            Prepare::Grant => {
                self.reg.set_permission(&sys, &path, "bystander", Role::Read).await.unwrap();
                String::new()
            }
            Prepare::Tag => {
                self.reg.restore_tag(&sys, &path, &TagName::parse("gone").unwrap(), &digest).await.unwrap();
                String::new()
            }
            Prepare::Label => self.reg.add_label(&sys, &path, &digest, "doomed", "x", None).await.unwrap().id,
            Prepare::Policy => self.reg.add_repository_policy(&sys, &path, "doomed-.*", true).await.unwrap().id,
        }
    }
}

fn cases() -> Vec<Case> {
    let case = |what, needs, method, uri, body| Case { what, needs, method, uri, body, prepare: Prepare::Nothing };
    let prepared = |what, needs, method, uri, prepare| Case { what, needs, method, uri, body: None, prepare };
    vec![
        case("api: repository logs", Role::Admin, Method::GET, "/api/v1/repository/{repo}/logs", None),
        case(
            "api: tag batch",
            Role::Write,
            Method::POST,
            "/api/v1/repository/{repo}/tags/batch",
            Some(r#"{"changes":[{"tag":"v1","action":"set_expiration","expiration":null}]}"#),
        ),
        case(
            "api: restore tag",
            Role::Write,
            Method::POST,
            "/api/v1/repository/{repo}/tag/v1/restore",
            Some(r#"{"manifest_digest":"{digest}"}"#),
        ),
        prepared("api: delete tag", Role::Write, Method::DELETE, "/api/v1/repository/{repo}/tag/gone", Prepare::Tag),
        prepared("api: one label", Role::Read, Method::GET, "/api/v1/repository/{repo}/manifest/{digest}/labels/{label}", Prepare::Label),
        prepared(
            "api: delete label",
            Role::Write,
            Method::DELETE,
            "/api/v1/repository/{repo}/manifest/{digest}/labels/{label}",
            Prepare::Label,
        ),
        case("api: one permission", Role::Admin, Method::GET, "/api/v1/repository/{repo}/permissions/user/reader", None),
        prepared("api: revoke", Role::Admin, Method::DELETE, "/api/v1/repository/{repo}/permissions/user/bystander", Prepare::Grant),
        case(
            "api: visibility",
            Role::Admin,
            Method::POST,
            "/api/v1/repository/{repo}/changevisibility",
            Some(r#"{"visibility":"{visibility}"}"#),
        ),
        case("api: repository", Role::Read, Method::GET, "/api/v1/repository/{repo}", None),
        case("api: list tags", Role::Read, Method::GET, "/api/v1/repository/{repo}/tag/", None),
        case("api: manifest", Role::Read, Method::GET, "/api/v1/repository/{repo}/manifest/{digest}", None),
        case("api: labels", Role::Read, Method::GET, "/api/v1/repository/{repo}/manifest/{digest}/labels", None),
        case("api: change tag", Role::Write, Method::PUT, "/api/v1/repository/{repo}/tag/v1", Some(r#"{"expiration": null}"#)),
        case(
            "api: add label",
            Role::Write,
            Method::POST,
            "/api/v1/repository/{repo}/manifest/{digest}/labels",
            Some(r#"{"key":"k","value":"v"}"#),
        ),
        case("api: permissions", Role::Admin, Method::GET, "/api/v1/repository/{repo}/permissions/user/", None),
        case("api: grant", Role::Admin, Method::PUT, "/api/v1/repository/{repo}/permissions/user/bystander", Some(r#"{"role":"read"}"#)),
        case("api: state", Role::Admin, Method::PUT, "/api/v1/repository/{repo}/changestate", Some(r#"{"state":"NORMAL"}"#)),
        case("v2: tags list", Role::Read, Method::GET, "/v2/{repo}/tags/list", None),
        case("v2: manifest", Role::Read, Method::GET, "/v2/{repo}/manifests/v1", None),
        case("v2: start upload", Role::Write, Method::POST, "/v2/{repo}/blobs/uploads/", None),
    ]
}

/// Every case × every caller × public and private: 2xx when the role suffices, else 401 for
/// anonymous callers and 403 for signed-in ones — except that a private repository is not
/// revealed: without read on it a signed-in caller gets the same 403 as for a missing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix() {
    let e = env().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        for (repo, public) in [("acme/pub", true), ("acme/priv", false)] {
            for who in Who::ALL {
                let label = e.prepare(case.prepare, repo).await;
                let uri = case.uri.replace("{repo}", repo).replace("{digest}", &e.digest).replace("{label}", &label);
                let visibility = if public { "public" } else { "private" };
                let body = case.body.map(|b| b.replace("{digest}", &e.digest).replace("{visibility}", visibility));
                let auth = who.user().map(|u| basic(u, &format!("{u}-password")));
                let r = e.send(case.method.clone(), &uri, auth.as_deref(), body.as_deref()).await;
                let role = who.role().or((public).then_some(Role::Read));
                let expected = match role {
                    Some(r) if r >= case.needs => "2xx",
                    _ if who == Who::Anonymous => "401",
                    _ => "403",
                };
                let got = match r.status.as_u16() {
                    200..=299 => "2xx",
                    401 => "401",
                    403 => "403",
                    _ => "other",
                };
                checked += 1;
                if got != expected {
                    failures.push(format!("{} {repo} as {who:?}: expected {expected}, got {} {}", case.what, r.status, r.body));
                }
                if got == "401" && uri.starts_with("/v2/") {
                    let challenge = r.headers.get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                    if !challenge.starts_with("Bearer realm=\"http://registry.test/v2/auth\",service=\"quayside\",scope=\"repository:") {
                        failures.push(format!("{} {repo}: 401 without a token challenge: {challenge:?}", case.what));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} combinations wrong:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, cases().len() * 2 * 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_repositories_refuse_every_mutation_with_503() {
    let e = env().await;
    let writes: Vec<_> = cases().into_iter().filter(|c| c.needs == Role::Write).collect();
    let mut labels = Vec::new();
    for case in &writes {
        labels.push(e.prepare(case.prepare, "acme/priv").await);
    }
    for repo in ["acme/pub", "acme/priv"] {
        e.reg.set_repository_state(&Caller::system(), &RepoPath::parse(repo).unwrap(), RepoState::ReadOnly).await.unwrap();
    }
    for who in [Who::Writer, Who::Boss, Who::Root] {
        let auth = basic(who.user().unwrap(), &format!("{}-password", who.user().unwrap()));
        for (case, label) in writes.iter().zip(&labels) {
            let uri = case.uri.replace("{repo}", "acme/priv").replace("{digest}", &e.digest).replace("{label}", label);
            let body = case.body.map(|b| b.replace("{digest}", &e.digest));
            let r = e.send(case.method.clone(), &uri, Some(&auth), body.as_deref()).await;
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{} as {who:?}: {}", case.what, r.body);
        }
    }
    // The state itself can still be changed back by an admin.
    let boss = basic("boss", "boss-password");
    let r = e.send(Method::PUT, "/api/v1/repository/acme/priv/changestate", Some(&boss), Some(r#"{"state":"NORMAL"}"#)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_401_with_one_message() {
    let e = env().await;
    let forged_jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJyb290In0.c2lnbmF0dXJl";
    for auth in [
        basic("root", "wrong-password").as_str(),
        basic("ghost", "whatever-password").as_str(),
        "Basic not-base64!",
        "Basic cm9vdA==",
        "Bearer qs_not-a-real-token",
        "Negotiate abc",
        "Bearer",
    ] {
        for uri in ["/api/v1/repository/acme/pub/tag/", "/api/v1/repository/acme/nothing/tag/"] {
            let r = e.send(Method::GET, uri, Some(auth), None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth} {uri}: {}", r.body);
            assert_eq!(r.body["message"], "Invalid username, password or token");
        }
        let r = e.send(Method::GET, "/v2/acme/pub/tags/list", Some(auth), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
    }
    let r = e.send(Method::GET, "/v2/acme/pub/tags/list", Some(&format!("Bearer {forged_jwt}")), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An API token works as Bearer and as the Basic password, for its own user only.
    let token = e.reg.create_token(&Caller::system(), "reader", "ci").await.unwrap();
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/tag/", Some(&format!("Bearer {token}")), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/tag/", Some(&basic("reader", &token)), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/tag/", Some(&basic("root", &token)), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_token_flow() {
    let e = env().await;
    // The base endpoint challenges anonymous clients and accepts good credentials.
    let r = e.send(Method::GET, "/v2/", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer realm=\"http://registry.test/v2/auth\",service=\"quayside\"");
    assert_eq!(e.send(Method::GET, "/v2/", Some(&basic("root", "root-password")), None).await.status, StatusCode::OK);
    assert_eq!(e.send(Method::GET, "/v2/", Some(&basic("root", "nope-nope")), None).await.status, StatusCode::UNAUTHORIZED);

    let token_for = |auth: Option<String>, scope: &'static str| {
        let e = &e;
        async move {
            let r = e.send(Method::GET, &format!("/v2/auth?service=quayside&scope={scope}"), auth.as_deref(), None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert_eq!(r.body["expires_in"], 300);
            format!("Bearer {}", r.body["token"].as_str().unwrap())
        }
    };
    // A reader asking for pull and push gets pull only: reads work, pushes are refused (403).
    let reader = token_for(Some(basic("reader", "reader-password")), "repository:acme/priv:pull,push").await;
    assert_eq!(e.send(Method::GET, "/v2/acme/priv/tags/list", Some(&reader), None).await.status, StatusCode::OK);
    let r = e.send(Method::POST, "/v2/acme/priv/blobs/uploads/", Some(&reader), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A token is for its scope only: another repository needs another token (401 + challenge).
    let r = e.send(Method::GET, "/v2/acme/pub/tags/list", Some(&reader), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers[header::WWW_AUTHENTICATE].to_str().unwrap().ends_with("scope=\"repository:acme/pub:pull\""));
    // Anonymous tokens: public pulls only; a private repository stays 401 and unrevealed.
    let anon = token_for(None, "repository:acme/pub:pull").await;
    let r = e.send(Method::GET, "/v2/acme/pub/manifests/v1", Some(&anon), None).await;
    assert_eq!(r.status, StatusCode::OK, "{} {:?}", r.body, r.headers);
    let anon_priv = token_for(None, "repository:acme/priv:pull").await;
    assert_eq!(e.send(Method::GET, "/v2/acme/priv/manifests/v1", Some(&anon_priv), None).await.status, StatusCode::UNAUTHORIZED);
    // No token needed for anonymous public pulls at all.
    assert_eq!(e.send(Method::GET, "/v2/acme/pub/manifests/v1", None, None).await.status, StatusCode::OK);
    // A writer's token pushes; a tampered token is refused.
    let writer = token_for(Some(basic("writer", "writer-password")), "repository:acme/priv:pull,push").await;
    let r = e.send(Method::POST, "/v2/acme/priv/blobs/uploads/", Some(&writer), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let mut tampered = writer.clone();
    tampered.pop();
    tampered.push(if writer.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(e.send(Method::GET, "/v2/acme/priv/tags/list", Some(&tampered), None).await.status, StatusCode::UNAUTHORIZED);
    // Wrong credentials at the token endpoint: 401, never an anonymous token.
    let r =
        e.send(Method::GET, "/v2/auth?service=quayside&scope=repository:acme/pub:pull", Some(&basic("reader", "bad-password")), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_and_organizations_over_the_api() {
    let e = env().await;
    let writer = basic("writer", "writer-password");
    // A user creates repositories in their own namespace, not in others'.
    let r = e
        .send(
            Method::POST,
            "/api/v1/repository",
            Some(&writer),
            Some(r#"{"namespace":"writer","repository":"app","visibility":"private","description":"mine"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = e
        .send(Method::POST, "/api/v1/repository", Some(&writer), Some(r#"{"namespace":"acme","repository":"new","visibility":"private"}"#))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = e.send(Method::POST, "/api/v1/repository", None, Some(r#"{"namespace":"acme","repository":"x","visibility":"public"}"#)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = e
        .send(Method::POST, "/api/v1/repository", Some(&writer), Some(r#"{"namespace":"writer","repository":"b","visibility":"secret"}"#))
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "Invalid visibility: secret (expected public or private)")
    );
    // Visibility: private → public makes it readable anonymously.
    assert_eq!(e.send(Method::GET, "/api/v1/repository/writer/app/tag/", None, None).await.status, StatusCode::UNAUTHORIZED);
    let r = e.send(Method::POST, "/api/v1/repository/writer/app/changevisibility", Some(&writer), Some(r#"{"visibility":"public"}"#)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(e.send(Method::GET, "/api/v1/repository/writer/app/tag/", None, None).await.status, StatusCode::OK);
    // Organizations: the creator administers it; grants give others access.
    let r = e.send(Method::POST, "/api/v1/organization/", Some(&writer), Some(r#"{"name":"team"}"#)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = e
        .send(Method::POST, "/api/v1/repository", Some(&writer), Some(r#"{"namespace":"team","repository":"svc","visibility":"private"}"#))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let reader = basic("reader", "reader-password");
    assert_eq!(e.send(Method::GET, "/api/v1/repository/team/svc/tag/", Some(&reader), None).await.status, StatusCode::FORBIDDEN);
    let r = e.send(Method::PUT, "/api/v1/repository/team/svc/permissions/user/reader", Some(&writer), Some(r#"{"role":"read"}"#)).await;
    assert_eq!((r.status, r.body["role"].as_str()), (StatusCode::OK, Some("read")));
    assert_eq!(e.send(Method::GET, "/api/v1/repository/team/svc/tag/", Some(&reader), None).await.status, StatusCode::OK);
    let r = e.send(Method::GET, "/api/v1/repository/team/svc/permissions/user/", Some(&writer), None).await;
    assert_eq!(r.body["permissions"]["reader"]["role"], "read");
    let r = e.send(Method::PUT, "/api/v1/repository/team/svc/permissions/user/reader", Some(&writer), Some(r#"{"role":"owner"}"#)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = e.send(Method::DELETE, "/api/v1/repository/team/svc/permissions/user/reader", Some(&writer), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(e.send(Method::GET, "/api/v1/repository/team/svc/tag/", Some(&reader), None).await.status, StatusCode::FORBIDDEN);
    // The repository list shows each caller what they may read.
    let r = e.send(Method::GET, "/api/v1/repository", None, None).await;
    let names: Vec<_> = r.body["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}/{}", r["namespace"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, ["acme/pub", "writer/app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_logs_filter_page_and_download() {
    let e = env().await;
    let (boss, writer) = (basic("boss", "boss-password"), basic("writer", "writer-password"));
    let tomorrow = SystemClock.now_ms() / 1000 + 86_400;
    let r =
        e.send(Method::PUT, "/api/v1/repository/acme/priv/tag/v1", Some(&writer), Some(&format!(r#"{{"expiration": {tomorrow}}}"#))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Repository admins read the log, newest first, with Quay's record shape.
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs", Some(&boss), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let logs = r.body["logs"].as_array().unwrap();
    assert_eq!(logs[0]["kind"], "change_tag_expiration");
    assert_eq!(logs[0]["performer"]["name"], "writer");
    assert_eq!(logs[0]["metadata"]["tag"], "v1");
    assert!(logs.iter().any(|l| l["kind"] == "change_repo_permission" && l["metadata"]["username"] == "boss"));
    // Filters: actor, action, time range; a bad time is a 400.
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?performer=writer", Some(&boss), None).await;
    assert_eq!(r.body["logs"].as_array().unwrap().len(), 1);
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?action=change_repo_permission", Some(&boss), None).await;
    let kinds: Vec<_> = r.body["logs"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds.len(), 3, "reader, writer and boss were granted a role: {kinds:?}");
    assert!(kinds.iter().all(|k| k == "change_repo_permission"));
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?starttime=2100-01-01", Some(&boss), None).await;
    assert_eq!(r.body["logs"], serde_json::json!([]));
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?starttime=yesterday", Some(&boss), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?starttime=2000-01-02&endtime=2000-01-01", Some(&boss), None).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("The start of the time range must be before its end"))
    );
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?limit=2&page=2", Some(&boss), None).await;
    assert_eq!((r.body["page"].as_u64(), r.body["logs"].as_array().unwrap().len()), (Some(2), 2));
    // Writers and readers may not read it; anonymous callers are asked to sign in.
    assert_eq!(e.send(Method::GET, "/api/v1/repository/acme/priv/logs", Some(&writer), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(e.send(Method::GET, "/api/v1/repository/acme/pub/logs", None, None).await.status, StatusCode::UNAUTHORIZED);
    // Namespace logs: namespace admins (here only the superuser), every repository in it.
    let root = basic("root", "root-password");
    let r = e.send(Method::GET, "/api/v1/organization/acme/logs?action=create_repo", Some(&root), None).await;
    let repos: Vec<_> = r.body["logs"].as_array().unwrap().iter().map(|l| l["metadata"]["repo"].as_str().unwrap().to_owned()).collect();
    assert_eq!(repos, ["priv", "pub"]);
    assert_eq!(e.send(Method::GET, "/api/v1/organization/acme/logs", Some(&boss), None).await.status, StatusCode::FORBIDDEN);
    // Downloads: every matching record as CSV or JSON lines.
    let req = Request::get("/api/v1/repository/acme/priv/logs?format=csv&action=change_repo_permission")
        .header(header::AUTHORIZATION, &boss)
        .body(Body::empty())
        .unwrap();
    let resp = e.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let csv = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines[0], "datetime,performer,ip,kind,repository,metadata");
    assert_eq!(lines.len(), 4, "a header and three records");
    assert!(lines[1].contains(",(system),,change_repo_permission,acme/priv,\"{"), "{}", lines[1]);
    let r = e.send(Method::GET, "/api/v1/repository/acme/priv/logs?format=xml", Some(&boss), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// The UI's server functions, called as the browser calls them with JavaScript (form-encoded,
/// JSON answers), × every caller × public and private: the same rules and statuses as the APIs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_function_matrix() {
    let _pages = support::serial_pages().await;
    let e = env().await;
    // Every repository-scoped server function (the namespace's time machine is a namespace
    // admin's, covered by the settings tests; the repository list filters rather than refuses,
    // see the contract's `listings_show_what_the_caller_may_read`). `{label}` is what `Prepare`
    // made for the attempt.
    let n = Prepare::Nothing;
    let calls: [(&str, Role, &str, &str, Prepare); 18] = [
        ("tags", Role::Read, "GET", "repository={repo}&history=true", n),
        ("tag", Role::Read, "GET", "repository={repo}&tag=v1", n),
        ("restore_tag", Role::Write, "POST", "repository={repo}&tag=v1&digest={digest}&back=%2F", n),
        ("set_expiration", Role::Write, "POST", "repository={repo}&tag=v1&clear=true&back=%2F", n),
        ("set_immutable", Role::Write, "POST", "repository={repo}&tag=v1&immutable=false&back=%2F", n),
        ("bulk_tags", Role::Write, "POST", "repository={repo}&tags%5B0%5D=v1&action=no-expiry&back=%2F", n),
        ("add_label", Role::Write, "POST", "repository={repo}&digest={digest}&key=k&value=v&media_type=&back=%2F", n),
        ("delete_label", Role::Write, "POST", "repository={repo}&digest={digest}&id={label}&back=%2F", Prepare::Label),
        ("delete_tag", Role::Write, "POST", "repository={repo}&tag=gone&back=%2F", Prepare::Tag),
        ("audit", Role::Admin, "GET", "repository={repo}", n),
        ("settings", Role::Admin, "GET", "repository={repo}", n),
        ("grant", Role::Admin, "POST", "repository={repo}&user=bystander&role=read&back=%2F", n),
        ("revoke", Role::Admin, "POST", "repository={repo}&user=bystander&back=%2F", Prepare::Grant),
        ("add_policy", Role::Admin, "POST", "repository={repo}&pattern=never-.*&matches_immutable=true&back=%2F", n),
        ("delete_policy", Role::Admin, "POST", "repository={repo}&id={label}&back=%2F", Prepare::Policy),
        ("policy_preview", Role::Admin, "GET", "repository={repo}&pattern=v.*&matches_immutable=true", n),
        ("set_visibility", Role::Admin, "POST", "repository={repo}&visibility={visibility}&back=%2F", n),
        ("set_repository_state", Role::Admin, "POST", "repository={repo}&state=normal&back=%2F", n),
    ];
    let mut failures = Vec::new();
    for (name, needs, method, args, prepare) in calls {
        for (repo, public) in [("acme/pub", true), ("acme/priv", false)] {
            for who in Who::ALL {
                let label = e.prepare(prepare, repo).await;
                let args = args
                    .replace("{repo}", &repo.replace('/', "%2F"))
                    .replace("{digest}", &e.digest.replace(':', "%3A"))
                    .replace("{label}", &label)
                    .replace("{visibility}", if public { "public" } else { "private" });
                let mut req = match method {
                    "GET" => Request::get(format!("/rpc/{name}?{args}")).body(Body::empty()).unwrap(),
                    _ => Request::post(format!("/rpc/{name}"))
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(Body::from(args))
                        .unwrap(),
                };
                req.headers_mut().insert(header::ACCEPT, "application/json".parse().unwrap());
                if let Some(u) = who.user() {
                    req.headers_mut().insert(header::AUTHORIZATION, basic(u, &format!("{u}-password")).parse().unwrap());
                }
                let status = e.router.clone().oneshot(req).await.unwrap().status();
                let role = who.role().or(public.then_some(Role::Read));
                let ok = match role {
                    Some(r) if r >= needs => status.is_success() || status == StatusCode::FOUND,
                    _ if who == Who::Anonymous => status == StatusCode::UNAUTHORIZED,
                    _ => status == StatusCode::FORBIDDEN,
                };
                if !ok {
                    failures.push(format!("/rpc/{name} {repo} as {who:?}: {status}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
