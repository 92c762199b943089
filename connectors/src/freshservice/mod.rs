//! Freshservice connector: looks users up among requesters and then agents
//! through API v2, many at a time (quoted `primary_email:'a' OR ...`
//! filters, or one listing of the whole directory when the keys are many),
//! and tells which agent the API key belongs to (`/api/v2/agents/me`), whose
//! answer the readiness probe reuses (`readiness.rs`).
//!
//! Never trusts the filter (`~[...]` is a prefix match and the index lags by
//! minutes): every returned record is checked against the key again. Never
//! splices a value the filter cannot carry (see [`query::check_value`]),
//! never sends the same request twice in one call, and slows down on its own
//! when `X-Ratelimit-Remaining` runs low, before the API answers 429. A value
//! too long for the request limit is refused, never a reason to give the
//! system up (see [`crate::batches`]).

pub mod query;
mod readiness;
pub mod recording;
pub mod sim;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use crate::batches::{Batches, refused_alone};
use crate::http::{Reply, RequestSpec};
use crate::{
    Connector, ConnectorError, ConnectorSettings, CredentialOwner, ExternalId, HttpClient,
    InvalidItsmUserId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, Readiness, ReadinessInput,
    ReadinessSettings, System,
};
use query::Placement;
use readiness::Me;
use wire::Record;

const REQUESTERS_PATH: &str = "/api/v2/requesters";
const AGENTS_PATH: &str = "/api/v2/agents";
const ME_PATH: &str = "/api/v2/agents/me";

/// A filter answers 30 records a page, pages 1 to 40, fixed by the API.
const FILTER_PAGE_SIZE: usize = 30;
const MAX_FILTER_PAGE: u32 = 40;

/// The largest `per_page` of a plain listing.
const LIST_PAGE_SIZE: usize = 100;

/// Pages of a whole listing before giving up: 200,000 users, far beyond
/// any directory this tool serves, so more means the paging never ends.
const MAX_LIST_PAGES: u32 = 2_000;

/// More keys than this are matched against a listing of the directory
/// rather than filtered: a filter carries about ten e-mails and an id needs
/// a request of its own, while a listing takes one request per hundred
/// users. The directory's size is known only by listing it, so the rule
/// goes by the keys: past a hundred, a listing of up to 10,000 users is no
/// dearer than the filters, and far cheaper than one request per id.
const LIST_WHEN_KEYS_OVER: usize = 100;

/// Freshservice counts requests per minute.
const RATE_LIMIT_WINDOW: Duration = Duration::from_secs(60);

/// Which of the two user lists a request or record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Requester,
    Agent,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Requester => REQUESTERS_PATH,
            Kind::Agent => AGENTS_PATH,
        }
    }

    /// The field that holds the External ID in this list.
    fn email_field(self) -> &'static str {
        match self {
            Kind::Requester => "primary_email",
            Kind::Agent => "email",
        }
    }

    /// The `record_kind` reported with the user.
    fn name(self) -> &'static str {
        match self {
            Kind::Requester => "requester",
            Kind::Agent => "agent",
        }
    }
}

