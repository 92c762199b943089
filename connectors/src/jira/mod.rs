//! Jira Cloud connector (REST v3): verifies stored accountIds in bulk with
//! `/user/bulk`, finds users by e-mail with `/user/search`, asks `/myself`
//! who the credentials belong to, and probes the bot's readiness
//! (`readiness.rs`).
//!
//! Only reads, and only the operations Atlassian's OpenAPI document declares.
//! It never guesses: `/user/search` is a prefix match that hides inactive
//! users and hidden e-mail addresses, so only an exact e-mail match counts,
//! and "not found" says why when Jira could not have shown the user. A value
//! too long for Jira's request limit is refused, never a reason to give the
//! system up (see [`crate::batches`]).

pub mod api;
pub(crate) mod readiness;
pub mod recording;
pub mod sim;
pub(crate) mod wire;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;

use crate::batches::{Batches, refused_alone};
use crate::http::RequestSpec;
use crate::{
    BotSettingProblem, Connector, ConnectorError, ConnectorSettings, CredentialOwner, ExternalId,
    HttpClient, InvalidItsmUserId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, Readiness,
    ReadinessInput, ReadinessSettings, System,
};

pub use readiness::NEEDED_PERMISSIONS;

const BULK_PATH: &str = "/rest/api/3/user/bulk";
const SEARCH_PATH: &str = "/rest/api/3/user/search";
const MYSELF_PATH: &str = "/rest/api/3/myself";

/// How many accountIds one `/user/bulk` request carries. Atlassian does not
/// publish a limit; 100 keeps 10,000 ids at 100 requests.
const BULK_IDS_PER_REQUEST: usize = 100;

/// Upper bound on the encoded `accountId=...` part of one bulk URL. Proxies
/// in front of Jira refuse URLs past about 8 KiB; long ids (up to 128
/// characters, `:` encoded as `%3A`) get fewer per request instead.
const BULK_QUERY_BUDGET: usize = 7_500;

/// Pages followed for one bulk request before the answer is called broken:
/// every page must bring at least one user, so more pages than ids asked
/// means the server is not paging forward.
const BULK_MAX_PAGES: usize = BULK_IDS_PER_REQUEST + 1;

/// `/user/search`'s default page size; a full page means more may follow.
const SEARCH_PAGE_SIZE: usize = 50;

/// Jira applies `startAt`/`maxResults` only up to the thousandth user.
const SEARCH_MAX_USERS: usize = 1_000;

/// The time zone the bot account must have (Moveworks' Jira Service
/// Management access requirements), or ticket times are shown shifted.
pub const BOT_TIME_ZONE: &str = "America/Danmarkshavn";

/// Jira's marker for a record it could not read (a corrupted account); it
/// must never be taken as a user's id.
const UNKNOWN_ACCOUNT_ID: &str = "unknown";

const NOTE_HIDDEN_EMAIL: &str = "Jira found a user for this search whose e-mail address is hidden by their profile visibility, so the e-mail cannot be confirmed; store the user's accountId as the ITSM User ID so the user is checked by id";
const NOTE_ACTIVE_ONLY: &str = "Jira's user search shows only active users, so a deactivated account is found only through its stored accountId (ITSM User ID)";

