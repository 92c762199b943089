//! `itsmid demo`: starts the built-in simulators on loopback with the data
//! in `fixtures/`, writes a config and identities file into a fresh folder,
//! runs the check against them and prints the report, saves what resolve
//! would change to `resolve.json` (not applied), then loads the merged users
//! into the demo's store and exports them to `users.jsonl`.
//!
//! With `--serve` it then keeps the simulators running and serves the
//! daemon on the demo's folder until stopped.
//!
//! Needs no credentials and no network: the demo's secrets are files it
//! writes itself. Its data holds deliberate problems so that a first-time
//! user sees what each kind of finding looks like.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::io::Write;

use anyhow::{Context, anyhow};
use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;

use crate::check::CheckRun;
use crate::config::Config;
use crate::identities::Identities;
use crate::pipeline::RunOptions;
use crate::pipeline::export::write_export;
use crate::pipeline::store::Store;
use crate::report::Report;
use crate::verdict::Verdict;

/// A system's simulator data, embedded so the demo runs from any folder.
/// An exhaustive match: a new system does not compile until it has demo data.
fn fixture(system: System) -> (&'static str, &'static str) {
    match system {
        System::ServiceNow => (
            "fixtures/servicenow.json",
            include_str!("../../fixtures/servicenow.json"),
        ),
        System::Jira => (
            "fixtures/jira.json",
            include_str!("../../fixtures/jira.json"),
        ),
        System::JiraDc => (
            "fixtures/jira_dc.json",
            include_str!("../../fixtures/jira_dc.json"),
        ),
        System::Salesforce => (
            "fixtures/salesforce.json",
            include_str!("../../fixtures/salesforce.json"),
        ),
        System::Freshservice => (
            "fixtures/freshservice.json",
            include_str!("../../fixtures/freshservice.json"),
        ),
        System::ManageEngine => (
            "fixtures/manageengine.json",
            include_str!("../../fixtures/manageengine.json"),
        ),
    }
}

const IDENTITIES: &str = include_str!("../../fixtures/demo/identities.toml");
const CONFIG_TEMPLATE: &str = include_str!("../../fixtures/demo/itsmid.toml");
const SOURCE: &str = include_str!("../../fixtures/demo/workday.csv");

/// The demo's secrets: the simulators accept exactly these.
const SECRETS: &[(&str, &str)] = &[
    ("snow-password", "demo-snow-password"),
    ("jira-token", "demo-jira-token"),
    ("jira-dc-token", "demo-jira-dc-token"),
    ("salesforce-client-secret", "demo-client-secret"),
    ("freshservice-key", "demo-freshservice-virtual-agent-key"),
    ("manageengine-authtoken", "demo-manageengine-authtoken"),
];

/// Where `demo --serve` listens unless `--listen` says otherwise.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8377))
}

/// The demo's running simulators and the verdict of its check. The
/// simulators answer as long as this lives.
pub struct Demo {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    /// The check's verdict, for the exit status.
    pub verdict: Verdict,
    simulators: Vec<AnySimulator>,
}

/// Starts a simulator of every system, writes the demo's files, runs the
/// check and hands its report to `show` (stdout is the command's), saves
/// resolve's proposals and loads the store. Says what it did on stderr.
pub async fn run(
    dir: Option<&Path>,
    show: impl FnOnce(&Report) -> anyhow::Result<()>,
) -> anyhow::Result<Demo> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => fresh_dir()?,
    };
    let mut simulators = Vec::new();
    for system in System::ALL {
        let (name, data) = fixture(system);
        let sim = AnySimulator::start(system, name, data, None, false)
            .await
            .with_context(|| format!("cannot start the {system} simulator"))?;
        simulators.push(sim);
    }
    let config_path = write_files(&dir, &simulators)?;
    eprintln!(
        "demo: simulators of {} running on loopback; files in {}",
        simulators
            .iter()
            .map(|s| s.system.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        dir.display()
    );
    let (config, identities) = super::load_inputs(&config_path)?;
    let connected = super::connect(&config)?;
    let run = crate::check::run(&identities, &connected).await;
    show(&run.report)?;
    // What resolve would change, saved beside the files and not applied, so
    // the printed report and the files stay as the demo wrote them.
    let plan = crate::resolve::plan(&config, &identities, &connected, &run).await;
    let proposals = dir.join("resolve.json");
    write(&proposals, &plan.to_json())?;
    eprintln!(
        "demo: resolve proposes {} change(s) for {} identit(ies); see {}",
        plan.summary.changes,
        plan.summary.identities_changed,
        proposals.display()
    );
    load_and_export(&config, &identities, &run, &dir.join("users.jsonl")).await?;
    Ok(Demo {
        dir,
        config_path,
        verdict: run.report.verdict(),
        simulators,
    })
}

