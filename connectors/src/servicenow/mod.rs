//! ServiceNow connector: looks users up in `sys_user` through the Table API,
//! many at a time (`sys_idIN...`, `<lookup field>IN...`), tells who the
//! basic-auth or `oauth_password` credentials belong to, and proves the bot ready (`readiness`:
//! its roles, a read of the ticket table, its record's documented settings).
//!
//! Never trusts the server's filter (an instance silently drops a condition
//! on an unknown field and returns every row): each returned record is
//! checked against the keys again. Never sends a value that could change
//! the query (see [`query::check_value`]), never sends the same request
//! twice in one call, and never lets one value too long for the instance's
//! request limit make it unavailable (see [`crate::batches`]).

pub mod query;
mod readiness;
pub mod recording;
pub mod sim;
mod sim_oauth;
mod sim_tables;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use reqwest::{Method, StatusCode};

use crate::batches::{Batches, refused_alone};
use crate::http::{Reply, RequestSpec};
use crate::{
    BotSettingProblem, Connector, ConnectorError, ConnectorSettings, CredentialOwner, Credentials,
    ExternalId, GrantKind, HttpClient, InvalidItsmUserId, ItsmUser, ItsmUserId, Lookup, LookupKey,
    Lookups, OAuthGrant, Readiness, ReadinessInput, ReadinessSettings, System, UnsafeValue,
};
use query::Placement;
use wire::{ErrorBody, Record, TableList};

/// The unversioned path answers with the latest API (v2), where a query
/// with no match is `200 {"result":[]}` rather than v1's 404.
const TABLE_PATH: &str = "/api/now/table/sys_user";

/// What a check needs, and no more: the 5 MB answer cap of an instance is
/// far away when only these come back. The last four are the bot's
/// documented settings (BOT_SETTING), read from the same record so they
/// cost no request of their own.
const FIELDS: [&str; 12] = [
    "sys_id",
    "user_name",
    "email",
    "first_name",
    "last_name",
    "name",
    "active",
    "locked_out",
    "time_zone",
    "date_format",
    "time_format",
    "web_service_access_only",
];

/// Instances and the proxies in front of them refuse long URLs (414) at
/// limits nobody documents; about 8 KB is common, so batches stay well
/// below. A value too long for any batch goes alone, and is refused where
/// even that passes the system's request limit.
const MAX_URL_BYTES: usize = 6_000;

/// Room kept in [`MAX_URL_BYTES`] for `sysparm_limit` and `sysparm_offset`,
/// whose values are not known when a batch is cut.
const PAGING_ROOM: usize = 48;

/// Pages read for one query before giving up: a query for a few hundred
/// keys that fills this many pages was not applied as written.
const MAX_PAGES: usize = 5;

/// The largest `sysparm_limit` sent; a batch is cut so that it fits.
const MAX_PAGE_SIZE: usize = 1_000;

/// Why a locked-out account counts as inactive, for the report.
const LOCKED_OUT: &str = "locked out";

