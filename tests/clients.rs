//! Real registry clients against the real server: images built locally with umoci (no network),
//! pushed and pulled with skopeo, compared byte for byte. Runs on SQLite and on PostgreSQL.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use registry::*;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use support::Backend;

/// The server binary on a free port, with its own data dir and database.
struct Server {
    child: Child,
    addr: String,
    registry: Registry,
    url: String,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn server(backend: Backend) -> Server {
    server_with(backend, &[]).await
}

async fn server_with(backend: Backend, env: &[(&str, &str)]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", data.path().join("q.db").display()),
        Backend::Postgres => support::fresh_postgres_database().await,
    };
    let (child, addr) = spawn_server(&url, data.path(), env);
    let store = quayside::db::SqlStore::open(&url).await.unwrap();
    let registry = Registry::new(Arc::new(store), Arc::new(SystemClock), Config::default());
    Server { child, addr, registry, url, data }
}

/// Starts the server binary on a free port over `url` and `data`; returns it and its address.
fn spawn_server(url: &str, data: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quayside"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url, "--data-dir"])
        .arg(data)
        .env("QUAYSIDE_LOG", "warn")
        .env("QUAYSIDE_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().trim_end_matches('/').to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "server said: {line}");
    (child, addr)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn try_run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An OCI layout with one image built by umoci: a random payload layer and config labels.
fn build_image(dir: &Path, tag: &str, arch: &str, payload_len: usize, labels: &[&str]) {
    let layout = dir.to_str().unwrap();
    if !dir.join("oci-layout").exists() {
        run(Command::new("umoci").args(["init", "--layout", layout]));
    }
    let image = format!("{layout}:{tag}");
    run(Command::new("umoci").args(["new", "--image", &image]));
    let mut config = Command::new("umoci");
    config.args(["config", "--image", &image, "--architecture", arch, "--os", "linux"]);
    for l in labels {
        config.args(["--config.label", l]);
    }
    run(&mut config);
    let payload = dir.with_extension(format!("{tag}.bin"));
    let bytes: Vec<u8> = (0..payload_len)
        .map(|i| (i as u64).wrapping_mul(2654435761).wrapping_add(tag.len() as u64 * 7 + arch.len() as u64) as u8)
        .collect();
    std::fs::write(&payload, bytes).unwrap();
    run(Command::new("umoci").args(["insert", "--image", &image, payload.to_str().unwrap(), "/payload.bin"]));
}

fn read_index(layout: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

/// The manifest descriptor tagged `tag` in a layout's index.json.
fn descriptor(layout: &Path, tag: &str) -> serde_json::Value {
    read_index(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .cloned()
        .unwrap_or_else(|| panic!("{tag} not in {}", layout.display()))
}

/// Adds a two-platform image index tagged `tag` to the layout, over two images in it.
fn add_index(layout: &Path, tag: &str, children: &[(&str, &str)]) -> String {
    let manifests: Vec<_> = children
        .iter()
        .map(|(child, arch)| {
            let mut d = descriptor(layout, child);
            d.as_object_mut().unwrap().remove("annotations");
            d["platform"] = json!({ "architecture": arch, "os": "linux" });
            d
        })
        .collect();
    let body =
        serde_json::to_vec(&json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests }))
            .unwrap();
    let hex = hex::encode(Sha256::digest(&body));
    std::fs::write(layout.join("blobs/sha256").join(&hex), &body).unwrap();
    let mut index = read_index(layout);
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"),
        "size": body.len(),
        "annotations": { "org.opencontainers.image.ref.name": tag },
    }));
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    format!("sha256:{hex}")
}

/// The superuser's `--creds`.
fn admin_creds() -> String {
    format!("{}:{}", support::ADMIN_USER, support::ADMIN_PASSWORD)
}

/// `skopeo copy` as the superuser (docker:// ends only; `oci:` ends take no credentials).
fn skopeo_copy(all: bool, from: &str, to: &str) -> Result<String, String> {
    skopeo_copy_as(Some(&admin_creds()), all, from, to)
}

