//! Benchmark of the pipeline at scale: a source export of 1,000,000 users
//! plus 10,000 manual users (half of them matching a source row), merged,
//! validated and loaded into a fresh store; then a second load of the same
//! data with 1% of the source users changed. Prints wall time, peak memory
//! (`VmHWM`, reset before each load where the kernel allows) and what each
//! load wrote.
//!
//! Run with `cargo bench --bench pipeline` (`-- --users N --manual M` to
//! change the size). Prints figures; asserts nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use itsmid::config::Config;
use itsmid::identities::Identities;
use itsmid::pipeline::{self, RunOptions};

fn main() {
    let mut users = 1_000_000usize;
    let mut manual = 10_000usize;
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--users" => users = pair[1].parse().unwrap_or(users),
            "--manual" => manual = pair[1].parse().unwrap_or(manual),
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let started = Instant::now();
    write_source(dir.path(), users, 0);
    write_identities(dir.path(), manual, users);
    std::fs::write(
        dir.path().join("itsmid.toml"),
        r#"identities = "identities.toml"
[store]
path = "itsmid.db"
[pipeline]
custom_attributes = ["office"]
[[sources]]
name = "workday"
path = "workday.csv"
[sources.columns]
email_addr = "Work Email"
full_name = "Name"
employee_id = "Employee ID"
"#,
    )
    .expect("write the config");
    println!(
        "pipeline benchmark: {users} source users, {manual} manual users (inputs written in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config::load(&dir.path().join("itsmid.toml")).expect("a valid config");
    let identities = Identities::load(&config.identities, &config.pipeline.custom_attributes)
        .expect("valid identities");
    // No connectors: the check has nothing to ask, so the figures are the
    // pipeline's alone.
    let check = runtime.block_on(itsmid::check::run(&identities, &[]));

    let first = measure("first load (fresh store)", || {
        pipeline::run_blocking(
            &config,
            &identities,
            &check.report,
            &BTreeMap::new(),
            RunOptions::default(),
        )
        .expect("the first load")
    });
    write_source(dir.path(), users, 100);
    let second = measure("second load (1% of source users changed)", || {
        pipeline::run_blocking(
            &config,
            &identities,
            &check.report,
            &BTreeMap::new(),
            RunOptions::default(),
        )
        .expect("the second load")
    });
    for (name, report) in [("first", &first), ("second", &second)] {
        let c = &report.counts;
        println!(
            "  {name}: snapshot {:?}, users {}, added {}, removed {}, changed {}, unchanged {}; rows written {}",
            report.snapshot,
            c.users,
            c.added,
            c.removed,
            c.changed,
            c.unchanged,
            c.added + c.changed
        );
    }
    let size = std::fs::metadata(dir.path().join("itsmid.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("  store size: {:.0} MiB", size as f64 / (1024.0 * 1024.0));
}

fn measure(name: &str, work: impl FnOnce() -> pipeline::LoadReport) -> pipeline::LoadReport {
    let reset = reset_peak();
    let started = Instant::now();
    let report = work();
    let elapsed = started.elapsed();
    println!(
        "{name}: {:.2} s wall, peak memory {} MiB{}",
        elapsed.as_secs_f64(),
        peak_kib() / 1024,
        if reset {
            ""
        } else {
            " (peak of the whole process: the kernel refused a reset)"
        }
    );
    report
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` value 5).
fn reset_peak() -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
        .and_then(|mut f| f.write_all(b"5"))
        .is_ok()
}

/// `VmHWM` from `/proc/self/status`, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// The source export; with `change_every` > 0 every such user has another
/// department.
fn write_source(dir: &Path, users: usize, change_every: usize) {
    let departments = ["IT", "Finance", "Sales", "Legal", "Research", "People"];
    let cities = ["Oslo", "Lyon", "Austin", "Pune", "Osaka"];
    let file = std::fs::File::create(dir.join("workday.csv")).expect("create the export");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(
        out,
        "Work Email,Name,Employee ID,department,role,city,work_status,office"
    )
    .expect("write");
    let mut line = String::new();
    for i in 0..users {
        line.clear();
        let department = if change_every > 0 && i % change_every == 0 {
            "Reorganized"
        } else {
            departments[i % departments.len()]
        };
        let _ = writeln!(
            line,
            "user{i:07}@acme.com,User {i},E{i:07},{department},Engineer {},{},FULL_TIME,Building {}",
            i % 7,
            cities[i % cities.len()],
            i % 40
        );
        out.write_all(line.as_bytes()).expect("write");
    }
    out.flush().expect("flush");
}

/// The bot and `manual` users: even ones match a source row, odd ones are
/// standalone; each has a ServiceNow entry of its own.
fn write_identities(dir: &Path, manual: usize, users: usize) {
    let mut text = String::from(
        "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\nemail_addr = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\nitsm_user_id = \"6816f79cc0a8016401c5a33be04be441\"\n",
    );
    for i in 0..manual {
        let urid = if i % 2 == 0 && i < users {
            format!("user{:07}@acme.com", i * (users / manual.max(1)).max(1))
        } else {
            format!("contractor{i:05}@partner.example")
        };
        let _ = write!(
            text,
            "\n[[users]]\nunique_record_id = \"{urid}\"\nfull_name = \"Manual {i}\"\nwork_status = \"CONTINGENT\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"manual.{i}\"\nitsm_user_id = \"{i:032x}\"\n"
        );
    }
    std::fs::write(dir.join("identities.toml"), text).expect("write the identities");
}