pub struct Client {
    http: HttpClient,
    /// The field that holds the External ID (`lookup_by`), checked to be a
    /// plain field name.
    lookup_field: String,
    /// `sysparm_fields`: [`FIELDS`] plus the lookup field when it is another.
    fields: String,
    /// `[connectors.readiness]`: the roles and the table the probe checks.
    readiness: ReadinessSettings,
    /// The documented settings that are off, per record read in this run
    /// (BOT_SETTING). The check asks only about the bot's record, after
    /// the lookups read it; records whose settings are all in order are
    /// not kept.
    settings_off: Mutex<HashMap<ItsmUserId, Vec<BotSettingProblem>>>,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        let lookup_field = settings.lookup_field.trim().to_owned();
        if !query::is_field_name(&lookup_field) {
            return Err(ConnectorError::Setup {
                integration: settings.integration,
                detail: format!(
                    "lookup_by = {:?} is not a ServiceNow field name: use lower-case letters, \
                     digits and `_` only, e.g. \"user_name\" or \"email\"",
                    settings.lookup_field
                ),
            });
        }
        let mut fields = FIELDS.join(",");
        if !FIELDS.contains(&lookup_field.as_str()) {
            fields.push(',');
            fields.push_str(&lookup_field);
        }
        Ok(Client {
            http: HttpClient::new(
                settings.integration,
                settings.base_url,
                settings.credentials,
                settings.http,
            )?
            .with_max_request_line(System::ServiceNow.max_request_line()),
            lookup_field,
            fields,
            readiness: settings.readiness,
            settings_off: Mutex::new(HashMap::new()),
        })
    }

    /// Keeps what is off among the documented settings of each record, so
    /// that [`Connector::bot_setting_problems`] can answer for the bot.
    fn note_settings(&self, records: &[Record]) {
        let mut settings_off = self
            .settings_off
            .lock()
            .expect("the settings lock is never poisoned: no code panics under it");
        for record in records {
            let Some(id) = record.text("sys_id").and_then(|id| parse_sys_id(id).ok()) else {
                continue;
            };
            let problems = readiness::setting_problems(record);
            if problems.is_empty() {
                settings_off.remove(&id);
            } else {
                settings_off.insert(id, problems);
            }
        }
    }

    /// The request for one page of `sysparm_query`. Display values stay off:
    /// with them `active` would be a localised word and references objects.
    fn page_request(&self, sysparm_query: &str, limit: usize, offset: usize) -> RequestSpec {
        let mut spec = RequestSpec::get(self.http.endpoint(TABLE_PATH))
            .query("sysparm_query", sysparm_query)
            .query("sysparm_fields", self.fields.as_str())
            .query("sysparm_display_value", "false")
            .query("sysparm_exclude_reference_link", "true")
            .query("sysparm_limit", limit.to_string())
            // v1 instances answer an empty result with 404; read it here.
            .accept_status(StatusCode::NOT_FOUND);
        if offset > 0 {
            spec = spec.query("sysparm_offset", offset.to_string());
        }
        spec
    }

    /// Cuts `values` into batches whose `<field>IN...` query keeps the whole
    /// URL under [`MAX_URL_BYTES`] and whose rows fit in one
    /// [`MAX_PAGE_SIZE`] page.
    fn in_list_batches<'a>(&self, field: &str, values: &[&'a str]) -> Vec<Vec<&'a str>> {
        let fixed = self.page_request("", 0, 0);
        let mut url = fixed.url.clone();
        url.query_pairs_mut().extend_pairs(&fixed.query);
        let budget = MAX_URL_BYTES.saturating_sub(url.as_str().len() + PAGING_ROOM);
        let start = query::encoded_len(&format!("{field}IN"));
        let comma = query::encoded_len(",");

        let mut batches = Vec::new();
        let mut batch: Vec<&str> = Vec::new();
        let mut length = start;
        for value in values {
            let cost = query::encoded_len(value);
            let full = length + comma + cost > budget || batch.len() >= MAX_PAGE_SIZE / 2;
            if full && !batch.is_empty() {
                batches.push(std::mem::take(&mut batch));
                length = start;
            }
            // A value too long for any batch goes alone.
            length += cost + if batch.is_empty() { 0 } else { comma };
            batch.push(value);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        batches
    }

    /// Reads every `<field>IN...` batch of `values` into `answers`, halving
    /// a batch the instance finds too large. `by_id` stops a `sys_idIN`
    /// query once every id came back. Returns the values refused as too
    /// long, each with its reason.
    async fn read_in_lists<'a>(
        &self,
        field: &str,
        values: &[&'a str],
        by_id: bool,
        answers: &mut Answers,
    ) -> Result<Vec<(&'a str, UnsafeValue)>, ConnectorError> {
        let mut batches = Batches::new(System::ServiceNow, self.in_list_batches(field, values));
        while let Some(batch) = batches.next_batch() {
            let sysparm_query = query::in_list(field, batch.iter().copied());
            let fetched = self
                .fetch(&sysparm_query, batch.len(), |records| {
                    by_id && all_ids_present(&sysparm_query, records)
                })
                .await;
            match fetched {
                Ok(records) => answers.add(records),
                Err(error) => batches.failed(batch, error)?,
            }
        }
        Ok(batches.into_refused())
    }

    /// Every record `sysparm_query` returns, page by page. `expected` sizes
    /// the page (keys asked for, with room for duplicates); `settled` stops
    /// early once the records already read answer every key. Pages are read
    /// on while one comes back full or names a next page, since the limit is
    /// applied before ACLs and a short page can still have more behind it.
    async fn fetch(
        &self,
        sysparm_query: &str,
        expected: usize,
        settled: impl Fn(&[Record]) -> bool,
    ) -> Result<Vec<Record>, ConnectorError> {
        let limit = (expected * 2).clamp(10, MAX_PAGE_SIZE);
        let mut records = Vec::new();
        for page in 0..MAX_PAGES {
            let reply = self
                .http
                .send(&self.page_request(sysparm_query, limit, page * limit))
                .await?;
            if reply.status == StatusCode::NOT_FOUND {
                self.read_not_found(&reply)?;
                return Ok(records);
            }
            let list: TableList = reply.json(self.http.integration())?;
            let count = list.result.len();
            self.note_settings(&list.result);
            records.extend(list.result);
            if !has_next_page(&reply, page * limit, count, limit) || settled(&records) {
                return Ok(records);
            }
        }
        Err(ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: Method::GET,
            path: self.http.endpoint(TABLE_PATH).path().to_owned(),
            detail: format!(
                "a query for {expected} users still had more than {MAX_PAGES} pages of {limit} \
                 records; the instance may have ignored the filter (check lookup_by)"
            ),
        })
    }

    /// A 404 on the list is v1's "no match" when it carries ServiceNow's
    /// "No Record found"; anything else means `base_url` is not an instance.
    fn read_not_found(&self, reply: &Reply) -> Result<(), ConnectorError> {
        let no_record = reply
            .json::<ErrorBody>(self.http.integration())
            .ok()
            .and_then(|body| body.error.message)
            .is_some_and(|message| message.trim().eq_ignore_ascii_case("No Record found"));
        if no_record {
            return Ok(());
        }
        Err(ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: reply.method.clone(),
            path: reply.path.clone(),
            detail: "HTTP 404 without ServiceNow's error body: check that base_url is the \
                     instance's address"
                .into(),
        })
    }
}