/// The Jira Cloud connector.
pub struct Client {
    http: HttpClient,
    /// `[connectors.readiness]`: the project and the groups the probe checks.
    readiness: ReadinessSettings,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        // Jira's user search matches e-mail addresses and names only, so the
        // External ID can be no other field.
        if settings.lookup_field != "emailAddress" {
            return Err(ConnectorError::Setup {
                integration: settings.integration,
                detail: format!(
                    "lookup_by = \"{}\" is not possible for Jira: its External ID is emailAddress; remove lookup_by",
                    settings.lookup_field
                ),
            });
        }
        Ok(Client {
            http: HttpClient::new(
                settings.integration,
                settings.base_url,
                settings.credentials,
                settings.http,
            )?
            .with_max_request_line(System::Jira.max_request_line()),
            readiness: settings.readiness,
        })
    }

    /// Looks up accountIds with as few `/user/bulk` requests as the URL
    /// length allows, halving a batch Jira finds too large. Bulk returns
    /// inactive users too, which is the only way to see that a stored
    /// account was deactivated.
    async fn lookup_account_ids(
        &self,
        ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Lookup>, ConnectorError> {
        let mut found: BTreeMap<String, Vec<ItsmUser>> = BTreeMap::new();
        let mut batches = Batches::new(System::Jira, bulk_batches(ids));
        while let Some(batch) = batches.next_batch() {
            let users = match self.bulk_batch(&batch).await {
                Ok(users) => users,
                Err(error) => {
                    batches.failed(batch, error)?;
                    continue;
                }
            };
            for user in users {
                // Re-checked against what was asked: a record for an id not
                // in this batch is not evidence for any key.
                if batch.iter().any(|id| id == user.itsm_user_id.as_str()) {
                    let users = found
                        .entry(user.itsm_user_id.as_str().to_owned())
                        .or_default();
                    if !users.contains(&user) {
                        users.push(user);
                    }
                }
            }
        }
        let mut lookups: BTreeMap<String, Lookup> = ids
            .iter()
            .map(|id| {
                let users = found.remove(id).unwrap_or_default();
                (id.clone(), outcome(users, None))
            })
            .collect();
        for (id, refusal) in batches.into_refused() {
            lookups.insert(id, Lookup::Refused(refusal));
        }
        Ok(lookups)
    }

    /// One bulk request and the pages it leads to.
    async fn bulk_batch(&self, batch: &[String]) -> Result<Vec<ItsmUser>, ConnectorError> {
        let mut users = Vec::new();
        let mut start_at = 0usize;
        for _ in 0..BULK_MAX_PAGES {
            let mut spec = RequestSpec::get(self.http.endpoint(BULK_PATH));
            for id in batch {
                spec = spec.query("accountId", id.as_str());
            }
            let spec = spec
                .query("startAt", start_at.to_string())
                .query("maxResults", batch.len().to_string());
            let reply = self.http.send(&spec).await?;
            let page: wire::UserPage = reply.json(self.http.integration())?;
            let received = page.values.len();
            // Without `isLast`, the page is the last when it is empty, when
            // `total` is reached, or when it did not fill the page size the
            // server says it used (it may cap `maxResults` below ours).
            let is_last = page.is_last.unwrap_or_else(|| {
                received == 0
                    || match page.total {
                        Some(total) => start_at + received >= total,
                        None => received < page.max_results.unwrap_or(batch.len()),
                    }
            });
            for user in page.values {
                users.push(self.to_itsm_user(user, BULK_PATH)?);
            }
            if is_last {
                return Ok(users);
            }
            if received == 0 {
                return Err(self.bad_response(
                    BULK_PATH,
                    "a page with no users says more pages follow".into(),
                ));
            }
            start_at += received;
        }
        Err(self.bad_response(
            BULK_PATH,
            format!("still not the last page after {BULK_MAX_PAGES} pages"),
        ))
    }

    /// Searches one e-mail address and keeps only exact matches, since
    /// `query=bob@x.co` also returns `bob@x.com`.
    async fn lookup_email(&self, email: &str) -> Result<Lookup, ConnectorError> {
        let key = ExternalId::new(email);
        let mut matches = Vec::new();
        let mut hidden_email_seen = false;
        let mut start_at = 0usize;
        loop {
            let mut spec = RequestSpec::get(self.http.endpoint(SEARCH_PATH)).query("query", email);
            if start_at > 0 {
                spec = spec.query("startAt", start_at.to_string());
            }
            let reply = self.http.send(&spec).await?;
            let page: Vec<wire::User> = reply.json(self.http.integration())?;
            let received = page.len();
            for user in page {
                if user.account_id == UNKNOWN_ACCOUNT_ID {
                    tracing::warn!(integration = %self.http.integration(),
                        "skipping a search result Jira could not read (accountId \"unknown\")");
                    continue;
                }
                // Prefix matches of other users are skipped before they are
                // read, so an odd record among them cannot fail the lookup.
                match non_empty(user.email_address.clone()) {
                    Some(found) if key.matches(&found) => {
                        let user = self.to_itsm_user(user, SEARCH_PATH)?;
                        if !matches.contains(&user) {
                            matches.push(user);
                        }
                    }
                    Some(_) => {}
                    None => hidden_email_seen = true,
                }
            }
            start_at += received;
            if received < SEARCH_PAGE_SIZE || start_at >= SEARCH_MAX_USERS {
                break;
            }
        }
        let note = if hidden_email_seen {
            NOTE_HIDDEN_EMAIL
        } else {
            NOTE_ACTIVE_ONLY
        };
        Ok(outcome(matches, Some(note)))
    }

    fn to_itsm_user(&self, user: wire::User, path: &str) -> Result<ItsmUser, ConnectorError> {
        let itsm_user_id = parse_account_id(&user.account_id).map_err(|why| {
            self.bad_response(path, format!("a user's accountId is unusable: {why}"))
        })?;
        Ok(ItsmUser {
            itsm_user_id,
            external_id: non_empty(user.email_address).map(ExternalId::new),
            active: user.active.unwrap_or(true),
            // Jira Cloud has only displayName: no first or last name.
            first_name: None,
            last_name: None,
            full_name: non_empty(user.display_name),
            account_type: non_empty(user.account_type),
            time_zone: non_empty(user.time_zone),
            inactive_reason: None,
            record_kind: None,
        })
    }

    fn bad_response(&self, path: &str, detail: String) -> ConnectorError {
        ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: reqwest::Method::GET,
            path: path.to_owned(),
            detail,
        }
    }
}

