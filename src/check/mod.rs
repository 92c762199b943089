//! The check (SPEC section 5): plans the cheapest lookups per system, runs
//! the systems side by side, and judges every ITSM ID Info entry.
//!
//! Never writes anything. A system that cannot be reached leaves its entries
//! `unchecked`: an outage is never a reason to judge an identity.

use std::collections::{BTreeMap, BTreeSet};

use itsmid_connectors::{
    AnyConnector, ConnectorError, CredentialOwner, ItsmUser, ItsmUserId, Lookup, LookupKey,
    Lookups, Reason,
};

mod judge;
#[cfg(test)]
mod progress_tests;
mod readiness;

use judge::judge;
pub use judge::{bot_entry_missing, duplicate_entry, malformed_id, unknown_integration};

use crate::config::{Config, ConnectorConfig};
use crate::identities::{Identities, Identity, IdentityKind, ItsmIdInfo};
use crate::progress::Progress;
use crate::report::{
    CredentialCheck, EntryReport, EntryStatus, Finding, FindingCode, FoundRecord, IdentityReport,
    ReadinessStatus, Report, SCHEMA, Severity, Summary, SystemRow, SystemStatus,
};

/// A configured connector, ready to send.
pub struct Connected {
    pub config: ConnectorConfig,
    pub connector: AnyConnector,
}