pub struct Client {
    http: HttpClient,
    /// How long the rate-limit window is; a pause is a share of it.
    rate_limit_window: Duration,
    /// No request leaves before this moment: set when an answer said the
    /// minute's requests are nearly used up.
    paused_until: Mutex<Option<Instant>>,
    /// `[connectors.readiness]`.
    readiness: ReadinessSettings,
    /// What `agents/me` answered `whoami` in this run, reused by the
    /// readiness probe so that it costs no request of its own.
    me: Mutex<Option<Me>>,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        let field = settings.lookup_field.trim();
        if field != "primary_email" && field != "email" {
            return Err(ConnectorError::Setup {
                integration: settings.integration,
                detail: format!(
                    "lookup_by = {:?} is not supported for Freshservice: users are looked up by \
                     e-mail, so use \"primary_email\" (or leave lookup_by out)",
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
            .with_max_request_line(System::Freshservice.max_request_line()),
            rate_limit_window: RATE_LIMIT_WINDOW,
            paused_until: Mutex::new(None),
            readiness: settings.readiness,
            me: Mutex::new(None),
        })
    }

    /// Sets the rate-limit window the pauses are measured in (60 s in
    /// Freshservice); tests use a tiny one.
    pub fn with_rate_limit_window(mut self, window: Duration) -> Client {
        self.rate_limit_window = window;
        self
    }

    /// Sends through the shared client, first waiting out a pause an
    /// earlier answer asked for, and reads the rate-limit headers after.
    async fn send(&self, spec: &RequestSpec) -> Result<Reply, ConnectorError> {
        let until = *self
            .paused_until
            .lock()
            .expect("the pause lock is never poisoned: no code panics under it");
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
        let reply = self.http.send(spec).await?;
        let remaining = header_number(&reply, "x-ratelimit-remaining");
        let total = header_number(&reply, "x-ratelimit-total");
        let pause = rate_limit_pause(remaining, total, self.rate_limit_window);
        if let Some(pause) = pause {
            tracing::info!(integration = %self.http.integration(), remaining, total,
                pause_ms = pause.as_millis() as u64, "Freshservice rate limit nearly used up: pausing");
        }
        *self
            .paused_until
            .lock()
            .expect("the pause lock is never poisoned: no code panics under it") =
            pause.map(|pause| Instant::now() + pause);
        Ok(reply)
    }

    fn bad_response(&self, path: &str, detail: String) -> ConnectorError {
        ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: Method::GET,
            path: path.to_owned(),
            detail,
        }
    }

    fn decode_list(&self, kind: Kind, reply: &Reply) -> Result<Vec<Record>, ConnectorError> {
        let integration = self.http.integration();
        Ok(match kind {
            Kind::Requester => reply.json::<wire::RequesterList>(integration)?.requesters,
            Kind::Agent => reply.json::<wire::AgentList>(integration)?.agents,
        })
    }

    /// Every record of one filter, page by page: a full page of 30 may have
    /// more behind it, up to the API's last page, 40.
    async fn fetch_filter(&self, kind: Kind, filter: &str) -> Result<Vec<Record>, ConnectorError> {
        let mut records = Vec::new();
        for page in 1..=MAX_FILTER_PAGE {
            let mut spec = RequestSpec::get(self.http.endpoint(kind.path())).query("query", filter);
            if page > 1 {
                spec = spec.query("page", page.to_string());
            }
            let reply = self.send(&spec).await?;
            let batch = self.decode_list(kind, &reply)?;
            let full = batch.len() >= FILTER_PAGE_SIZE;
            records.extend(batch);
            if !full {
                return Ok(records);
            }
        }
        Err(self.bad_response(
            kind.path(),
            format!(
                "a filter for a few e-mails still filled all {MAX_FILTER_PAGE} pages; the filter \
                 was not applied as written"
            ),
        ))
    }

    /// Every record with this e-mail through the plain `email=` parameter,
    /// which carries any character the URL encoding can.
    async fn fetch_by_email(&self, kind: Kind, value: &str) -> Result<Vec<Record>, ConnectorError> {
        let mut records = Vec::new();
        for page in 1..=MAX_FILTER_PAGE {
            let mut spec = RequestSpec::get(self.http.endpoint(kind.path())).query("email", value);
            if page > 1 {
                spec = spec.query("page", page.to_string());
            }
            let reply = self.send(&spec).await?;
            let batch = self.decode_list(kind, &reply)?;
            let more = batch.len() >= FILTER_PAGE_SIZE && names_next_page(&reply);
            records.extend(batch);
            if !more {
                return Ok(records);
            }
        }
        Err(self.bad_response(
            kind.path(),
            format!("one e-mail still had more than {MAX_FILTER_PAGE} pages of users"),
        ))
    }