/// Found, ambiguous or not found, from the users that matched one key.
fn outcome(mut users: Vec<ItsmUser>, note: Option<&str>) -> Lookup {
    match users.len() {
        0 => Lookup::NotFound {
            note: note.map(str::to_owned),
        },
        1 => match users.pop() {
            Some(user) => Lookup::Found(user),
            None => Lookup::NotFound { note: None },
        },
        _ => Lookup::Ambiguous(users),
    }
}

/// Splits accountIds into bulk requests of at most [`BULK_IDS_PER_REQUEST`]
/// ids and [`BULK_QUERY_BUDGET`] encoded characters.
fn bulk_batches(ids: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut batches = Vec::new();
    let mut batch: Vec<String> = Vec::new();
    let mut length = 0usize;
    for id in ids {
        let encoded = "accountId=".len()
            + url::form_urlencoded::byte_serialize(id.as_bytes())
                .map(str::len)
                .sum::<usize>()
            + 1;
        if !batch.is_empty()
            && (batch.len() >= BULK_IDS_PER_REQUEST || length + encoded > BULK_QUERY_BUDGET)
        {
            batches.push(std::mem::take(&mut batch));
            length = 0;
        }
        length += encoded;
        batch.push(id.clone());
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Checks that `value` can be a Jira Cloud accountId: legacy 24-hex ids,
/// `557058:<uuid>` and Service Management `qm:<uuid>:<hex>` all fit
/// "1-128 letters, digits, hyphens and colons" (Atlassian's user privacy
/// guide). Offline, so `lint` catches a pasted e-mail or name before any
/// request is sent.
pub fn parse_account_id(value: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
    if value.is_empty() {
        return Err(invalid(
            "The Jira accountId is empty; copy it from the user's profile URL in Jira (for example 5b10ac8d82e05b22cc7d4ef5).",
        ));
    }
    if value.contains('@') {
        return Err(invalid(
            "This looks like an e-mail address, not a Jira accountId; put the e-mail in external_id and the accountId (for example 5b10ac8d82e05b22cc7d4ef5) in itsm_user_id.",
        ));
    }
    let length = value.chars().count();
    if length > 128 {
        return Err(invalid(format!(
            "The Jira accountId is {length} characters long, but accountIds have at most 128."
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == ':'))
    {
        return Err(invalid(format!(
            "The Jira accountId contains {bad:?}, but accountIds hold only letters, digits, '-' and ':' (for example 5b10ac8d82e05b22cc7d4ef5 or 557058:f58131cb-b67d-43c7-b30d-6b58d40bd077)."
        )));
    }
    Ok(ItsmUserId::new(value))
}

/// An id this system's format refuses, with the reason the administrator reads.
fn invalid(why: impl Into<String>) -> InvalidItsmUserId {
    InvalidItsmUserId::new(System::Jira, why)
}

impl Connector for Client {
    async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        readiness::probe(&self.http, &api::CLOUD, &self.readiness, input).await
    }

    async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        let mut lookups = Lookups::default();
        let mut ids = BTreeSet::new();
        // Keyed by the lower-cased address: the search ignores case, so
        // `Pat@acme.com` and `pat@acme.com` share one request.
        let mut emails: BTreeMap<String, String> = BTreeMap::new();
        for key in keys {
            match key {
                LookupKey::ItsmUserId(id) => match parse_account_id(id.as_str()) {
                    Ok(_) => {
                        ids.insert(id.as_str().to_owned());
                    }
                    Err(why) => lookups.insert(key.clone(), Lookup::refused(why.to_string())),
                },
                LookupKey::ExternalId(email) => {
                    let trimmed = email.as_str().trim();
                    if trimmed.is_empty() {
                        lookups.insert(
                            key.clone(),
                            Lookup::refused("the e-mail address is empty, and an empty search would list every user"),
                        );
                    } else {
                        emails
                            .entry(trimmed.to_lowercase())
                            .or_insert_with(|| trimmed.to_owned());
                    }
                }
            }
        }

        let by_id = self.lookup_account_ids(&ids).await?;
        let mut by_email = BTreeMap::new();
        for (folded, email) in &emails {
            let answer = match self.lookup_email(email).await {
                Ok(answer) => answer,
                Err(error) => refused_alone(System::Jira, error)?,
            };
            by_email.insert(folded.clone(), answer);
        }

        for key in keys {
            let answer = match key {
                LookupKey::ItsmUserId(id) => by_id.get(id.as_str()),
                LookupKey::ExternalId(email) => by_email.get(&email.as_str().trim().to_lowercase()),
            };
            if let Some(answer) = answer {
                lookups.insert(key.clone(), answer.clone());
            }
        }
        Ok(lookups)
    }

    async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        let spec =
            RequestSpec::get(self.http.endpoint(MYSELF_PATH)).accept_status(StatusCode::NOT_FOUND);
        let reply = self.http.send(&spec).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(CredentialOwner::Unknown);
        }
        let user: wire::User = reply.json(self.http.integration())?;
        Ok(CredentialOwner::Known(
            self.to_itsm_user(user, MYSELF_PATH)?,
        ))
    }

    fn http(&self) -> &HttpClient {
        &self.http
    }

    fn bot_setting_problems(&self, bot: &ItsmUser) -> Vec<BotSettingProblem> {
        time_zone_problems(
            bot,
            "signed in as the bot: Atlassian account settings (id.atlassian.com) → Account preferences → Time zone",
        )
    }
}