/// Why one connector could not be built: its secrets, or its settings.
#[derive(Debug, thiserror::Error)]
#[error("{}, line {}: connector `{integration}`: {cause}", file.display(), line.unwrap_or(0))]
pub struct ConnectError {
    pub file: std::path::PathBuf,
    pub line: Option<usize>,
    pub integration: itsmid_connectors::Integration,
    pub cause: ConnectCause,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectCause {
    #[error(transparent)]
    Secrets(#[from] crate::config::MissingSecrets),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// Builds every configured connector, resolving secrets now. Errors name
/// the integration and the secret reference, never a value.
pub fn connect(config: &Config) -> Result<Vec<Connected>, Vec<ConnectError>> {
    connect_keeping_answers(config, false)
}

/// [`connect`]; with `record`, every connector keeps the answers it reads
/// (`itsmid record`, SPEC section 8).
pub fn connect_keeping_answers(
    config: &Config,
    record: bool,
) -> Result<Vec<Connected>, Vec<ConnectError>> {
    let mut connected = Vec::new();
    let mut errors = Vec::new();
    for c in &config.connectors {
        let built = crate::config::connector_settings(c)
            .map(|mut settings| {
                settings.http.record = record;
                settings
            })
            .map_err(ConnectCause::from)
            .and_then(|settings| AnyConnector::new(settings).map_err(ConnectCause::from));
        match built {
            Ok(connector) => connected.push(Connected {
                config: c.clone(),
                connector,
            }),
            Err(cause) => errors.push(ConnectError {
                file: config.path.clone(),
                line: c.line,
                integration: c.integration.clone(),
                cause,
            }),
        }
    }
    if errors.is_empty() {
        Ok(connected)
    } else {
        Err(errors)
    }
}

/// Where an entry sits: identity index (bot first) and entry index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryRef {
    pub identity: usize,
    pub entry: usize,
}

/// The stored ITSM User ID, as the system's format sees it.
#[derive(Debug, Clone)]
pub(crate) enum StoredId {
    None,
    Valid(ItsmUserId),
    Malformed { raw: String, why: String },
}

/// What the check concluded for one entry.
#[derive(Debug, Clone)]
pub struct EntryResult {
    pub status: EntryStatus,
    /// The system's record for the entry, where one settled it.
    pub found: Option<ItsmUser>,
    pub findings: Vec<Finding>,
}

/// What one system answered.
struct SystemOutcome {
    error: Option<ConnectorError>,
    /// Not asked in this run, and why.
    held: Option<Hold>,
    owner: Option<CredentialOwner>,
    lookups: Lookups,
    wall_time: std::time::Duration,
}

/// The full result: the report plus per-entry results for `resolve`.
pub struct CheckRun {
    pub report: Report,
    pub entries: BTreeMap<EntryRef, EntryResult>,
    /// Credentials' owners per integration, where known.
    pub owners: BTreeMap<String, ItsmUser>,
    /// Integrations whose system could not be checked.
    pub unavailable: BTreeSet<String>,
}

/// Systems not to ask in this run, by integration, and why.
pub type Held = BTreeMap<String, Hold>;

/// Why a system is not asked in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Its credentials were refused in an earlier run: the daemon asks it
    /// again at this RFC 3339 time, as some systems lock an account after
    /// a few bad logins.
    Until(String),
    /// A replay's recording has no file for it (SPEC section 8).
    NotRecorded,
}

/// Runs the check over every identity and configured connector.
pub async fn run(identities: &Identities, connected: &[Connected]) -> CheckRun {
    run_holding(identities, connected, &Held::new()).await
}

/// The check, with the systems in `held` not asked: their entries are
/// `unchecked` with reason `auth_failed`.
pub async fn run_holding(
    identities: &Identities,
    connected: &[Connected],
    held: &Held,
) -> CheckRun {
    run_observed(identities, connected, held, &Progress::new()).await
}

/// [`run_holding`], counting the systems done and the entries judged in
/// `progress` as it goes.
pub async fn run_observed(
    identities: &Identities,
    connected: &[Connected],
    held: &Held,
    progress: &Progress,
) -> CheckRun {
    let people: Vec<&Identity> = identities.all().collect();
    progress.check_started(
        connected.len() as u64,
        people.iter().map(|p| p.itsm.len() as u64).sum(),
    );
    let mut results: BTreeMap<EntryRef, EntryResult> = BTreeMap::new();
    let mut plans: BTreeMap<usize, Vec<(EntryRef, &ItsmIdInfo, StoredId)>> = BTreeMap::new();

    for (i, identity) in people.iter().enumerate() {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (e, entry) in identity.itsm.iter().enumerate() {
            let at = EntryRef {
                identity: i,
                entry: e,
            };
            let urid = identity.unique_record_id.as_str();
            let integration = entry.integration.as_str();
            if let Some(first) = seen.get(integration) {
                let first_line = identity.itsm.get(*first).and_then(|f| f.line);
                results.insert(
                    at,
                    structural(
                        EntryStatus::Duplicate,
                        duplicate_entry(urid, integration, first_line),
                    ),
                );
                continue;
            }
            seen.insert(integration, e);
            match connected
                .iter()
                .position(|c| c.config.integration.as_str() == integration)
            {
                Some(index) => {
                    let system = connected[index].config.system;
                    let stored = match &entry.itsm_user_id {
                        None => StoredId::None,
                        Some(raw) => match system.parse_itsm_user_id(raw) {
                            Ok(id) => StoredId::Valid(id),
                            Err(why) => StoredId::Malformed {
                                raw: raw.clone(),
                                why: why.to_string(),
                            },
                        },
                    };
                    plans.entry(index).or_default().push((at, entry, stored));
                }
                None => {
                    let known: Vec<&str> = connected
                        .iter()
                        .map(|c| c.config.integration.as_str())
                        .collect();
                    results.insert(
                        at,
                        structural(
                            EntryStatus::UnknownIntegration,
                            unknown_integration(urid, integration, &known),
                        ),
                    );
                }
            }
        }
    }

    progress.entries_judged(results.len() as u64);
    let outcomes = futures_join(connected, &plans, held, progress).await;

    let mut rows = Vec::new();
    let mut findings = Vec::new();
    let mut owners = BTreeMap::new();
    let mut unavailable = BTreeSet::new();
    for (index, c) in connected.iter().enumerate() {
        let outcome = &outcomes[index];
        let integration = c.config.integration.as_str();
        let system = c.config.system;
        let entries = plans.get(&index).map(Vec::as_slice).unwrap_or(&[]);
        let mut row = SystemRow {
            integration: integration.to_owned(),
            system: system.as_str().to_owned(),
            status: SystemStatus::Ok,
            api_requests: c.connector.http().requests_sent(),
            reason: None,
            credential_check: CredentialCheck::Unavailable,
            credential_owner: None,
            rate_limit_waits: c.connector.http().rate_limit_waits(),
            detail: None,
            readiness: ReadinessStatus::Skipped,
            readiness_detail: None,
            notes: c.connector.http().notes(),
            wall_time: outcome.wall_time,
        };
        let failure = match (&outcome.held, &outcome.error) {
            (Some(Hold::NotRecorded), _) => Some((
                Reason::Unreachable,
                "not in the recording".to_owned(),
                format!(
                    "{integration}: the recording replayed has no answers of this system, so its entries were not checked"
                ),
                "record the systems again with this connector configured (itsmid record --out DIR), or remove the connector from the config the replay reads".to_owned(),
            )),
            (Some(Hold::Until(next)), _) => Some((
                Reason::AuthFailed,
                format!("next attempt at {next}"),
                format!(
                    "{integration}: its credentials were refused in an earlier run, so it is not asked again until {next} (some systems lock an account after a few bad logins); its entries were not checked"
                ),
                "correct the credentials in [connectors.auth] or the secret they name: a changed secret or connector is tried at once".to_owned(),
            )),
            (None, Some(error)) => Some((
                error.reason(),
                error.to_string(),
                format!("{error}; its entries were not checked"),
                unavailable_fix(error),
            )),
            (None, None) => None,
        };
        if let Some((reason, detail, message, fix)) = failure {
            row.status = SystemStatus::Unavailable;
            row.reason = Some(reason);
            row.detail = Some(detail);
            unavailable.insert(integration.to_owned());
            findings.push(
                Finding::new(FindingCode::SystemUnavailable, message, fix)
                    .on(None, Some(integration))
                    .values(None, Some(reason.as_str().to_owned())),
            );
            for (at, _, _) in entries {
                results.insert(
                    *at,
                    EntryResult {
                        status: EntryStatus::Unchecked,
                        found: None,
                        findings: Vec::new(),
                    },
                );
            }
        } else {
            for (at, entry, stored) in entries {
                let identity = people[at.identity];
                results.insert(
                    *at,
                    judge(identity, entry, stored, system, &outcome.lookups),
                );
            }
        }
        bot_checks(
            &people,
            c,
            outcome,
            &results,
            &mut row,
            &mut findings,
            &mut owners,
        );
        rows.push(row);
    }

    shared_accounts(&people, &mut results);
    readiness::probe(&people, connected, &results, &mut rows, &mut findings).await;

    let mut identity_reports = Vec::new();
    for (i, identity) in people.iter().enumerate() {
        let mut entries = Vec::new();
        for (e, entry) in identity.itsm.iter().enumerate() {
            let at = EntryRef {
                identity: i,
                entry: e,
            };
            let result = results.get(&at);
            entries.push(EntryReport {
                integration: entry.integration.as_str().to_owned(),
                external_id: entry.external_id.as_ref().map(|x| x.as_str().to_owned()),
                itsm_user_id: entry.itsm_user_id.clone(),
                status: result.map(|r| r.status).unwrap_or(EntryStatus::Unchecked),
                found: result.and_then(|r| r.found.as_ref()).map(FoundRecord::from),
            });
            if let Some(result) = result {
                findings.extend(result.findings.iter().cloned());
            }
        }
        identity_reports.push(IdentityReport {
            unique_record_id: identity.unique_record_id.as_str().to_owned(),
            kind: identity.kind,
            entries,
        });
    }

    let summary = Summary {
        identities: people.len(),
        entries: people.iter().map(|p| p.itsm.len()).sum(),
        verified: results
            .values()
            .filter(|r| r.status == EntryStatus::Verified)
            .count(),
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        api_requests: rows.iter().map(|r| r.api_requests).sum(),
    };
    let report = Report {
        schema: SCHEMA,
        generated_at: crate::report::now_to_the_second(),
        complete: rows.iter().all(|r| r.status == SystemStatus::Ok),
        summary,
        systems: rows,
        findings,
        identities: identity_reports,
    };
    CheckRun {
        report,
        entries: results,
        owners,
        unavailable,
    }
}

/// Runs every system's lookups side by side; a slow system never holds the
/// others up.
async fn futures_join(
    connected: &[Connected],
    plans: &BTreeMap<usize, Vec<(EntryRef, &ItsmIdInfo, StoredId)>>,
    held: &Held,
    progress: &Progress,
) -> Vec<SystemOutcome> {
    let empty = Vec::new();
    futures_util::future::join_all(connected.iter().enumerate().map(|(index, c)| {
        let entries = plans.get(&index).unwrap_or(&empty);
        let held = held.get(c.config.integration.as_str()).cloned();
        async move {
            if held.is_some() {
                progress.system_done(entries.len() as u64);
                return SystemOutcome {
                    error: None,
                    held,
                    owner: None,
                    lookups: Lookups::default(),
                    wall_time: std::time::Duration::ZERO,
                };
            }
            let started = std::time::Instant::now();
            let mut outcome = check_system(&c.connector, c.config.system, entries).await;
            outcome.wall_time = started.elapsed();
            progress.system_done(entries.len() as u64);
            outcome
        }
    }))
    .await
}

/// One system: the credential check, then lookups by stored id (or by
/// External ID where none is stored), then External IDs only for entries
/// the first answer did not settle.
async fn check_system(
    connector: &AnyConnector,
    system: itsmid_connectors::System,
    entries: &[(EntryRef, &ItsmIdInfo, StoredId)],
) -> SystemOutcome {
    let mut outcome = SystemOutcome {
        error: None,
        held: None,
        owner: None,
        lookups: Lookups::default(),
        wall_time: std::time::Duration::ZERO,
    };
    match connector.whoami().await {
        Ok(owner) => outcome.owner = Some(owner),
        Err(err) => {
            outcome.error = Some(err);
            return outcome;
        }
    }
    let mut first: BTreeSet<LookupKey> = BTreeSet::new();
    for (_, entry, stored) in entries {
        match (stored, &entry.external_id) {
            (StoredId::Valid(id), _) if system.fetches_ids_in_bulk() => {
                first.insert(LookupKey::ItsmUserId(id.clone()));
            }
            (_, Some(ext)) => {
                first.insert(LookupKey::ExternalId(ext.clone()));
            }
            (StoredId::Valid(id), None) => {
                first.insert(LookupKey::ItsmUserId(id.clone()));
            }
            (StoredId::None | StoredId::Malformed { .. }, None) => {}
        }
    }
    if !first.is_empty() {
        let keys: Vec<LookupKey> = first.iter().cloned().collect();
        match connector.lookup(&keys).await {
            Ok(lookups) => outcome.lookups = lookups,
            Err(err) => {
                outcome.error = Some(err);
                return outcome;
            }
        }
    }
    let mut second: BTreeSet<LookupKey> = BTreeSet::new();
    for (_, entry, stored) in entries {
        let (StoredId::Valid(id), Some(ext)) = (stored, &entry.external_id) else {
            continue;
        };
        let settled = match outcome.lookups.get(&LookupKey::ItsmUserId(id.clone())) {
            Some(Lookup::Found(user)) => user
                .external_id
                .as_ref()
                .is_none_or(|found| ext.matches(found.as_str())),
            _ => false,
        };
        let key = LookupKey::ExternalId(ext.clone());
        if !settled && !first.contains(&key) {
            second.insert(key);
        }
    }
    if !second.is_empty() {
        let keys: Vec<LookupKey> = second.into_iter().collect();
        match connector.lookup(&keys).await {
            Ok(lookups) => outcome.lookups.outcomes.extend(lookups.outcomes),
            Err(err) => outcome.error = Some(err),
        }
    }
    outcome
}

fn structural(status: EntryStatus, finding: Finding) -> EntryResult {
    EntryResult {
        status,
        found: None,
        findings: vec![finding],
    }
}

/// BOT_ENTRY_MISSING, BOT_CREDENTIAL_MISMATCH and BOT_SETTING for one system.
fn bot_checks(
    people: &[&Identity],
    c: &Connected,
    outcome: &SystemOutcome,
    results: &BTreeMap<EntryRef, EntryResult>,
    row: &mut SystemRow,
    findings: &mut Vec<Finding>,
    owners: &mut BTreeMap<String, ItsmUser>,
) {
    let integration = c.config.integration.as_str();
    let system = c.config.system;
    let bot_index = people.iter().position(|p| p.kind == IdentityKind::Bot);
    let bot = bot_index.map(|i| people[i]);
    let bot_urid = bot.map(|b| b.unique_record_id.as_str());
    let bot_entry = bot.and_then(|b| {
        b.itsm
            .iter()
            .position(|e| e.integration.as_str() == integration)
    });
    if bot_entry.is_none() {
        findings.push(bot_entry_missing(bot_urid, integration, system));
    }
    // A system that could not be checked judges nothing, not even its
    // credentials.
    if outcome.error.is_some() || outcome.held.is_some() {
        return;
    }
    let owner = match &outcome.owner {
        Some(CredentialOwner::Known(owner)) => Some(owner),
        _ => None,
    };
    if let Some(owner) = owner {
        owners.insert(integration.to_owned(), owner.clone());
        row.credential_owner = Some(
            owner
                .external_id
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_else(|| owner.itsm_user_id.as_str().to_owned()),
        );
    }
    let (Some(bot_index), Some(entry_index)) = (bot_index, bot_entry) else {
        return;
    };
    let entry = &people[bot_index].itsm[entry_index];
    let found = results
        .get(&EntryRef {
            identity: bot_index,
            entry: entry_index,
        })
        .and_then(|r| r.found.as_ref());
    let mut owner_is_bot = false;
    if let Some(owner) = owner {
        owner_is_bot = match found {
            Some(found) => found.itsm_user_id == owner.itsm_user_id,
            // Compared in the system's canonical form (a 15-character
            // Salesforce Id is the same record as its 18-character form).
            None => {
                entry
                    .itsm_user_id
                    .as_deref()
                    .and_then(|raw| system.parse_itsm_user_id(raw).ok())
                    .is_some_and(|id| id == owner.itsm_user_id)
                    || match (&entry.external_id, &owner.external_id) {
                        (Some(ours), Some(theirs)) => ours.matches(theirs.as_str()),
                        _ => false,
                    }
            }
        };
        if owner_is_bot {
            row.credential_check = CredentialCheck::Ok;
        } else {
            row.credential_check = CredentialCheck::Mismatch;
            let owner_name = owner
                .external_id
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_else(|| owner.itsm_user_id.as_str().to_owned());
            let bot_name = entry
                .external_id
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default();
            findings.push(
                Finding::new(
                    FindingCode::BotCredentialMismatch,
                    format!(
                        "the connector's credentials log in as \"{owner_name}\" ({}), not as the bot's entry \"{bot_name}\"",
                        owner.itsm_user_id
                    ),
                    "give the connector the bot service account's own credentials, or correct the bot's entry".to_owned(),
                )
                .on(bot_urid, Some(integration))
                .values(Some(bot_name), Some(owner_name)),
            );
        }
    }
    // The settings are the bot's own account's: the credentials' record when
    // they are the bot's (it carries every setting), else the record found
    // for the bot's entry.
    let settings_source = match (owner.filter(|_| owner_is_bot), found) {
        (Some(owner), _) if owner.time_zone.is_some() => owner,
        (_, Some(found)) => found,
        (Some(owner), None) => owner,
        (None, None) => return,
    };
    for problem in c.connector.bot_setting_problems(settings_source) {
        findings.push(
            Finding::new(
                FindingCode::BotSetting,
                format!(
                    "the bot account's {} is {}; the documented setting is \"{}\"",
                    problem.setting,
                    problem
                        .actual
                        .as_deref()
                        .map(|a| format!("\"{a}\""))
                        .unwrap_or_else(|| "not set".into()),
                    problem.expected
                ),
                format!(
                    "set the bot account's {} to {} in {system}: {}",
                    problem.setting, problem.expected, problem.screen
                ),
            )
            .on(bot_urid, Some(integration))
            .values(Some(problem.expected.clone()), problem.actual.clone()),
        );
    }
}

/// SHARED_ITSM_ACCOUNT: two identities resolved to one account of one system.
fn shared_accounts(people: &[&Identity], results: &mut BTreeMap<EntryRef, EntryResult>) {
    let mut by_account: BTreeMap<(String, ItsmUserId), Vec<EntryRef>> = BTreeMap::new();
    for (at, result) in results.iter() {
        if let Some(found) = &result.found {
            let integration = people[at.identity].itsm[at.entry]
                .integration
                .as_str()
                .to_owned();
            by_account
                .entry((integration, found.itsm_user_id.clone()))
                .or_default()
                .push(*at);
        }
    }
    for ((integration, id), refs) in by_account {
        let owners: BTreeSet<usize> = refs.iter().map(|r| r.identity).collect();
        if owners.len() < 2 {
            continue;
        }
        for at in &refs {
            let others: Vec<&str> = owners
                .iter()
                .filter(|&&i| i != at.identity)
                .map(|&i| people[i].unique_record_id.as_str())
                .collect();
            let urid = people[at.identity].unique_record_id.as_str();
            if let Some(result) = results.get_mut(at) {
                result.findings.push(
                    Finding::new(
                        FindingCode::SharedItsmAccount,
                        format!("account {id} is also the account of {}", others.join(", ")),
                        "give each identity its own account; tickets would otherwise be filed as the wrong person",
                    )
                    .on(Some(urid), Some(&integration))
                    .values(None, Some(id.as_str().to_owned())),
                );
            }
        }
    }
}

fn unavailable_fix(error: &ConnectorError) -> String {
    match error.reason() {
        Reason::AuthFailed => "check the credentials in the connector's [connectors.auth] and the account's roles".into(),
        Reason::Unreachable => "check base_url and that the instance is up, then run the check again".into(),
        Reason::Timeout => "check the instance's health, or raise the connector's timeout".into(),
        Reason::RateLimited => "lower requests_per_minute or run the check later".into(),
        Reason::BadResponse => {
            "wake the instance or check base_url (a hibernating or login-protected instance answers with an HTML page)".into()
        }
    }
}