    /// The whole list, 100 a page, until a short page or one that names no
    /// next page.
    async fn fetch_all(&self, kind: Kind) -> Result<Vec<Record>, ConnectorError> {
        let mut records = Vec::new();
        for page in 1..=MAX_LIST_PAGES {
            let spec = RequestSpec::get(self.http.endpoint(kind.path()))
                .query("per_page", LIST_PAGE_SIZE.to_string())
                .query("page", page.to_string());
            let reply = self.send(&spec).await?;
            let batch = self.decode_list(kind, &reply)?;
            let more = batch.len() >= LIST_PAGE_SIZE && names_next_page(&reply);
            records.extend(batch);
            if !more {
                return Ok(records);
            }
        }
        Err(self.bad_response(
            kind.path(),
            format!("the listing still went on after {MAX_LIST_PAGES} pages"),
        ))
    }

    /// One record by id; `None` on 404.
    async fn fetch_one(&self, kind: Kind, id: u64) -> Result<Option<Record>, ConnectorError> {
        // `id` is a number: only digits reach the path.
        let path = format!("{}/{id}", kind.path());
        let spec = RequestSpec::get(self.http.endpoint(&path)).accept_status(StatusCode::NOT_FOUND);
        let reply = self.send(&spec).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let integration = self.http.integration();
        Ok(Some(match kind {
            Kind::Requester => reply.json::<wire::OneRequester>(integration)?.requester,
            Kind::Agent => reply.json::<wire::OneAgent>(integration)?.agent,
        }))
    }

    /// Looks `ids` and `emails` up in one list with the fewest requests:
    /// the whole list when `list` is set, else one request per id and
    /// packed filters (or `email=` for values a filter cannot carry). A
    /// filter the server finds too large is asked in halves; an id or an
    /// e-mail whose request alone is too large goes into `refused`.
    async fn read(
        &self,
        kind: Kind,
        list: bool,
        ids: &BTreeSet<u64>,
        emails: &BTreeMap<String, (&str, Placement)>,
        seen: &mut Seen,
        refused: &mut Refused,
    ) -> Result<(), ConnectorError> {
        if ids.is_empty() && emails.is_empty() {
            return Ok(());
        }
        if list {
            let records = self.fetch_all(kind).await?;
            seen.add(kind, records);
            return Ok(());
        }
        for &id in ids {
            match self.fetch_one(kind, id).await {
                Ok(Some(record)) => seen.add(kind, vec![record]),
                Ok(None) => {}
                Err(error) => {
                    refused
                        .ids
                        .insert(id, refused_alone(System::Freshservice, error)?);
                }
            }
        }
        let in_filter: Vec<&str> = emails
            .values()
            .filter(|(_, placement)| *placement == Placement::Filter)
            .map(|(value, _)| *value)
            .collect();
        let (filters, too_long) = query::pack(kind.email_field(), &in_filter);
        let mut batches = Batches::new(
            System::Freshservice,
            filters.into_iter().map(|filter| filter.values),
        );
        while let Some(batch) = batches.next_batch() {
            let filter = query::filter(kind.email_field(), &batch);
            match self.fetch_filter(kind, &filter).await {
                Ok(records) => seen.add(kind, records),
                Err(error) => batches.failed(batch, error)?,
            }
        }
        for (value, refusal) in batches.into_refused() {
            refused
                .emails
                .insert(folded(value), Lookup::Refused(refusal));
        }
        let alone = emails
            .values()
            .filter(|(_, placement)| *placement == Placement::Alone)
            .map(|(value, _)| *value)
            .chain(too_long);
        for value in alone {
            match self.fetch_by_email(kind, value).await {
                Ok(records) => seen.add(kind, records),
                Err(error) => {
                    let lookup = refused_alone(System::Freshservice, error)?;
                    refused.emails.insert(folded(value), lookup);
                }
            }
        }
        Ok(())
    }
}