/// The bot's time zone against [`BOT_TIME_ZONE`], for Jira Cloud and Data
/// Center alike; `screen` is where the deployment changes it.
pub(crate) fn time_zone_problems(bot: &ItsmUser, screen: &'static str) -> Vec<BotSettingProblem> {
    if bot.time_zone.as_deref() == Some(BOT_TIME_ZONE) {
        return Vec::new();
    }
    vec![BotSettingProblem {
        setting: "timeZone",
        expected: BOT_TIME_ZONE.into(),
        actual: bot.time_zone.clone(),
        screen,
    }]
}

/// Jira's `app` accounts belong to integrations and cannot act as a
/// person; `atlassian` accounts and Service Management `customer` accounts
/// are people.
pub(crate) fn not_a_person(account_type: &str) -> Option<crate::NotAPerson> {
    (account_type == "app").then(|| crate::NotAPerson {
        account_type: account_type.to_owned(),
        person_types: "atlassian or customer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_account_id_form_is_accepted() {
        for id in [
            "5b10ac8d82e05b22cc7d4ef5",
            "606b8fb83a516300764cb19d",
            "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
            "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327",
            "qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:5e5f5a5b5c5d5e5f",
            "5b10a2844c20165700ede21g",
            "1",
        ] {
            assert_eq!(parse_account_id(id), Ok(ItsmUserId::new(id)), "{id}");
        }
    }

    #[test]
    fn values_that_cannot_be_account_ids_are_refused_with_a_reason() {
        let empty = parse_account_id("").unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
        let email = parse_account_id("pat@acme.com").unwrap_err().to_string();
        assert!(email.contains("e-mail"), "{email}");
        let long = parse_account_id(&"a".repeat(129)).unwrap_err().to_string();
        assert!(long.contains("129"), "{long}");
        let space = parse_account_id("5b10ac8d 82e05b22")
            .unwrap_err()
            .to_string();
        assert!(space.contains("' '"), "{space}");
        assert!(parse_account_id(&"a".repeat(128)).is_ok());
        assert!(parse_account_id("a&accountId=b").is_err());
    }

    #[test]
    fn ten_thousand_account_ids_fit_in_one_hundred_bulk_requests() {
        let ids: BTreeSet<String> = (0..10_000)
            .map(|n| format!("712020:6b1f7b04-6e9e-4276-b4d8-{n:012x}"))
            .collect();
        let batches = bulk_batches(&ids);
        assert_eq!(batches.len(), 100);
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 10_000);
    }

    #[test]
    fn service_management_ids_still_go_one_hundred_per_request() {
        let ids: BTreeSet<String> = (0..10_000)
            .map(|n| format!("qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:{n:016x}"))
            .collect();
        assert_eq!(bulk_batches(&ids).len(), 100);
    }

    #[test]
    fn the_longest_account_ids_still_fit_in_under_three_hundred_requests() {
        let ids: BTreeSet<String> = (0..10_000)
            .map(|n| format!("{n:05}:{}", "a".repeat(122)))
            .collect();
        let batches = bulk_batches(&ids);
        assert!(batches.len() <= 300, "{}", batches.len());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 100));
    }
}