/// Checks and canonicalises a stored sys_id: 32 hex characters, any case in,
/// lower case out, so that ids compare exactly.
pub fn parse_sys_id(value: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(
            "the sys_id is empty; a ServiceNow sys_id has 32 hexadecimal characters",
        ));
    }
    if let Some(bad) = value.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "the sys_id contains {bad:?}; a ServiceNow sys_id has only the characters 0-9 and a-f"
        )));
    }
    if value.len() != 32 {
        return Err(invalid(format!(
            "the sys_id has {} characters; a ServiceNow sys_id has exactly 32",
            value.len()
        )));
    }
    Ok(ItsmUserId::new(value.to_ascii_lowercase()))
}

/// An id this system's format refuses, with the reason the administrator reads.
fn invalid(why: impl Into<String>) -> InvalidItsmUserId {
    InvalidItsmUserId::new(System::ServiceNow, why)
}

/// Whether a list answer of `count` rows, read from `offset` with
/// `sysparm_limit=limit`, has another page behind it. The `Link` header,
/// where sent, says so; else `X-Total-Count`; else a full page may have a
/// successor (the limit is applied before ACLs, so a short page is not
/// proof of the end, but an empty one is).
fn has_next_page(reply: &Reply, offset: usize, count: usize, limit: usize) -> bool {
    if count == 0 {
        return false;
    }
    if reply.header_str("link").is_some() {
        return names_next_page(reply);
    }
    match reply
        .header_str("x-total-count")
        .and_then(|t| t.trim().parse::<usize>().ok())
    {
        Some(total) => offset + count < total,
        None => count >= limit,
    }
}

/// Whether a `Link` header names a next page.
fn names_next_page(reply: &Reply) -> bool {
    reply.header_str("link").is_some_and(|link| {
        link.split(',')
            .any(|part| part.replace(' ', "").contains("rel=\"next\""))
    })
}

/// Converts a record to the domain's user. `None` without a usable sys_id:
/// such a record can be neither matched by id nor reported.
fn to_user(record: &Record, lookup_field: &str) -> Option<ItsmUser> {
    let itsm_user_id = parse_sys_id(record.text("sys_id")?).ok()?;
    let locked_out = record.flag("locked_out") == Some(true);
    // An unreadable `active` is not evidence of an inactive account: only
    // what the system says inactive is reported so.
    let active = record.flag("active").unwrap_or(true) && !locked_out;
    let text = |field: &str| record.text(field).map(str::to_owned);
    Some(ItsmUser {
        itsm_user_id,
        external_id: record.text(lookup_field).map(ExternalId::new),
        active,
        first_name: text("first_name"),
        last_name: text("last_name"),
        full_name: text("name"),
        account_type: None,
        time_zone: None,
        inactive_reason: locked_out.then(|| LOCKED_OUT.to_owned()),
        record_kind: None,
    })
}

