//! Jira Data Center and Server connector (REST API v2 under `base_url`,
//! which may hold a context path such as `/jira`): finds users by user key
//! (`/user?key=`), by e-mail (`/user/search?username=`) or by user name
//! (`/user?username=`), or, when the keys are many and `/serverInfo` says
//! Jira 8 or 9, in one listing of the whole directory (`username=.`, a
//! thousand users a page), asks `/myself`
//! who the credentials belong to, and probes the bot's readiness with Jira
//! Cloud's checks over API v2 (`readiness.rs`).
//!
//! Only reads. Never guesses: the search is a prefix match, so only an
//! exact match counts; a listing that cannot be shown complete (Jira 10
//! pages it unreliably) never makes an entry "not found" on its own, the
//! entry is then asked for alone. An instance with basic authentication
//! switched off says so, and the fix names the personal access token.

pub mod query;
mod readiness;
pub mod recording;
pub mod sim;
mod wire;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;

use crate::batches::refused_alone;
use crate::http::{Reply, RequestSpec, Verdict};
use crate::{
    BotSettingProblem, Connector, ConnectorError, ConnectorSettings, CredentialOwner, ExternalId,
    HttpClient, InvalidItsmUserId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, Readiness,
    ReadinessInput, ReadinessSettings, System,
};

pub use readiness::DATA_CENTER;

const USER_PATH: &str = "/rest/api/2/user";
const SEARCH_PATH: &str = "/rest/api/2/user/search";
const MYSELF_PATH: &str = "/rest/api/2/myself";
const SERVER_INFO_PATH: &str = "/rest/api/2/serverInfo";

/// The largest page of `/user/search` on Jira 8.x and 9.x.
const PAGE_SIZE: usize = 1_000;

/// The largest page on Jira 10 and later, whatever `maxResults` asks: a
/// page of exactly this many may not be the last.
const JIRA_10_PAGE_CAP: usize = 100;

/// More keys than this are matched against a listing of the directory. A
/// key asked for alone costs one request; a listing one per thousand
/// users, so past a hundred keys a directory of up to 100,000 users costs
/// less listed (SPEC's budget: 0.01 requests per entry at 10,000).
const LIST_WHEN_KEYS_OVER: usize = 100;

/// Pages of a listing before it is called incomplete: 500,000 users.
const MAX_LIST_PAGES: usize = 500;

/// Pages of one user's search: the matches of one address are few.
const MAX_SEARCH_PAGES: usize = 10;

/// The time zone the bot account must have, as for Jira Cloud.
pub const BOT_TIME_ZONE: &str = crate::jira::BOT_TIME_ZONE;

/// The fix for an instance that refuses basic authentication.
const BASIC_AUTH_DISABLED_FIX: &str = "this Jira instance has basic authentication switched off; sign in to Jira as the bot, create a personal access token (profile → Personal Access Tokens → Create token) and configure it as [connectors.auth] type = \"bearer\" with token = the token's secret reference";

/// The fix for a login that Jira wants a CAPTCHA for.
const CAPTCHA_FIX: &str = "Jira asks for a CAPTCHA after too many failed logins, so it refuses this user's basic authentication until someone signs in once in a browser; correct the password, sign in to Jira once as the bot (or have an administrator reset the failed login count), or use a personal access token (type = \"bearer\")";

const NOTE_UNFINISHED_SEARCH: &str = "Jira's user search for this address did not reach its end (its pages repeat, or go on past ten), so it cannot say whether the user exists; store the user's key as the ITSM User ID so the user is checked by key";

const NOTE_HIDDEN_EMAIL: &str = "Jira found users for this search whose e-mail addresses the instance hides (Administration → System → General configuration → User email visibility), so the e-mail cannot be confirmed; store the user's key as the ITSM User ID so the user is checked by key";

/// The Jira Data Center connector.
pub struct Client {
    http: HttpClient,
    /// Which field holds the External ID: `emailAddress` or `name`.
    external: ExternalField,
    /// `[connectors.readiness]`: the project and the groups the probe checks.
    readiness: ReadinessSettings,
}

/// The field a Jira Data Center External ID is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExternalField {
    EmailAddress,
    Name,
}

/// What a search brought: each user once, and whether it reached its end.
struct Searched {
    users: Vec<ItsmUser>,
    finished: bool,
}

