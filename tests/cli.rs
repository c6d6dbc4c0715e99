//! The binary's contract: subcommands, flags as env variables, and a clear line when the database
//! cannot be opened.

use std::process::Command;

fn quayside() -> Command {
    Command::new(env!("CARGO_BIN_EXE_quayside"))
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["demo", "--help"],
        &["user", "add", "--help"],
        &["token", "create", "--help"],
        &["gc", "--help"],
    ] {
        let out = quayside().args(sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{sub:?}: {text}");
    }
    let serve = String::from_utf8(quayside().args(["serve", "--help"]).output().unwrap().stdout).unwrap();
    for flag in [
        "QUAYSIDE_LISTEN",
        "QUAYSIDE_DATA_DIR",
        "QUAYSIDE_DATABASE_URL",
        "QUAYSIDE_SITE_ROOT",
        "QUAYSIDE_GC_INTERVAL",
        "QUAYSIDE_GC_GRACE",
        "QUAYSIDE_PERMANENT_TAG_EXPIRY",
    ] {
        assert!(serve.contains(flag), "serve --help names {flag}");
    }
}

#[test]
fn migrate_creates_the_embedded_database_from_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = quayside().arg("migrate").env("QUAYSIDE_DATA_DIR", dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("quayside.db").exists());
    assert!(dir.path().join("blobs").is_dir());
}

#[test]
fn a_database_that_cannot_be_opened_stops_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (url, expected) in [
        ("postgres://nobody@127.0.0.1:1/none", "cannot connect to the database"),
        ("mysql://x@localhost/db", "unsupported database URL"),
        ("sqlite:///nonexistent-dir/deeper/q.db", "cannot connect to the database"),
    ] {
        let out = quayside()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--database-url", url])
            .env("QUAYSIDE_LOG", "off")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{url}: {stderr}");
        assert!(stderr.starts_with("quayside: ") && stderr.contains(expected), "{url}: {stderr}");
    }
}

/// Runs `quayside ARGS` with `stdin` on standard input.
fn with_stdin(args: &[&str], dir: &std::path::Path, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = quayside()
        .args(args)
        .env("QUAYSIDE_DATA_DIR", dir)
        .env("QUAYSIDE_LOG", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn users_and_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_stdin(&["user", "add", "ops", "--superuser"], dir.path(), "a-long-password\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "created user ops (superuser)");
    // Too short a password, and a taken name: one clear line each, nothing created.
    let out = with_stdin(&["user", "add", "dev"], dir.path(), "short\n");
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "quayside: Password must be at least 8 characters");
    let out = with_stdin(&["user", "add", "ops"], dir.path(), "another-password\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "quayside: The name 'ops' is already taken");
    // A token is printed once; an unknown user gets none.
    let out = with_stdin(&["token", "create", "--user", "ops", "--name", "ci"], dir.path(), "");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success() && token.starts_with("qs_") && token.len() > 40, "{token}");
    let out = with_stdin(&["token", "create", "--user", "ghost"], dir.path(), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "quayside: User 'ghost' not found");
}

#[test]
fn a_first_start_without_an_admin_password_prints_a_one_time_setup_link() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = quayside()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("QUAYSIDE_DATA_DIR", dir.path())
        .env("QUAYSIDE_LOG", "off")
        .env_remove("QUAYSIDE_ADMIN_PASSWORD")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    child.kill().ok();
    child.wait().ok();
    assert!(line.starts_with("No user exists yet. Create the first superuser at http://127.0.0.1:"), "{line}");
    let code = line.split("/setup?code=").nth(1).unwrap().split(' ').next().unwrap();
    assert_eq!(code.len(), 48, "{line}");
}

/// `quayside gc --dry-run` says what would go and changes nothing; `quayside gc` then removes
/// exactly that.
#[test]
fn gc_dry_run_then_gc() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = quayside().args(args).env("QUAYSIDE_DATA_DIR", dir.path()).env("QUAYSIDE_LOG", "warn").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["demo"]);
    // The demo's history is all within the time machine: nothing to reclaim yet (the rules
    // themselves are the storage contract's `garbage_collection_keeps_what_is_referenced`).
    let dry = run(&["gc", "--dry-run", "--gc-grace", "0"]);
    assert!(dry.starts_with("garbage collection over 4 repositories (dry run)"), "{dry}");
    for line in
        ["would remove 0 tag rows", "would remove 0 manifests:", "would remove 0 blobs, 0 bytes:", "would remove 0 abandoned uploads"]
    {
        assert!(dry.contains(line), "{line}: {dry}");
    }
    assert_eq!(run(&["gc", "--dry-run", "--gc-grace", "0"]), dry, "a dry run changes nothing");
    let done = run(&["gc", "--gc-grace", "0"]);
    assert_eq!(done.replace("removed", "would remove").replace("(done)", "(dry run)"), dry);
}

/// An upload file a crash left without its record is removed once it is older than the upload
/// age; a recent one is left for its push.
#[test]
fn gc_removes_upload_files_nothing_else_would_clean() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = quayside().args(args).env("QUAYSIDE_DATA_DIR", dir.path()).env("QUAYSIDE_LOG", "warn").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate"]);
    let uploads = dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let (old, fresh) = (uploads.join("5f0c3b8e-1d2a-4c3b-9e8f-0a1b2c3d4e5f"), uploads.join("6a1d4c9f-2e3b-4d4c-8f90-1b2c3d4e5f60"));
    for f in [&old, &fresh] {
        std::fs::write(f, b"partial").unwrap();
    }
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&old).unwrap().set_modified(an_hour_ago).unwrap();
    let dry = run(&["gc", "--dry-run", "--gc-upload-age", "600"]);
    assert!(dry.contains("would remove 1 abandoned uploads"), "{dry}");
    assert!(old.exists(), "a dry run removes nothing");
    let done = run(&["gc", "--gc-upload-age", "600"]);
    assert!(done.contains("removed 1 abandoned uploads"), "{done}");
    assert!(!old.exists() && fresh.exists());
}