/// The key an External ID is indexed and deduplicated by; agrees with
/// [`ExternalId::matches`].
fn folded(value: &str) -> String {
    query::sendable(value).to_ascii_lowercase()
}

/// Every record one `lookup` call read, indexed for re-checking the keys.
struct Answers {
    lookup_field: String,
    index: crate::answers::Answers,
    /// Folded External IDs of records without a usable sys_id.
    without_sys_id: HashSet<String>,
    records: usize,
    records_with_field: usize,
}

impl Answers {
    fn new(lookup_field: &str) -> Self {
        Answers {
            lookup_field: lookup_field.to_owned(),
            index: crate::answers::Answers::default(),
            without_sys_id: HashSet::new(),
            records: 0,
            records_with_field: 0,
        }
    }

    fn add(&mut self, records: Vec<Record>) {
        for record in records {
            self.records += 1;
            if record.has(&self.lookup_field) {
                self.records_with_field += 1;
            }
            let external = record.text(&self.lookup_field).map(folded);
            match to_user(&record, &self.lookup_field) {
                Some(user) => self.index.add(user),
                None => {
                    tracing::warn!("ServiceNow returned a sys_user record without a usable sys_id");
                    if let Some(external) = external {
                        self.without_sys_id.insert(external);
                    }
                }
            }
        }
    }

    fn for_id(&self, id: &ItsmUserId) -> Lookup {
        self.index.for_id(id)
    }

    fn for_external_id(&self, external_id: &ExternalId) -> Lookup {
        match self.index.for_external_id(external_id) {
            Lookup::NotFound { .. } => Lookup::NotFound {
                note: self.not_found_note(&folded(external_id.as_str())),
            },
            settled => settled,
        }
    }

    fn not_found_note(&self, key: &str) -> Option<String> {
        if self.without_sys_id.contains(key) {
            return Some(
                "a record with this value came back without a readable sys_id: check the \
                 account's read access to sys_user"
                    .into(),
            );
        }
        if self.records > 0 && self.records_with_field == 0 {
            return Some(format!(
                "ServiceNow returned records without the field `{}`: check lookup_by and the \
                 account's read access to that field",
                self.lookup_field
            ));
        }
        None
    }
}

