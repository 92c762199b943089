//! The status page in a real browser: headless Chromium (Debian's
//! `chromium`; `.ci/run` installs it) opens the page of a running
//! `itsmid demo --serve` with the printed credentials. The rendered DOM
//! must hold every system and every finding of the report, the console
//! must show no error (a script or style the Content-Security-Policy
//! refused included), and screenshots at desktop and phone width are
//! written under `target/` for a person to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::daemon::Daemon;

/// Chromium: `ITSMID_CHROMIUM`, else Debian's `/usr/bin/chromium`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("ITSMID_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium (`apt-get install chromium`; .ci/run does) or set ITSMID_CHROMIUM",
        path.display()
    );
    path
}

/// Runs headless Chromium on `url` with `args`, in a fresh profile, with
/// the flags a closed network needs; returns stdout and the browser's log.
fn browse(url: &str, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().expect("a profile folder");
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The page's console errors in Chromium's log: uncaught errors and what
/// the Content-Security-Policy refused.
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            (line.contains("CONSOLE") && (line.contains("Uncaught") || line.contains("Error")))
                || line.contains("Content Security Policy")
                || line.contains("Refused to")
        })
        .collect()
}

/// Text as the DOM holds it: `&`, `<`, `>` and quotes escaped.
fn in_dom(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_shows_every_system_and_finding_of_the_demo_without_a_console_error() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let demo_dir = dir.path().join("demo");
    let demo_arg = demo_dir.to_str().expect("a UTF-8 path");
    let daemon = Daemon::start_in(
        dir.path(),
        &[
            "demo",
            "--dir",
            demo_arg,
            "--serve",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    daemon.wait_for_runs(1).await;
    let printed = daemon.stderr();
    assert!(printed.contains("status page"), "{printed}");
    let token = std::fs::read_to_string(demo_dir.join("secrets").join("server-token"))
        .expect("the demo wrote the token");
    let token = token.trim();
    let (status, body) = daemon.get_as("/api/v1/report", token).await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).expect("the report");
    let host = daemon.base.trim_start_matches("http://");
    let url = format!("http://admin:{token}@{host}/");

    let (dom, log) = browse(&url, &["--dump-dom", "--virtual-time-budget=2000"]);
    assert!(
        dom.contains("Run now"),
        "the full token sees the button: {dom}"
    );
    for system in report["systems"].as_array().expect("systems") {
        let integration = system["integration"].as_str().expect("an integration");
        assert!(
            dom.contains(integration),
            "{integration} is not on the page"
        );
    }
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.len() >= 10, "the demo has its deliberate problems");
    for finding in findings {
        for field in ["message", "fix"] {
            let text = finding[field].as_str().expect("text");
            assert!(
                dom.contains(&in_dom(text)),
                "the {field} of {} is not on the page: {text}",
                finding["code"]
            );
        }
    }
    assert!(dom.contains("<svg"), "the trend is drawn");
    assert_eq!(console_errors(&log), Vec::<&str>::new(), "{log}");

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, size) in [
        ("status-page.png", "1280,2600"),
        ("status-page-phone.png", "390,3200"),
    ] {
        let shot = shots.join(name);
        let _ = std::fs::remove_file(&shot);
        let (_, log) = browse(
            &url,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={size}"),
                "--hide-scrollbars",
            ],
        );
        let bytes =
            std::fs::read(&shot).unwrap_or_else(|err| panic!("{}: {err}\n{log}", shot.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
        assert_eq!(console_errors(&log), Vec::<&str>::new(), "{log}");
    }
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
