//! Files, end to end: a secret file open to others is refused before
//! anything is asked (SPEC section 3), and every file itsmid creates is
//! readable by its owner only, while the identities file keeps its mode.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{BOT, World, run_in, write_secret};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_file_open_to_others_is_refused_with_its_line_and_the_chmod_fix() {
    let world = World::start().await;
    world.write_identities(BOT);
    chmod(&world.path().join("snow-password"), 0o644);
    for command in ["check", "lint"] {
        let output = world.run(&[command, "--format", "json"]).await;
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(output.stdout.is_empty(), "{command}: no report");
        assert!(stderr.contains("itsmid.toml, line 11"), "{stderr}");
        assert!(stderr.contains("secret file snow-password"), "{stderr}");
        assert!(stderr.contains("`chmod 600 snow-password`"), "{stderr}");
        assert!(!stderr.contains("demo-snow-password"), "{stderr}");
    }
    chmod(&world.path().join("snow-password"), 0o600);
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_or_an_oversized_file_is_no_secret_file() {
    let world = World::start().await;
    world.write_identities(BOT);
    let secret = world.path().join("snow-password");
    std::fs::remove_file(&secret).expect("remove");
    std::fs::create_dir(&secret).expect("mkdir");
    chmod(&secret, 0o700);
    let output = world.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a regular file"),
        "{}",
        stderr(&output)
    );

    std::fs::remove_dir(&secret).expect("rmdir");
    write_secret(&secret, "x".repeat(70_000));
    let output = world.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("larger than 64 KiB"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlinked_secret_file_with_one_trailing_newline_logs_in() {
    let world = World::start().await;
    world.write_identities(BOT);
    let real = world.path().join("vault-snow");
    write_secret(&real, format!("{}\r\n", crate::support::SNOW_PASSWORD));
    let secret = world.path().join("snow-password");
    std::fs::remove_file(&secret).expect("remove");
    std::os::unix::fs::symlink(&real, &secret).expect("symlink");
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");

    // A second newline is the secret's own: the login is refused.
    write_secret(&real, format!("{}\n\n", crate::support::SNOW_PASSWORD));
    let (code, report) = world.check().await;
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        crate::support::system_row(&report, "snow")["reason"],
        "auth_failed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_reports_and_the_export_are_created_for_their_owner_only() {
    let world = World::start().await;
    world.write_identities(BOT);
    let load = world.run(&["load", "--output", "load.json"]).await;
    assert_eq!(load.status.code(), Some(0), "{}", stderr(&load));
    assert_eq!(mode(&world.path().join("itsmid.db")), 0o600);
    assert_eq!(mode(&world.path().join("load.json")), 0o600);

    let check = world.run(&["check", "--output", "report.json"]).await;
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert_eq!(mode(&world.path().join("report.json")), 0o600);

    let export = world.run(&["export", "--output", "users.jsonl"]).await;
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let users = std::fs::read_to_string(world.path().join("users.jsonl")).expect("export");
    assert!(users.contains("moveworks-bot@acme.com"), "{users}");
    assert_eq!(mode(&world.path().join("users.jsonl")), 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_write_keeps_the_identities_files_mode() {
    let world = World::start().await;
    world.write_identities(
        &BOT.replace("itsm_user_id = \"6816f79cc0a8016401c5a33be04be441\"\n", ""),
    );
    let path = world.path().join("identities.toml");
    chmod(&path, 0o640);
    let before = std::fs::read_to_string(&path).expect("read");
    let output = world.run(&["resolve", "--write", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = std::fs::read_to_string(&path).expect("read");
    assert_ne!(before, after, "resolve wrote the missing id");
    assert!(
        after.contains("6816f79cc0a8016401c5a33be04be441"),
        "{after}"
    );
    assert_eq!(mode(&path), 0o640);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_file_the_demo_writes_is_its_owners_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let demo = dir.path().join("demo");
    let output = run_in(
        dir.path(),
        &[
            "demo",
            "--format",
            "json",
            "--dir",
            demo.to_str().expect("a UTF-8 path"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let mut files = Vec::new();
    let mut folders = vec![demo.clone()];
    while let Some(folder) = folders.pop() {
        for item in std::fs::read_dir(&folder).expect("read the folder") {
            let path = item.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for name in ["itsmid.toml", "itsmid.db", "users.jsonl", "resolve.json"] {
        assert!(files.contains(&demo.join(name)), "{name} in {files:?}");
    }
    assert!(files.contains(&demo.join("secrets").join("server-token")));
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}