/// Checks and canonicalises a stored Freshservice id: a positive decimal
/// integer, written without sign, spaces or other characters.
pub fn parse_id(value: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
    parse_number(value).map(|number| ItsmUserId::new(number.to_string()))
}

/// [`parse_id`] as the number that goes into a path.
fn parse_number(value: &str) -> Result<u64, InvalidItsmUserId> {
    if value.is_empty() {
        return Err(invalid(
            "the id is empty; a Freshservice id is a positive whole number",
        ));
    }
    if let Some(bad) = value.chars().find(|c| !c.is_ascii_digit()) {
        return Err(invalid(format!(
            "the id contains {bad:?}; a Freshservice id is a positive whole number written with \
             the digits 0-9 only"
        )));
    }
    match value.parse::<u64>() {
        Ok(0) => Err(invalid(
            "the id is 0; a Freshservice id is a positive whole number",
        )),
        Ok(number) => Ok(number),
        Err(_) => Err(invalid(format!(
            "the id has {} digits, more than any Freshservice id can have",
            value.len()
        ))),
    }
}

/// An id this system's format refuses, with the reason the administrator reads.
fn invalid(why: impl Into<String>) -> InvalidItsmUserId {
    InvalidItsmUserId::new(System::Freshservice, why)
}

/// How long to hold the next request back, given an answer's
/// `X-Ratelimit-Remaining` and `X-Ratelimit-Total`. Once fewer than 5 or
/// fewer than a tenth of the minute's requests remain, requests are spread
/// over the window (`window / (remaining + 1)` apart), so the budget lasts
/// until the window turns and the API never has to answer 429; no single
/// pause exceeds a sixth of the window, so a run is never held up long.
/// `None` while plenty remain or when the server does not say.
pub fn rate_limit_pause(
    remaining: Option<u64>,
    total: Option<u64>,
    window: Duration,
) -> Option<Duration> {
    let remaining = remaining?;
    let low = remaining < 5 || total.is_some_and(|total| remaining.saturating_mul(10) < total);
    if !low {
        return None;
    }
    let spread = window / u32::try_from(remaining.saturating_add(1)).unwrap_or(u32::MAX);
    Some(spread.min(window / 6))
}

fn header_number(reply: &Reply, name: &str) -> Option<u64> {
    reply.header_str(name)?.trim().parse().ok()
}

/// Whether a `Link` header names a next page.
fn names_next_page(reply: &Reply) -> bool {
    reply.header_str("link").is_some_and(|link| {
        link.split(',')
            .any(|part| part.replace(' ', "").contains("rel=\"next\""))
    })
}

