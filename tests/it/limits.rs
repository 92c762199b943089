//! SPEC section 5's limits, end to end: an External ID too long for its
//! system's request limit is NOT_FOUND on its own while its system stays
//! `ok`, and an answer whose body passes 32 MiB makes its system
//! `unavailable` with `bad_response` while the binary's memory stays
//! bounded by the limit, not by the body.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{
    BOT, SNOW_PASSWORD, World, assert_matches_schema, entry, entry_of, findings, system_row,
};

/// A login and an e-mail address whose lookups would pass the 8,192-byte
/// request line of ServiceNow and Jira.
fn too_long(suffix: &str) -> String {
    format!("{}{suffix}", "x".repeat(9_000))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_id_too_long_to_send_is_not_found_alone_and_its_system_stays_ok() {
    let world = World::start().await;
    let long_login = too_long(".lee");
    let long_email = too_long("@acme.com");
    let pat = entry(
        "snow",
        &[
            ("external_id", "pat.lee"),
            ("itsm_user_id", "a8f98bb0eb32010045e1a5115206fe3a"),
        ],
    ) + &entry(
        "jira_service_desk",
        &[
            ("external_id", "pat@acme.com"),
            (
                "itsm_user_id",
                "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327",
            ),
        ],
    );
    let eve = entry("snow", &[("external_id", &long_login)])
        + &entry("jira_service_desk", &[("external_id", &long_email)]);
    world.write_identities(&format!(
        "{BOT}\n[[users]]\nemail_addr = \"pat@acme.com\"\nunique_record_id = \"pat@acme.com\"\n{pat}\
         \n[[users]]\nemail_addr = \"eve@acme.com\"\nunique_record_id = \"eve@acme.com\"\n{eve}"
    ));

    let (code, report) = world.check().await;

    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["complete"], true);
    for integration in ["snow", "jira_service_desk"] {
        let row = system_row(&report, integration);
        assert_eq!(row["status"], "ok", "{row:#}");
        assert_eq!(row["reason"], Value::Null);
        assert_eq!(
            entry_of(&report, "eve@acme.com", integration)["status"],
            "not_found"
        );
        assert_eq!(
            entry_of(&report, "pat@acme.com", integration)["status"],
            "verified"
        );
        assert_eq!(
            entry_of(&report, "moveworks-bot@acme.com", integration)["status"],
            "verified"
        );
    }
    let not_found = findings(&report, "NOT_FOUND");
    assert_eq!(not_found.len(), 2, "{report:#}");
    for finding in not_found {
        assert_eq!(finding["unique_record_id"], "eve@acme.com");
        let message = finding["message"].as_str().unwrap_or_default();
        assert!(message.contains("request limit"), "{message:.200}");
    }
    assert!(findings(&report, "SYSTEM_UNAVAILABLE").is_empty());
    for sim in [&world.snow, &world.jira] {
        for request in sim.server.received_requests().await.unwrap_or_default() {
            assert!(
                !request.url.as_str().contains("xxxxxxxxxx"),
                "the long value was sent to {}",
                request.url.path()
            );
        }
    }
}

/// The bot, with its ServiceNow entry only.
const SNOW_BOT: &str = r#"
[bot]
email_addr = "moveworks-bot@acme.com"
unique_record_id = "moveworks-bot@acme.com"
full_name = "Moveworks Bot"

[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"
itsm_user_id = "6816f79cc0a8016401c5a33be04be441"
"#;

/// What the ServiceNow stand-in streams: far more than the 32 MiB limit, so
/// a client that read on would hold far more than the limit.
const STREAMED: usize = 512 * 1024 * 1024;

/// A ServiceNow stand-in whose every answer is 200 with a JSON content type
/// and a chunked body of [`STREAMED`] bytes (no `Content-Length`), sent
/// until the client hangs up.
fn endless_instance() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            std::thread::spawn(move || stream_answer(socket));
        }
    });
    format!("http://{addr}")
}

fn stream_answer(socket: TcpStream) {
    let mut reader = BufReader::new(&socket);
    let mut line = String::new();
    // The request head ends with an empty line.
    while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
        if line == "\r\n" {
            break;
        }
        line.clear();
    }
    let mut writer = &socket;
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\n\r\n";
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = [
        format!("{:x}\r\n", 1 << 20).into_bytes(),
        vec![b' '; 1 << 20],
        b"\r\n".to_vec(),
    ]
    .concat();
    for _ in 0..STREAMED >> 20 {
        if writer.write_all(&chunk).is_err() {
            return;
        }
    }
    let _ = writer.write_all(b"0\r\n\r\n");
}

/// Runs `itsmid check --format json` in `dir`, under GNU time where the
/// machine has it; returns the output and the peak resident set in KiB.
fn check_measured(dir: &Path) -> (Output, Option<u64>) {
    const MARKER: &str = "itsmid-peak-rss-kib=";
    let binary = env!("CARGO_BIN_EXE_itsmid");
    let args = ["check", "--format", "json"];
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut command = Command::new(time);
        command.args(["-f", &format!("{MARKER}%M"), binary]);
        command
    } else {
        Command::new(binary)
    };
    let output = command
        .args(args)
        .current_dir(dir)
        .env_remove("ITSMID_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix(MARKER))
        .and_then(|kib| kib.trim().parse().ok());
    assert!(
        !time.exists() || peak.is_some(),
        "no peak from /usr/bin/time in:\n{stderr}"
    );
    (output, peak)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_past_32_mib_is_a_bad_response_read_no_further() {
    let instance = endless_instance();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let secret = dir.path().join("snow-password");
    std::fs::write(&secret, SNOW_PASSWORD).expect("write");
    // A secret file only its owner can read, as SPEC section 3 asks.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))
            .expect("chmod 600");
    }
    std::fs::write(
        dir.path().join("itsmid.toml"),
        format!(
            r#"identities = "identities.toml"

[[connectors]]
integration = "snow"
system = "servicenow"
base_url = "{instance}"
requests_per_minute = 60000
[connectors.auth]
type = "basic"
username = "moveworks.bot"
password = "file:snow-password"
"#
        ),
    )
    .expect("write the config");
    std::fs::write(dir.path().join("identities.toml"), SNOW_BOT).expect("write the identities");

    let path = dir.path().to_path_buf();
    let (output, peak) = tokio::task::spawn_blocking(move || check_measured(&path))
        .await
        .expect("the command thread finishes");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_matches_schema(&report);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let row = system_row(&report, "snow");
    assert_eq!(row["status"], "unavailable", "{row:#}");
    assert_eq!(row["reason"], "bad_response", "{row:#}");
    assert!(
        row["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("32 MiB")),
        "{row:#}"
    );
    assert_eq!(report["complete"], false);
    assert_eq!(
        entry_of(&report, "moveworks-bot@acme.com", "snow")["status"],
        "unchecked"
    );
    // Bounded memory: the 32 MiB the limit lets through, the process
    // itself, and nothing of the half gigabyte offered after it.
    if let Some(peak_kib) = peak {
        assert!(
            peak_kib < 128 * 1024,
            "peak resident set {peak_kib} KiB while the body was {STREAMED} bytes"
        );
    }
}