impl Connector for Client {
    async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        readiness::probe(self, input).await
    }

    /// The bot's `time_zone`, `date_format`, `time_format` and
    /// `web_service_access_only`, from the record the lookups read (no
    /// request of its own).
    fn bot_setting_problems(&self, bot: &ItsmUser) -> Vec<BotSettingProblem> {
        self.settings_off
            .lock()
            .expect("the settings lock is never poisoned: no code panics under it")
            .get(&bot.itsm_user_id)
            .cloned()
            .unwrap_or_default()
    }

    async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        let keys: BTreeSet<&LookupKey> = keys.iter().collect();
        let mut lookups = Lookups::default();
        let mut ids: BTreeSet<ItsmUserId> = BTreeSet::new();
        // Folded value -> value sent: `Pat.Lee` and `pat.lee` are one request.
        let mut in_list: BTreeMap<String, &str> = BTreeMap::new();
        let mut alone: BTreeMap<String, &str> = BTreeMap::new();
        for key in &keys {
            match key {
                LookupKey::ItsmUserId(id) => match parse_sys_id(id.as_str()) {
                    Ok(id) => {
                        ids.insert(id);
                    }
                    Err(reason) => lookups.insert((*key).clone(), Lookup::unsendable_id(&reason)),
                },
                LookupKey::ExternalId(external_id) => {
                    let value = external_id.as_str();
                    match query::check_value(value) {
                        Ok(Placement::InList) => {
                            in_list.insert(folded(value), query::sendable(value));
                        }
                        Ok(Placement::Alone) => {
                            alone.insert(folded(value), query::sendable(value));
                        }
                        Err(refused) => lookups.insert((*key).clone(), Lookup::Refused(refused)),
                    }
                }
            }
        }

        let mut answers = Answers::new(&self.lookup_field);
        let id_values: Vec<&str> = ids.iter().map(ItsmUserId::as_str).collect();
        let refused_ids: HashMap<&str, UnsafeValue> = self
            .read_in_lists("sys_id", &id_values, true, &mut answers)
            .await?
            .into_iter()
            .collect();
        let values: Vec<&str> = in_list.values().copied().collect();
        // Folded value -> why it was not looked up.
        let mut refused_values: HashMap<String, Lookup> = self
            .read_in_lists(&self.lookup_field, &values, false, &mut answers)
            .await?
            .into_iter()
            .map(|(value, refusal)| (folded(value), Lookup::Refused(refusal)))
            .collect();
        for value in alone.values() {
            let sysparm_query = query::equals(&self.lookup_field, value);
            match self.fetch(&sysparm_query, 1, |_| false).await {
                Ok(records) => answers.add(records),
                Err(error) => {
                    let refused = refused_alone(System::ServiceNow, error)?;
                    refused_values.insert(folded(value), refused);
                }
            }
        }

        for key in keys {
            if lookups.get(key).is_some() {
                continue;
            }
            let outcome = match key {
                LookupKey::ItsmUserId(id) => match parse_sys_id(id.as_str()) {
                    Ok(id) => match refused_ids.get(id.as_str()) {
                        Some(refusal) => Lookup::Refused(refusal.clone()),
                        None => answers.for_id(&id),
                    },
                    Err(_) => continue, // refused above
                },
                LookupKey::ExternalId(external_id) => {
                    match refused_values.get(&folded(external_id.as_str())) {
                        Some(refused) => refused.clone(),
                        None => answers.for_external_id(external_id),
                    }
                }
            };
            lookups.insert(key.clone(), outcome);
        }
        Ok(lookups)
    }

    /// Basic credentials name a `user_name`; a bearer token names nobody the
    /// Table API can tell, so no request is spent on it.
    async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        let username = match self.http.credentials() {
            Credentials::Basic { username, .. } => username.clone(),
            // The password grant's tokens act as its service account.
            Credentials::OAuth(OAuthGrant {
                kind: GrantKind::Password { username, .. },
                ..
            }) => username.clone(),
            _ => return Ok(CredentialOwner::Unknown),
        };
        if query::check_value(&username).is_err() {
            return Ok(CredentialOwner::Unknown);
        }
        let sysparm_query = query::equals("user_name", query::sendable(&username));
        let records = match self.fetch(&sysparm_query, 1, |_| false).await {
            Ok(records) => records,
            // A user name too long to ask about names nobody the check can
            // compare; it must not make the system unavailable.
            Err(error) if error.too_large().is_some() => return Ok(CredentialOwner::Unknown),
            Err(error) => return Err(error),
        };
        let owner = ExternalId::new(username);
        // Keyed by sys_id: a record read twice is still one account.
        let mut owners: BTreeMap<ItsmUserId, ItsmUser> = records
            .iter()
            .filter(|record| {
                record
                    .text("user_name")
                    .is_some_and(|found| owner.matches(found))
            })
            .filter_map(|record| to_user(record, &self.lookup_field))
            .map(|user| (user.itsm_user_id.clone(), user))
            .collect();
        Ok(match (owners.len(), owners.pop_first()) {
            (1, Some((_, user))) => CredentialOwner::Known(user),
            _ => CredentialOwner::Unknown,
        })
    }

    fn http(&self) -> &HttpClient {
        &self.http
    }
}

/// Whether every id of a `sys_idIN...` query is among `records`: a sys_id is
/// unique, so no further page can add anything.
fn all_ids_present(sysparm_query: &str, records: &[Record]) -> bool {
    let found: HashSet<String> = records
        .iter()
        .filter_map(|record| record.text("sys_id"))
        .map(str::to_ascii_lowercase)
        .collect();
    sysparm_query
        .strip_prefix("sys_idIN")
        .is_some_and(|list| list.split(',').all(|id| found.contains(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_ids_are_checked_and_lower_cased() {
        assert_eq!(
            parse_sys_id("6816F79CC0A8016401C5A33BE04BE441"),
            Ok(ItsmUserId::new("6816f79cc0a8016401c5a33be04be441"))
        );
        for bad in [
            "",
            "6816f79cc0a8016401c5a33be04be44",
            "6816f79cc0a8016401c5a33be04be4411",
            "6816f79cc0a8016401c5a33be04be44g",
            "6816f79cc0a8016401c5a33be04be44^",
        ] {
            let message = parse_sys_id(bad).expect_err(bad).to_string();
            assert!(message.contains("sys_id"), "{message}");
        }
    }
}