/// Converts a record to the domain's user. `None` without a usable id: such
/// a record can be neither matched by id nor reported.
fn to_user(record: &Record, kind: Kind) -> Option<ItsmUser> {
    let id = record.id().filter(|id| *id > 0)?;
    let first_name = record.text("first_name").map(str::to_owned);
    let last_name = record.text("last_name").map(str::to_owned);
    // Freshservice has no name field: the full name is the two joined.
    let parts: Vec<&str> = [first_name.as_deref(), last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let full_name = (!parts.is_empty()).then(|| parts.join(" "));
    Some(ItsmUser {
        itsm_user_id: ItsmUserId::new(id.to_string()),
        external_id: record.text(kind.email_field()).map(ExternalId::new),
        // An unreadable `active` is not evidence of an inactive account.
        active: record.flag("active").unwrap_or(true),
        first_name,
        last_name,
        full_name,
        account_type: None,
        time_zone: None,
        inactive_reason: None,
        record_kind: Some(kind.name().to_owned()),
    })
}

/// The key an e-mail is deduplicated by; agrees with [`ExternalId::matches`].
fn folded(value: &str) -> String {
    query::sendable(value).to_ascii_lowercase()
}

/// The ids and folded e-mails of one `lookup` call whose request alone was
/// too large: refused, and not asked again among agents.
#[derive(Default)]
struct Refused {
    ids: HashMap<u64, Lookup>,
    emails: HashMap<String, Lookup>,
}

/// Every record one `lookup` call read, by list and id, with the folded
/// e-mails indexed so that matching 10,000 keys stays linear.
#[derive(Default)]
struct Seen {
    requesters: BTreeMap<u64, ItsmUser>,
    agents: BTreeMap<u64, ItsmUser>,
    requester_emails: HashMap<String, BTreeSet<u64>>,
    agent_emails: HashMap<String, BTreeSet<u64>>,
}

impl Seen {
    fn add(&mut self, kind: Kind, records: Vec<Record>) {
        for record in records {
            let Some(user) = to_user(&record, kind) else {
                tracing::warn!(
                    kind = kind.name(),
                    "Freshservice returned a record without a usable id"
                );
                continue;
            };
            let id = record.id().unwrap_or_default();
            let (users, emails) = match kind {
                Kind::Requester => (&mut self.requesters, &mut self.requester_emails),
                Kind::Agent => (&mut self.agents, &mut self.agent_emails),
            };
            if let Some(email) = &user.external_id {
                emails.entry(folded(email.as_str())).or_default().insert(id);
            }
            users.insert(id, user);
        }
    }

    fn by_id(&self, id: u64) -> Option<&ItsmUser> {
        self.requesters.get(&id).or_else(|| self.agents.get(&id))
    }

    /// Users of one list whose e-mail is the key, checked again here.
    fn by_email(&self, kind: Kind, key: &ExternalId) -> Vec<ItsmUser> {
        let (users, emails) = match kind {
            Kind::Requester => (&self.requesters, &self.requester_emails),
            Kind::Agent => (&self.agents, &self.agent_emails),
        };
        emails
            .get(&folded(key.as_str()))
            .into_iter()
            .flatten()
            .filter_map(|id| users.get(id))
            .filter(|user| {
                user.external_id
                    .as_ref()
                    .is_some_and(|found| key.matches(found.as_str()))
            })
            .cloned()
            .collect()
    }

    /// Requesters first; an e-mail no requester has is an agent's or nobody's.
    fn for_email(&self, key: &ExternalId) -> Lookup {
        let mut users = self.by_email(Kind::Requester, key);
        if users.is_empty() {
            users = self.by_email(Kind::Agent, key);
        }
        match users.len() {
            0 => Lookup::NotFound { note: None },
            1 => Lookup::Found(users.remove(0)),
            _ => Lookup::Ambiguous(users),
        }
    }
}

impl Connector for Client {
    /// The bot's agent from `agents/me` (see `readiness.rs`): no request
    /// where `whoami` already asked in this run.
    async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        readiness::probe(self, input).await
    }

    async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        let keys: BTreeSet<&LookupKey> = keys.iter().collect();
        let mut lookups = Lookups::default();
        let mut ids: BTreeSet<u64> = BTreeSet::new();
        // Folded value -> value sent: `Pat@Acme.com` and `pat@acme.com` are
        // one request.
        let mut emails: BTreeMap<String, (&str, Placement)> = BTreeMap::new();
        // What each key asks for, once checked.
        let mut wanted: Vec<(&LookupKey, Option<u64>)> = Vec::new();
        for key in &keys {
            match key {
                LookupKey::ItsmUserId(id) => match parse_number(id.as_str().trim()) {
                    Ok(number) => {
                        ids.insert(number);
                        wanted.push((key, Some(number)));
                    }
                    Err(reason) => lookups.insert((*key).clone(), Lookup::unsendable_id(&reason)),
                },
                LookupKey::ExternalId(external_id) => {
                    let value = external_id.as_str();
                    match query::check_value(value) {
                        Ok(placement) => {
                            emails.insert(folded(value), (query::sendable(value), placement));
                            wanted.push((key, None));
                        }
                        Err(refused) => lookups.insert((*key).clone(), Lookup::Refused(refused)),
                    }
                }
            }
        }

        let list = ids.len() + emails.len() > LIST_WHEN_KEYS_OVER;
        let mut seen = Seen::default();
        let mut refused = Refused::default();
        self.read(
            Kind::Requester,
            list,
            &ids,
            &emails,
            &mut seen,
            &mut refused,
        )
        .await?;

        // What no requester answered, and was not refused, is looked up
        // among agents.
        let agent_ids: BTreeSet<u64> = ids
            .iter()
            .copied()
            .filter(|id| !seen.requesters.contains_key(id) && !refused.ids.contains_key(id))
            .collect();
        let agent_emails: BTreeMap<String, (&str, Placement)> = emails
            .iter()
            .filter(|(folded, (value, _))| {
                !refused.emails.contains_key(*folded)
                    && seen
                        .by_email(Kind::Requester, &ExternalId::new(*value))
                        .is_empty()
            })
            .map(|(folded, entry)| (folded.clone(), *entry))
            .collect();
        self.read(
            Kind::Agent,
            list,
            &agent_ids,
            &agent_emails,
            &mut seen,
            &mut refused,
        )
        .await?;

        for (key, id) in wanted {
            let outcome = match (key, id) {
                (LookupKey::ItsmUserId(_), Some(id)) => {
                    match (refused.ids.get(&id), seen.by_id(id)) {
                        (Some(refusal), _) => refusal.clone(),
                        (None, Some(user)) => Lookup::Found(user.clone()),
                        (None, None) => Lookup::NotFound { note: None },
                    }
                }
                (LookupKey::ExternalId(external_id), _) => {
                    match refused.emails.get(&folded(external_id.as_str())) {
                        Some(refusal) => refusal.clone(),
                        None => seen.for_email(external_id),
                    }
                }
                (LookupKey::ItsmUserId(_), None) => continue,
            };
            lookups.insert(key.clone(), outcome);
        }
        Ok(lookups)
    }

    /// The agent the API key belongs to; a 404 means Freshservice cannot
    /// say. The answer is kept for the readiness probe.
    async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        let me = self.fetch_me(&[StatusCode::NOT_FOUND]).await?;
        // Where the answer is no agent, the system cannot say (never a
        // reason to stop the check).
        let owner = match &me {
            Me::Agent(agent) => {
                to_user(agent, Kind::Agent).map_or(CredentialOwner::Unknown, CredentialOwner::Known)
            }
            Me::Status(_) | Me::Unreadable(_) => CredentialOwner::Unknown,
        };
        self.remember_me(me);
        Ok(owner)
    }

    fn http(&self) -> &HttpClient {
        &self.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_decimal_numbers() {
        assert_eq!(parse_id("19000234501"), Ok(ItsmUserId::new("19000234501")));
        assert_eq!(parse_id("007"), Ok(ItsmUserId::new("7")));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1 2",
            "12a",
            "1.0",
            "99999999999999999999999",
        ] {
            let message = parse_id(bad).expect_err(bad).to_string();
            assert!(message.contains("id"), "{message}");
            assert!(!message.contains('\n'));
        }
    }

    #[test]
    fn the_pause_starts_before_the_limit_and_grows_as_it_nears() {
        let minute = Duration::from_secs(60);
        assert_eq!(rate_limit_pause(Some(400), Some(500), minute), None);
        assert_eq!(rate_limit_pause(Some(50), Some(500), minute), None);
        assert_eq!(rate_limit_pause(None, Some(500), minute), None);
        let low = rate_limit_pause(Some(49), Some(500), minute).expect("under a tenth");
        assert_eq!(low, minute / 50);
        assert_eq!(
            rate_limit_pause(Some(0), Some(500), minute),
            Some(minute / 6)
        );
        assert_eq!(rate_limit_pause(Some(4), None, minute), Some(minute / 6));
        // A small plan: 5 of 40 left is more than a tenth but still low.
        assert!(rate_limit_pause(Some(4), Some(40), minute).is_some());
        assert_eq!(rate_limit_pause(Some(5), Some(40), minute), None);
    }
}