impl Demo {
    /// Keeps the simulators running and serves the daemon on the demo's
    /// folder until SIGTERM or Ctrl-C.
    pub async fn serve(self, listen: SocketAddr) -> anyhow::Result<()> {
        let secrets = self.dir.join("secrets");
        eprintln!(
            "demo: serving the daemon on http://{listen} (Ctrl-C stops it)\n\
             demo: the status page: open http://{listen}/ in a browser and sign in with any user name and, as the password,\n\
             demo:   the token in {} (everything, the \"Run now\" button included), or\n\
             demo:   the read token in {} (the page without the button)\n\
             demo: scripts send either as `Authorization: Bearer <token>`; POST /api/v1/runs needs the first",
            secrets.join("server-token").display(),
            secrets.join("read-token").display()
        );
        let served = super::daemon::serve(&self.config_path, Some(listen)).await;
        drop(self.simulators);
        served
    }
}

/// The demo's load: loads after its check and writes the export to
/// `export_path`.
async fn load_and_export(
    config: &Config,
    identities: &Identities,
    run: &CheckRun,
    export_path: &Path,
) -> anyhow::Result<()> {
    let report = super::run_load(config, identities, run, RunOptions::default()).await?;
    if let Some(error) = report.source_errors.first() {
        return Err(anyhow!("the demo's load stopped: {error}"));
    }
    let (store_path, export) = (config.store.path.clone(), export_path.to_path_buf());
    super::blocking(move || {
        let store = Store::open_existing(&store_path)?;
        let file = crate::private_file::create(&export)
            .with_context(|| format!("cannot write {}", export.display()))?;
        let mut out = std::io::BufWriter::new(file);
        write_export(&store, &mut out, false)
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {}", export.display()))
    })
    .await?;
    eprintln!(
        "demo: loaded {} users into {} (snapshot {}); export in {}",
        report.counts.users,
        config.store.path.display(),
        report
            .snapshot
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into()),
        export_path.display()
    );
    Ok(())
}

/// A new folder under the system's temporary directory.
fn fresh_dir() -> anyhow::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("itsmid-demo-{}-{stamp}", std::process::id()));
    create_private_dir(&dir)?;
    Ok(dir)
}

/// Writes the config (pointing at the running simulators), the identities
/// file and the secret files; returns the config's path.
fn write_files(dir: &Path, simulators: &[AnySimulator]) -> anyhow::Result<PathBuf> {
    let secrets = dir.join("secrets");
    create_private_dir(&secrets)?;
    for (name, value) in SECRETS {
        write_private(&secrets.join(name), value)?;
    }
    write_private(&secrets.join("server-token"), &super::random_token()?)?;
    write_private(&secrets.join("read-token"), &super::random_token()?)?;
    let mut config = CONFIG_TEMPLATE.to_owned();
    for sim in simulators {
        config = config.replace(&format!("{{{}_url}}", sim.system.as_str()), &sim.uri());
    }
    let config_path = dir.join("itsmid.toml");
    write(&config_path, &config)?;
    write(&dir.join("identities.toml"), IDENTITIES)?;
    write(&dir.join("workday.csv"), SOURCE)?;
    Ok(config_path)
}

/// A new folder is the owner's alone (0700); one that exists keeps its mode.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Every file the demo writes is readable by its owner only.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    crate::private_file::write(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Secret files are readable by their owner only, even where one was left
/// in `--dir` with another mode: a secret file open to others is refused.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}
