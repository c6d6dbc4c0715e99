//! The binary's contract: subcommands, flags as env variables, and a clear line when the database
//! cannot be opened.

use std::process::Command;

fn quayside() -> Command {
    Command::new(env!("CARGO_BIN_EXE_quayside"))
}

#[test]
fn every_subcommand_has_help() {
    for sub in [&["--help"][..], &["serve", "--help"], &["migrate", "--help"], &["demo", "--help"]] {
        let out = quayside().args(sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{sub:?}: {text}");
    }
    let serve = String::from_utf8(quayside().args(["serve", "--help"]).output().unwrap().stdout).unwrap();
    for flag in ["QUAYSIDE_LISTEN", "QUAYSIDE_DATA_DIR", "QUAYSIDE_DATABASE_URL", "QUAYSIDE_SITE_ROOT"] {
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