/// `skopeo copy` with `creds` (`user:secret`) for the registry end(s), or none (anonymous).
fn skopeo_copy_as(creds: Option<&str>, all: bool, from: &str, to: &str) -> Result<String, String> {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests"]);
    if let Some(c) = creds {
        if from.starts_with("docker://") {
            cmd.arg(format!("--src-creds={c}"));
        }
        if to.starts_with("docker://") {
            cmd.arg(format!("--dest-creds={c}"));
        }
    }
    if all {
        cmd.arg("--all");
    }
    try_run(cmd.args([from, to]))
}

/// Every blob file of a layout: name → bytes.
fn blobs_of(layout: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

async fn alive(reg: &Registry, repo: &RepoPath, tag: &str) -> Option<Tag> {
    let p = HistoryParams { only_active: true, specific_tag: Some(tag.into()), ..Default::default() };
    reg.tag_history(&Caller::system(), repo, &p).await.unwrap().items.into_iter().next().map(|v| v.tag)
}

async fn round_trips(backend: Backend) {
    let s = server(backend).await;
    let work = tempfile::tempdir().unwrap();
    let src: PathBuf = work.path().join("src");
    build_image(&src, "one", "amd64", 300_000, &["quay.expires-after=2h", "org.example.team=registry"]);
    build_image(&src, "two", "amd64", 200_000, &[]);
    build_image(&src, "arm", "arm64", 150_000, &[]);
    let index_digest = add_index(&src, "multi", &[("two", "amd64"), ("arm", "arm64")]);
    let src_ref = |t: &str| format!("oci:{}:{t}", src.display());
    let dest = |r: &str| format!("docker://{}/{r}", s.addr);

    // Single image: push, pull back, same manifest digest and the same bytes for every blob.
    skopeo_copy(false, &src_ref("one"), &dest("acme/hello:v1")).unwrap();
    let out = work.path().join("out");
    skopeo_copy(false, &dest("acme/hello:v1"), &format!("oci:{}:v1", out.display())).unwrap();
    assert_eq!(descriptor(&out, "v1")["digest"], descriptor(&src, "one")["digest"]);
    let (src_blobs, out_blobs) = (blobs_of(&src), blobs_of(&out));
    for (name, bytes) in &out_blobs {
        assert_eq!(Some(bytes), src_blobs.get(name), "blob {name} differs after the round trip");
    }

    // The config label `quay.expires-after=2h` gave the tag an expiration.
    let repo = RepoPath::parse("acme/hello").unwrap();
    let v1 = alive(&s.registry, &repo, "v1").await.unwrap();
    assert_eq!(v1.lifetime_end_ms.map(|e| e - v1.lifetime_start_ms), Some(2 * HOUR_MS));
    let labels = s.registry.labels(&Caller::system(), &repo, &v1.manifest_digest, None).await.unwrap();
    assert!(labels.iter().any(|l| l.key == "org.example.team" && l.value == "registry" && l.source_type == LabelSource::Manifest));

    // A re-push moves the tag; the history shows both lifetimes.
    skopeo_copy(false, &src_ref("two"), &dest("acme/hello:v1")).unwrap();
    let history = s
        .registry
        .tag_history(&Caller::system(), &repo, &HistoryParams { specific_tag: Some("v1".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(history.items.len(), 2);
    assert_eq!(history.items[0].tag.manifest_digest.as_str(), descriptor(&src, "two")["digest"]);
    assert!(history.items[1].tag.lifetime_end_ms.is_some());

    // A push over an immutable tag is refused, and the tag stays where it was.
    s.registry.set_immutable(&Caller::system(), &repo, &TagName::parse("v1").unwrap(), true).await.unwrap();
    let err = skopeo_copy(false, &src_ref("one"), &dest("acme/hello:v1")).unwrap_err();
    assert!(err.contains("TAG_IMMUTABLE") || err.contains("immutable"), "{err}");
    assert_eq!(alive(&s.registry, &repo, "v1").await.unwrap().manifest_digest.as_str(), descriptor(&src, "two")["digest"]);

    // A two-platform index with --all: same index digest back, both platforms pullable.
    skopeo_copy(true, &src_ref("multi"), &dest("acme/multi:latest")).unwrap();
    let out2 = work.path().join("out2");
    skopeo_copy(true, &dest("acme/multi:latest"), &format!("oci:{}:latest", out2.display())).unwrap();
    assert_eq!(descriptor(&out2, "latest")["digest"], index_digest.as_str());
    let src_blobs = blobs_of(&src);
    let out2_blobs = blobs_of(&out2);
    assert!(out2_blobs.len() >= 7, "index + 2 manifests + 2 configs + 2 layers, got {}", out2_blobs.len());
    for (name, bytes) in &out2_blobs {
        assert_eq!(Some(bytes), src_blobs.get(name), "blob {name} differs after the --all round trip");
    }
    let raw =
        run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", "--creds", &admin_creds(), &dest("acme/multi:latest")]));
    assert_eq!(format!("sha256:{}", hex::encode(Sha256::digest(raw.as_bytes()))), index_digest, "served byte-exact");
}

/// Registry login: wrong credentials are refused, right ones push; a user pushes only where
/// they may write; anonymous clients pull public repositories and are refused private ones.
async fn credentials(backend: Backend) {
    let s = server(backend).await;
    let work = tempfile::tempdir().unwrap();
    let src: PathBuf = work.path().join("src");
    build_image(&src, "one", "amd64", 50_000, &[]);
    let src_ref = format!("oci:{}:one", src.display());
    let dest = |r: &str| format!("docker://{}/{r}", s.addr);
    let pull_to = work.path().join("pulled");
    let pull_ref = |t: &str| format!("oci:{}:{t}", pull_to.display());

    let err = skopeo_copy_as(Some("admin:wrong-password"), false, &src_ref, &dest("acme/app:v1")).unwrap_err();
    assert!(err.contains("401") || err.to_lowercase().contains("unauthorized"), "{err}");
    let err = skopeo_copy_as(None, false, &src_ref, &dest("acme/app:v1")).unwrap_err();
    assert!(err.to_lowercase().contains("unauthorized") || err.contains("401"), "{err}");
    skopeo_copy(false, &src_ref, &dest("acme/app:v1")).unwrap();

    // A plain user: pushes into their own namespace, not into acme (403 denied), and reads acme
    // only once granted.
    let reg = s.registry.clone().with_secrets(support::secrets());
    reg.create_user(&Caller::system(), "alice", "alice-password", false).await.unwrap();
    skopeo_copy_as(Some("alice:alice-password"), false, &src_ref, &dest("alice/tools:v1")).unwrap();
    let err = skopeo_copy_as(Some("alice:alice-password"), false, &src_ref, &dest("acme/app:v2")).unwrap_err();
    assert!(err.to_lowercase().contains("denied") || err.contains("403"), "{err}");
    assert!(skopeo_copy_as(Some("alice:alice-password"), false, &dest("acme/app:v1"), &pull_ref("a")).is_err());
    reg.set_permission(&Caller::system(), &RepoPath::parse("acme/app").unwrap(), "alice", Role::Read).await.unwrap();
    skopeo_copy_as(Some("alice:alice-password"), false, &dest("acme/app:v1"), &pull_ref("a")).unwrap();

    // Anonymous: refused while private, pulls once public (no credentials at all).
    assert!(skopeo_copy_as(None, false, &dest("acme/app:v1"), &pull_ref("b")).is_err());
    reg.set_visibility(&Caller::system(), &RepoPath::parse("acme/app").unwrap(), Visibility::Public).await.unwrap();
    skopeo_copy_as(None, false, &dest("acme/app:v1"), &pull_ref("b")).unwrap();
    assert_eq!(descriptor(&pull_to, "b")["digest"], descriptor(&src, "one")["digest"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_login_and_permissions_on_sqlite() {
    credentials(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_login_and_permissions_on_postgres() {
    credentials(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_round_trips_on_sqlite() {
    round_trips(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_round_trips_on_postgres() {
    round_trips(Backend::Postgres).await;
}

/// Garbage collection in a tight loop (the CLI, as fast as it runs, and the server's own pass
/// every second) while several skopeo pushes run: every push that succeeded pulls back
/// byte-exact, and the collector did run and remove garbage meanwhile.
async fn pushes_survive_garbage_collection(backend: Backend) {
    let grace = "20";
    let s = server_with(backend, &[("QUAYSIDE_GC_INTERVAL", "1"), ("QUAYSIDE_GC_GRACE", grace)]).await;
    let work = tempfile::tempdir().unwrap();
    let src: PathBuf = work.path().join("src");
    let names: Vec<String> = (0..6).map(|i| format!("img{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        build_image(&src, n, "amd64", 200_000 + i * 5_000, &[]);
    }
    // Deleted tags of `acme` leave the time machine at once, so there is garbage to collect.
    let sys = Caller::system();
    s.registry.create_repository(&sys, &RepoPath::parse("acme/gc").unwrap(), Visibility::Private, "").await.unwrap();
    s.registry.set_time_machine(&sys, &NamespaceName::parse("acme").unwrap(), 0).await.unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let (stop, url, data) = (stop.clone(), s.url.clone(), s.data.path().to_owned());
        std::thread::spawn(move || {
            let mut passes = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let out = Command::new(env!("CARGO_BIN_EXE_quayside"))
                    .args(["gc", "--gc-grace", grace, "--gc-upload-age", grace, "--database-url", &url, "--data-dir"])
                    .arg(&data)
                    .env("QUAYSIDE_LOG", "warn")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "gc failed: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                passes += 1;
            }
            passes
        })
    };
    let dest = |r: &str| format!("docker://{}/{r}", s.addr);
    let pushers: Vec<_> = names
        .chunks(2)
        .map(|chunk| {
            let (chunk, src, addr) = (chunk.to_vec(), src.clone(), s.addr.clone());
            std::thread::spawn(move || {
                for n in &chunk {
                    let to = format!("docker://{addr}/acme/gc:{n}");
                    skopeo_copy(false, &format!("oci:{}:{n}", src.display()), &to).unwrap();
                    // Pushed, then pushed again under a throwaway tag that is deleted: garbage.
                    skopeo_copy(false, &format!("oci:{}:{n}", src.display()), &format!("docker://{addr}/acme/gc:tmp-{n}")).unwrap();
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let repo = RepoPath::parse("acme/gc").unwrap();
    for n in &names {
        s.registry.delete_tag(&sys, &repo, &TagName::parse(&format!("tmp-{n}")).unwrap()).await.unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let passes = collector.join().unwrap();
    assert!(passes >= 3, "the collector ran {passes} times");
    let history = s.registry.tag_history(&sys, &repo, &HistoryParams { limit: Some(100), ..Default::default() }).await.unwrap();
    assert!(history.items.iter().all(|v| !v.tag.name.starts_with("tmp-")), "the deleted rows were collected");

    let src_blobs = blobs_of(&src);
    for n in &names {
        let out = work.path().join(format!("out-{n}"));
        skopeo_copy(false, &dest(&format!("acme/gc:{n}")), &format!("oci:{}:{n}", out.display())).unwrap();
        assert_eq!(descriptor(&out, n)["digest"], descriptor(&src, n)["digest"], "{n}");
        for (name, bytes) in blobs_of(&out) {
            assert_eq!(Some(&bytes), src_blobs.get(&name), "blob {name} of {n} differs");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_survive_garbage_collection_on_sqlite() {
    pushes_survive_garbage_collection(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_survive_garbage_collection_on_postgres() {
    pushes_survive_garbage_collection(Backend::Postgres).await;
}

/// `quayside fsck` finds a blob file that was corrupted or lost on disk, and says so with exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_reports_corrupt_and_missing_blobs() {
    let s = server(Backend::Sqlite).await;
    let work = tempfile::tempdir().unwrap();
    let src: PathBuf = work.path().join("src");
    build_image(&src, "one", "amd64", 100_000, &[]);
    skopeo_copy(false, &format!("oci:{}:one", src.display()), &format!("docker://{}/acme/fsck:one", s.addr)).unwrap();
    let fsck = || {
        Command::new(env!("CARGO_BIN_EXE_quayside"))
            .args(["fsck", "--database-url", &s.url, "--data-dir"])
            .arg(s.data.path())
            .env("QUAYSIDE_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = fsck();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && text.contains("checked 2 blobs") && text.contains("every blob is intact"), "{text}");
    // Flip a byte in one blob (same size) and remove another.
    let mut files: Vec<_> = walk(&s.data.path().join("blobs"));
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let (small, large) = (files[0].clone(), files[files.len() - 1].clone());
    let mut bytes = std::fs::read(&large).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&large, bytes).unwrap();
    std::fs::remove_file(&small).unwrap();
    let out = fsck();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text.contains(&format!("corrupt: sha256:{}", name(&large))), "{text}");
    assert!(text.contains(&format!("missing: sha256:{}", name(&small))), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 blobs missing, 1 corrupt"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Uploads `bytes` to `repo` through `/v2` (the token flow, then one monolithic POST) with no
/// manifest using it: garbage once the grace period is over. Returns its digest.
fn upload_lone_blob(addr: &str, repo: &str, bytes: &[u8]) -> String {
    let auth = run(Command::new("curl").args([
        "-sf",
        "-u",
        &admin_creds(),
        &format!("http://{addr}/v2/auth?service=quayside&scope=repository:{repo}:pull,push"),
    ]));
    let token: serde_json::Value = serde_json::from_str(&auth).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let digest = format!("sha256:{:x}", Sha256::digest(bytes));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let status = run(Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .args(["-H", "Content-Type: application/octet-stream", "--data-binary"])
        .arg(format!("@{}", file.path().display()))
        .arg(format!("http://{addr}/v2/{repo}/blobs/uploads/?digest={digest}")));
    assert_eq!(status.trim(), "201", "monolithic upload of {digest}");
    digest
}

/// `quayside <args>` over the test server's database and data dir, to the end.
fn quayside_cli(s: &Server, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quayside"))
        .args(args)
        .args(["--database-url", &s.url, "--data-dir"])
        .arg(s.data.path())
        .env("QUAYSIDE_LOG", "warn")
        .output()
        .unwrap()
}

/// SIGKILL while 20 pushes run and the server's garbage collector passes every second; then a
/// `quayside gc` killed inside a pass, right after it removed a blob's file and before the row's
/// deletion committed. Then: `quayside fsck` finds no damage (that blob is leftover: a row nothing
/// uses, without its file), the next pass removes it, and after a restart every push the client
/// saw succeed pulls back byte-exact, every blob is intact, and every leftover upload file belongs
/// to an upload record that garbage collection will end.
async fn crash_safety(backend: Backend) {
    let env = [("QUAYSIDE_GC_INTERVAL", "1"), ("QUAYSIDE_GC_GRACE", "20")];
    let mut s = server_with(backend, &env).await;
    let work = tempfile::tempdir().unwrap();
    let src: PathBuf = work.path().join("src");
    let names: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        build_image(&src, n, "amd64", 400_000 + i * 1_000, &[]);
    }
    // A blob no manifest will use: garbage for the pass below, whatever the pushes leave.
    let lone = upload_lone_blob(&s.addr, "acme/crash", b"a layer whose manifest never comes");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let pushes: Vec<_> = names
        .iter()
        .map(|n| {
            let (n, src, addr, done) = (n.clone(), src.clone(), s.addr.clone(), done_tx.clone());
            std::thread::spawn(move || {
                let ok = skopeo_copy(false, &format!("oci:{}:{n}", src.display()), &format!("docker://{addr}/acme/crash:{n}")).is_ok();
                done.send(ok).ok();
                (n, ok)
            })
        })
        .collect();
    // Kill as soon as three pushes went through, with the others still in flight.
    let mut succeeded = 0;
    while succeeded < 3 {
        match done_rx.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(ok) => succeeded += usize::from(ok),
            Err(e) => panic!("pushes did not finish: {e}"),
        }
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let results: Vec<(String, bool)> = pushes.into_iter().map(|p| p.join().unwrap()).collect();
    let pushed: Vec<_> = results.iter().filter(|(_, ok)| *ok).map(|(n, _)| n.clone()).collect();
    assert!(pushed.len() >= 3, "{} of 20 pushed", pushed.len());
    eprintln!("killed with {} of 20 pushes done", pushed.len());

    // A pass stopped between removing a blob's file and committing its row's deletion.
    let mut gc = Command::new(env!("CARGO_BIN_EXE_quayside"))
        .args(["gc", "--gc-grace", "0", "--pause-after-first-removal", "--database-url", &s.url, "--data-dir"])
        .arg(s.data.path())
        .env("QUAYSIDE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut stderr = BufReader::new(gc.stderr.take().unwrap());
    while !said.contains("; paused") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "gc ended without removing a file: {said}");
        said.push_str(&line);
    }
    gc.kill().unwrap();
    gc.wait().unwrap();
    let removed = said.split("the file of blob ").nth(1).and_then(|r| r.split(';').next()).unwrap().to_owned();
    eprintln!("killed gc after it removed {removed} (the lone blob is {lone})");

    let fsck = quayside_cli(&s, &["fsck"]);
    let report = String::from_utf8_lossy(&fsck.stdout).into_owned();
    assert!(fsck.status.success(), "{report}");
    assert!(report.contains(&format!("leftover: {removed} ")), "the row whose deletion did not commit: {report}");
    let gc = quayside_cli(&s, &["gc", "--gc-grace", "0"]);
    let report = String::from_utf8_lossy(&gc.stdout).into_owned();
    assert!(gc.status.success() && report.contains(&format!("  {removed} ")), "the next pass removes it: {report}");
    assert!(report.contains(&format!("  {lone} ")) || removed == lone, "{report}");

    let (child, addr) = spawn_server(&s.url, s.data.path(), &env);
    s.child = child;
    s.addr = addr;
    let src_blobs = blobs_of(&src);
    for n in &pushed {
        let out = work.path().join(format!("out-{n}"));
        skopeo_copy(false, &format!("docker://{}/acme/crash:{n}", s.addr), &format!("oci:{}:{n}", out.display())).unwrap();
        assert_eq!(descriptor(&out, n)["digest"], descriptor(&src, n)["digest"], "{n}");
        for (name, bytes) in blobs_of(&out) {
            assert_eq!(Some(&bytes), src_blobs.get(&name), "blob {name} of {n} differs");
        }
    }
    let fsck = quayside_cli(&s, &["fsck"]);
    let report = String::from_utf8_lossy(&fsck.stdout).into_owned();
    assert!(fsck.status.success() && report.contains("every blob is intact") && !report.contains("leftover"), "{report}");
    for file in walk(&s.data.path().join("uploads")) {
        let id = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            s.registry.store().upload_repository(&id).await.unwrap().is_some(),
            "upload file {id} has no record: nothing would clean it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_on_sqlite() {
    crash_safety(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_on_postgres() {
    crash_safety(Backend::Postgres).await;
}