/// What one lookup of the whole directory brought.
struct Listing {
    users: Vec<ItsmUser>,
    /// Whether the listing is known to hold every user: only then does a
    /// key missing from it mean "not found".
    complete: bool,
    /// Whether some users came without a readable e-mail address.
    hidden_email_seen: bool,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        let external = match settings.lookup_field.as_str() {
            "emailAddress" => ExternalField::EmailAddress,
            "name" => ExternalField::Name,
            other => {
                return Err(ConnectorError::Setup {
                    integration: settings.integration,
                    detail: format!(
                        "lookup_by = \"{other}\" is not possible for Jira Data Center: its External ID is emailAddress or name"
                    ),
                });
            }
        };
        Ok(Client {
            http: HttpClient::new(
                settings.integration,
                settings.base_url,
                settings.credentials,
                settings.http,
            )?
            .with_max_request_line(System::JiraDc.max_request_line())
            .with_classifier(classify),
            external,
            readiness: settings.readiness,
        })
    }

    /// Every user of the directory, inactive ones included, a thousand a
    /// page. Complete only when it ended on a short page and every page
    /// brought users not seen before (Jira 10 caps pages at a hundred and
    /// may repeat them).
    async fn list_all(&self) -> Result<Listing, ConnectorError> {
        let searched = self
            .search_pages(MAX_LIST_PAGES, |start_at| {
                self.search_spec(".").query("startAt", start_at.to_string())
            })
            .await?;
        let hidden_email_seen = self.external == ExternalField::EmailAddress
            && searched.users.iter().any(|u| u.external_id.is_none());
        Ok(Listing {
            users: searched.users,
            complete: searched.finished,
            hidden_email_seen,
        })
    }

    /// The users of one search, each once, page after page by `startAt`
    /// (`spec` builds the request for a start), until a page short of the
    /// thousand asked and not the hundred Jira 10 caps at (`finished`), a
    /// page of users already seen (Jira 10 repeating itself), or
    /// `max_pages`.
    async fn search_pages(
        &self,
        max_pages: usize,
        spec: impl Fn(usize) -> RequestSpec,
    ) -> Result<Searched, ConnectorError> {
        let mut searched = Searched {
            users: Vec::new(),
            finished: false,
        };
        let mut seen = BTreeSet::new();
        let mut start_at = 0usize;
        for _ in 0..max_pages {
            let page = self.search_page(&spec(start_at)).await?;
            let received = page.len();
            let before = searched.users.len();
            for user in page {
                if seen.insert(user.itsm_user_id.as_str().to_owned()) {
                    searched.users.push(user);
                }
            }
            if is_last_page(received) {
                searched.finished = true;
                break;
            }
            if searched.users.len() == before {
                tracing::warn!(integration = %self.http.integration(),
                    "the user search repeats its pages; what it does not hold is asked for alone");
                break;
            }
            start_at += received;
        }
        Ok(searched)
    }

    /// Whether `username=.` lists every user here: Jira 8 and 9 do; Jira
    /// 10 caps and pages its search unreliably, and an instance that does
    /// not say its version is not listed either (SPEC section 5).
    async fn lists_everyone(&self) -> Result<bool, ConnectorError> {
        let spec = RequestSpec::get(self.http.endpoint(SERVER_INFO_PATH))
            .accept_status(StatusCode::NOT_FOUND);
        let reply = self.http.send(&spec).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        let info: wire::ServerInfo = reply.json(self.http.integration())?;
        Ok(info
            .version_numbers
            .first()
            .is_some_and(|major| (8..10).contains(major)))
    }

    /// `/user/search` for `term`, inactive users included, at the largest
    /// page size.
    fn search_spec(&self, term: &str) -> RequestSpec {
        RequestSpec::get(self.http.endpoint(SEARCH_PATH))
            .query("username", term)
            .query("includeActive", "true")
            .query("includeInactive", "true")
            .query("maxResults", PAGE_SIZE.to_string())
    }

    /// One page of `/user/search`, each user read.
    async fn search_page(&self, spec: &RequestSpec) -> Result<Vec<ItsmUser>, ConnectorError> {
        let reply = self.http.send(spec).await?;
        let page: Vec<wire::User> = reply.json(self.http.integration())?;
        page.into_iter()
            .map(|user| self.to_itsm_user(user, SEARCH_PATH))
            .collect()
    }

    /// One user by key (`/user?key=`) or user name (`/user?username=`):
    /// 404 is "not found".
    async fn user_by(&self, parameter: &str, value: &str) -> Result<Lookup, ConnectorError> {
        let spec = RequestSpec::get(self.http.endpoint(USER_PATH))
            .query(parameter, value)
            .accept_status(StatusCode::NOT_FOUND);
        let reply = self.http.send(&spec).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(Lookup::NotFound { note: None });
        }
        let user: wire::User = reply.json(self.http.integration())?;
        let user = self.to_itsm_user(user, USER_PATH)?;
        // `key=` and `username=` are exact; a record for another user is
        // not evidence for this one.
        let fits = match parameter {
            "key" => user.itsm_user_id.as_str() == value,
            _ => user.external_id.as_ref().is_some_and(|e| e.matches(value)),
        };
        Ok(if fits {
            Lookup::Found(user)
        } else {
            Lookup::NotFound { note: None }
        })
    }

    /// Searches one e-mail address and keeps only exact matches, since
    /// `username=bob@x.co` also finds `bob@x.com`.
    async fn user_by_email(&self, email: &str) -> Result<Lookup, ConnectorError> {
        let searched = self
            .search_pages(MAX_SEARCH_PAGES, |start_at| {
                let spec = self.search_spec(email);
                if start_at > 0 {
                    spec.query("startAt", start_at.to_string())
                } else {
                    spec
                }
            })
            .await?;
        let hidden_email_seen = searched.users.iter().any(|u| u.external_id.is_none());
        let matches: Vec<ItsmUser> = searched
            .users
            .into_iter()
            .filter(|u| u.external_id.as_ref().is_some_and(|e| e.matches(email)))
            .collect();
        // A search that did not reach its end cannot say "not found".
        if matches.is_empty() && !searched.finished {
            return Ok(Lookup::refused(NOTE_UNFINISHED_SEARCH));
        }
        Ok(outcome(matches, hidden_email_seen))
    }

    /// Looks one key up on its own.
    async fn lookup_alone(&self, key: &LookupKey) -> Result<Lookup, ConnectorError> {
        let answer = match key {
            LookupKey::ItsmUserId(id) => self.user_by("key", id.as_str()).await,
            LookupKey::ExternalId(external) => {
                let term = match query::search_term(external.as_str()) {
                    Ok(term) => term,
                    Err(refusal) => return Ok(Lookup::Refused(refusal)),
                };
                match self.external {
                    ExternalField::EmailAddress => self.user_by_email(term).await,
                    ExternalField::Name => self.user_by("username", term).await,
                }
            }
        };
        match answer {
            Ok(lookup) => Ok(lookup),
            Err(error) => refused_alone(System::JiraDc, error),
        }
    }

    /// The answer for `key` from a listing; `None` when the listing is
    /// incomplete and does not hold it.
    fn answer_in(listing: &Listing, key: &LookupKey) -> Option<Lookup> {
        let matches: Vec<ItsmUser> = listing
            .users
            .iter()
            .filter(|user| match key {
                LookupKey::ItsmUserId(id) => user.itsm_user_id == *id,
                LookupKey::ExternalId(external) => user
                    .external_id
                    .as_ref()
                    .is_some_and(|found| external.matches(found.as_str())),
            })
            .cloned()
            .collect();
        // From a listing that may miss users, a key (unique) found is
        // found; an address or user name may have a second user outside it.
        let external = matches!(key, LookupKey::ExternalId(_));
        if !listing.complete && (matches.is_empty() || external) {
            return None;
        }
        let hidden = matches!(key, LookupKey::ExternalId(_)) && listing.hidden_email_seen;
        Some(outcome(matches, hidden))
    }

    fn to_itsm_user(&self, user: wire::User, path: &str) -> Result<ItsmUser, ConnectorError> {
        let key = non_empty(user.key)
            .ok_or_else(|| self.bad_response(path, "a user record has no key".into()))?;
        let itsm_user_id = parse_key(&key)
            .map_err(|why| self.bad_response(path, format!("a user's key is unusable: {why}")))?;
        let external_id = match self.external {
            ExternalField::EmailAddress => non_empty(user.email_address)
                .and_then(|email| unmask(&email))
                .map(ExternalId::new),
            ExternalField::Name => non_empty(user.name).map(ExternalId::new),
        };
        Ok(ItsmUser {
            itsm_user_id,
            external_id,
            active: user.active.unwrap_or(true),
            // Jira has only displayName: no first or last name.
            first_name: None,
            last_name: None,
            full_name: non_empty(user.display_name),
            account_type: None,
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
fn outcome(mut users: Vec<ItsmUser>, hidden_email_seen: bool) -> Lookup {
    match users.len() {
        0 => Lookup::NotFound {
            note: hidden_email_seen.then(|| NOTE_HIDDEN_EMAIL.to_owned()),
        },
        1 => match users.pop() {
            Some(user) => Lookup::Found(user),
            None => Lookup::NotFound { note: None },
        },
        _ => Lookup::Ambiguous(users),
    }
}

/// Whether a search page of `received` users is the last: short of the
/// thousand asked, and not the hundred Jira 10 caps every page at.
fn is_last_page(received: usize) -> bool {
    received < PAGE_SIZE && received != JIRA_10_PAGE_CAP
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The address behind Jira's masked form (`pat at acme dot com`, the
/// "masked" user e-mail visibility); `None` for an address that is hidden
/// or that cannot be read back.
fn unmask(email: &str) -> Option<String> {
    let email = email.trim();
    if email.contains('@') {
        return Some(email.to_owned());
    }
    let (local, domain) = email.split_once(" at ")?;
    let address = format!("{}@{}", local.trim(), domain.trim()).replace(" dot ", ".");
    (!address.contains(' ')).then_some(address)
}

/// Reads the refusals Jira Data Center explains: basic authentication
/// switched off for the instance, and the CAPTCHA Jira asks for after
/// failed logins. Every other answer is left to the status code.
fn classify(reply: &Reply) -> Option<Verdict> {
    if !matches!(reply.status.as_u16(), 401 | 403) {
        return None;
    }
    let denied = reply
        .headers
        .get("x-authentication-denied-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if denied.to_ascii_uppercase().contains("CAPTCHA") {
        return Some(Verdict::AuthRefused(CAPTCHA_FIX));
    }
    let head = &reply.body[..reply.body.len().min(4_096)];
    let text = String::from_utf8_lossy(head).to_lowercase();
    // "Basic authentication has been disabled", "basic auth is not
    // allowed", "authentication method not permitted: basic", ...
    let basic = text.contains("basic");
    let off = [
        "disabled",
        "not allowed",
        "not permitted",
        "not supported",
        "blocked",
        "turned off",
        "switched off",
    ]
    .iter()
    .any(|word| text.contains(word));
    (basic && off).then_some(Verdict::AuthRefused(BASIC_AUTH_DISABLED_FIX))
}

/// Checks that `value` can be a Jira Data Center user key: `JIRAUSER10100`
/// for accounts made since Jira 8.4, the lower-cased user name for older
/// ones, so almost any text; what no key holds is refused. Offline, so
/// `lint` catches a pasted display name or an empty value before any
/// request is sent.
pub fn parse_key(value: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
    if value.is_empty() {
        return Err(invalid(
            "The Jira Data Center user key is empty; copy it from the user's profile (Administration → User management → the user: the key, for example JIRAUSER10100).",
        ));
    }
    let length = value.chars().count();
    if length > 255 {
        return Err(invalid(format!(
            "The Jira Data Center user key is {length} characters long, but keys have at most 255."
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            "The Jira Data Center user key holds a control character, which no key has (for example JIRAUSER10100).",
        ));
    }
    if value.chars().any(char::is_whitespace) && value.contains('@') {
        return Err(invalid(
            "This looks like a name and an e-mail address, not a Jira Data Center user key; put the e-mail in external_id and the key (for example JIRAUSER10100) in itsm_user_id.",
        ));
    }
    Ok(ItsmUserId::new(value))
}

/// An id this system's format refuses, with the reason the administrator reads.
fn invalid(why: impl Into<String>) -> InvalidItsmUserId {
    InvalidItsmUserId::new(System::JiraDc, why)
}

impl Connector for Client {
    async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        readiness::probe(&self.http, &self.readiness, input).await
    }

    async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        let mut lookups = Lookups::default();
        // Each key sent, by the form it is asked in: an External ID
        // lower-cased, since Jira compares user names and addresses
        // without regard to case.
        let mut sent: Vec<(&LookupKey, LookupKey)> = Vec::new();
        let mut asked: BTreeMap<LookupKey, &LookupKey> = BTreeMap::new();
        for key in keys {
            let folded = match key {
                LookupKey::ItsmUserId(id) => match parse_key(id.as_str()) {
                    Ok(_) => key.clone(),
                    Err(why) => {
                        lookups.insert(key.clone(), Lookup::unsendable_id(why));
                        continue;
                    }
                },
                LookupKey::ExternalId(external) => match query::search_term(external.as_str()) {
                    Ok(term) => LookupKey::ExternalId(ExternalId::new(term.to_lowercase())),
                    Err(refusal) => {
                        lookups.insert(key.clone(), Lookup::Refused(refusal));
                        continue;
                    }
                },
            };
            asked.entry(folded.clone()).or_insert(key);
            sent.push((key, folded));
        }

        let listing = if asked.len() > LIST_WHEN_KEYS_OVER && self.lists_everyone().await? {
            Some(self.list_all().await?)
        } else {
            None
        };
        let mut answers: BTreeMap<LookupKey, Lookup> = BTreeMap::new();
        for (folded, original) in asked {
            let listed = listing
                .as_ref()
                .and_then(|listing| Client::answer_in(listing, original));
            let answer = match listed {
                Some(answer) => answer,
                None => self.lookup_alone(original).await?,
            };
            answers.insert(folded, answer);
        }
        for (key, folded) in sent {
            if let Some(answer) = answers.get(&folded) {
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
        crate::jira::time_zone_problems(
            bot,
            "signed in to Jira as the bot: profile → Preferences → Edit → Time zone (or an administrator: Administration → User management → the bot's user)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_key_form_is_accepted() {
        for key in [
            "JIRAUSER10100",
            "jsmith",
            "pat@acme.com",
            "j.smith-2",
            "admin",
        ] {
            assert_eq!(parse_key(key), Ok(ItsmUserId::new(key)), "{key}");
        }
    }

    #[test]
    fn values_that_cannot_be_keys_are_refused_with_a_reason() {
        let empty = parse_key("").unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
        let long = parse_key(&"a".repeat(256)).unwrap_err().to_string();
        assert!(long.contains("256"), "{long}");
        assert!(parse_key("JIRA\nUSER1").is_err());
        let pasted = parse_key("Pat Lee <pat@acme.com>").unwrap_err().to_string();
        assert!(pasted.contains("external_id"), "{pasted}");
    }

    #[test]
    fn masked_addresses_are_read_back_and_hidden_ones_are_not() {
        assert_eq!(
            unmask("pat at acme dot com").as_deref(),
            Some("pat@acme.com")
        );
        assert_eq!(
            unmask("pat dot lee at mail dot acme dot com").as_deref(),
            Some("pat.lee@mail.acme.com")
        );
        assert_eq!(unmask("pat@acme.com").as_deref(), Some("pat@acme.com"));
        assert_eq!(unmask("hidden"), None);
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            method: reqwest::Method::GET,
            path: MYSELF_PATH.into(),
        }
    }

    #[test]
    fn disabled_basic_authentication_is_recognized_and_other_refusals_are_not() {
        let off = reply(
            401,
            "Basic Authentication has been disabled on this instance.",
        );
        assert_eq!(
            classify(&off),
            Some(Verdict::AuthRefused(BASIC_AUTH_DISABLED_FIX))
        );
        let json = reply(
            403,
            r#"{"errorMessages":["Basic authentication is not allowed on this instance"],"errors":{}}"#,
        );
        assert_eq!(
            classify(&json),
            Some(Verdict::AuthRefused(BASIC_AUTH_DISABLED_FIX))
        );
        let method = reply(
            401,
            r#"{"message": "Authentication method not permitted: Basic"}"#,
        );
        assert_eq!(
            classify(&method),
            Some(Verdict::AuthRefused(BASIC_AUTH_DISABLED_FIX))
        );
        assert_eq!(classify(&reply(401, "Basic authentication failed")), None);
        assert_eq!(classify(&reply(401, "")), None);
        assert_eq!(classify(&reply(200, "basic auth disabled")), None);
        let mut captcha = reply(403, "");
        captcha.headers.insert(
            "x-authentication-denied-reason",
            "CAPTCHA_CHALLENGE; login-url=https://jira.acme.com/login.jsp"
                .parse()
                .unwrap(),
        );
        assert_eq!(classify(&captcha), Some(Verdict::AuthRefused(CAPTCHA_FIX)));
    }
}
