//! Salesforce connector: looks users up with SOQL on `User` through the REST
//! query resource, many at a time (`WHERE Id IN (...)`, `WHERE Username IN
//! (...)`), follows `nextRecordsUrl`, asks `/services/oauth2/userinfo`
//! who the token belongs to, and proves the bot ready (`readiness`: the
//! configured object's describe).
//!
//! Never puts a value into SOQL except through [`query::literal`], never
//! sends a malformed Id (see [`id::parse_id`]), never follows a
//! `nextRecordsUrl` to another origin (the token would go with it), never
//! sends the same request twice in one call, and never trusts the server's
//! filter: every returned record is checked against the keys again. A value
//! too long for Salesforce's request limit is refused, never a reason to
//! give the system up (see [`crate::batches`]).

pub mod id;
pub mod query;
mod readiness;
pub mod recording;
pub mod sim;
mod sim_describe;
mod sim_jwt;
mod sim_soql;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use reqwest::{Method, StatusCode};
use tokio::sync::OnceCell;
use url::Url;

use crate::answers::Answers;
use crate::batches::Batches;
use crate::http::{Reply, RequestSpec, Verdict};
use crate::{
    Connector, ConnectorError, ConnectorSettings, CredentialOwner, Credentials, ExternalId,
    GrantKind, HttpClient, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, OAuthGrant, Readiness,
    ReadinessInput, ReadinessSettings, System, UnsafeValue,
};
pub use id::parse_id;

/// The REST API version the connector speaks; `nextRecordsUrl` names its own.
pub const QUERY_PATH: &str = "/services/data/v60.0/query";

/// The OpenID Connect user info of the token's user.
pub const USERINFO_PATH: &str = "/services/oauth2/userinfo";

/// Salesforce answers 414 when the URI passes 16,384 bytes and 431 when URI
/// and headers together do: a request line past it is never sent.
pub const MAX_REQUEST_LINE: usize = 16_384;

/// What a batch's URI is cut to: room below [`MAX_REQUEST_LINE`] for the
/// headers and proxies.
const MAX_URI_BYTES: usize = 14_000;

/// Values in one `IN` list at most: one default batch of 2,000 rows holds
/// every answer, since Ids and Usernames are unique.
const MAX_VALUES_PER_QUERY: usize = 2_000;

/// Pages read for one query before the answer is called broken. Pages hold
/// at least 200 rows, so a query for a few hundred unique keys that needs
/// this many was not applied as written.
const MAX_PAGES: usize = 50;

/// The daily API budget, from `Sforce-Limit-Info`, for the report's system row.
const NOTE_API_USAGE: &str = "api_usage";
const NOTE_API_REMAINING: &str = "api_remaining";

/// Where API calls go.
struct Instance {
    /// `instance_url` from the config, which beats the token answer's.
    configured: Option<Url>,
    /// The instance API calls go to, settled on first use.
    settled: OnceCell<Url>,
}

/// The Salesforce connector.
pub struct Client {
    http: HttpClient,
    /// Boxed: it would make this the largest connector by far.
    instance: Box<Instance>,
    /// The field that holds the External ID (`lookup_by`), a checked name.
    lookup_field: String,
    /// The `SELECT` list: [`query::FIELDS`] plus the lookup field.
    fields: String,
    /// `[connectors.readiness]`: the object the probe describes.
    readiness: ReadinessSettings,
    /// `jwt_bearer`: the `username` the assertion is signed for, the
    /// credentials' owner where `userinfo` cannot say.
    signed_username: Option<String>,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        let requested = settings.lookup_field.trim();
        if !query::is_field_name(requested) {
            return Err(ConnectorError::Setup {
                integration: settings.integration,
                detail: format!(
                    "lookup_by = {:?} is not a Salesforce field name: use the field's API name, \
                     e.g. \"Username\" or \"Email\"",
                    settings.lookup_field
                ),
            });
        }
        // Field names are case-insensitive in SOQL; answers use the API
        // name's own spelling, so keep that one.
        let lookup_field = query::FIELDS
            .iter()
            .find(|field| field.eq_ignore_ascii_case(requested))
            .map_or_else(|| requested.to_owned(), |field| (*field).to_owned());
        let mut fields = query::FIELDS.join(", ");
        if !query::FIELDS.contains(&lookup_field.as_str()) {
            fields.push_str(", ");
            fields.push_str(&lookup_field);
        }
        let signed_username = match &settings.credentials {
            Credentials::OAuth(OAuthGrant {
                kind: GrantKind::JwtBearer { username, .. },
                ..
            }) => Some(username.clone()),
            _ => None,
        };
        let http = HttpClient::new(
            settings.integration,
            settings.base_url,
            settings.credentials,
            settings.http,
        )?
        .with_classifier(classify)
        .with_max_request_line(System::Salesforce.max_request_line());
        Ok(Client {
            http,
            instance: Box::new(Instance {
                configured: settings.instance_url,
                settled: OnceCell::new(),
            }),
            lookup_field,
            fields,
            readiness: settings.readiness,
            signed_username,
        })
    }

    /// The instance API calls go to: the configured `instance_url`, else the
    /// one the token answer names (client credentials), else `base_url`.
    async fn instance(&self) -> Result<&Url, ConnectorError> {
        self.instance
            .settled
            .get_or_try_init(|| async {
                if let Some(url) = &self.instance.configured {
                    return Ok(url.clone());
                }
                if matches!(self.http.credentials(), Credentials::OAuth(_)) {
                    if let Some(url) = self.http.token_instance_url().await? {
                        return self.checked_token_instance(url);
                    }
                }
                Ok(self.http.base_url().clone())
            })
            .await
    }

    /// The token answer's `instance_url` gets the rule the config's URLs
    /// get: `https://`, or `http://` only on a loopback address.
    fn checked_token_instance(&self, url: Url) -> Result<Url, ConnectorError> {
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if url.scheme() == "https" || (url.scheme() == "http" && loopback) {
            return Ok(url);
        }
        let path = match self.http.credentials() {
            Credentials::OAuth(grant) => grant.token_url.path().to_owned(),
            _ => String::new(),
        };
        Err(ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: Method::POST,
            path,
            detail: "the token answer names an instance_url that is not https://; set \
                     instance_url in the config"
                .into(),
        })
    }

    /// Every record one SOQL query returns, following `nextRecordsUrl` on
    /// the instance's origin only.
    async fn fetch(&self, instance: &Url, soql: &str) -> Result<Vec<wire::Record>, ConnectorError> {
        let mut spec = RequestSpec::get(endpoint(instance, QUERY_PATH)).query("q", soql);
        let mut visited: HashSet<Url> = HashSet::new();
        let mut records = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self.http.send(&spec).await?;
            self.note_usage(&reply);
            let page: wire::QueryPage = reply.json(self.http.integration())?;
            let received = page.records.len();
            records.extend(page.records);
            if page.done {
                return Ok(records);
            }
            let Some(next) = page.next_records_url else {
                return Err(self.bad_response(&reply, "`done` is false but no nextRecordsUrl"));
            };
            let past_total = page
                .total_size
                .is_some_and(|total| records.len() as u64 >= total);
            if received == 0 || past_total {
                return Err(self.bad_response(
                    &reply,
                    "a page says more records follow, but none did or totalSize is reached",
                ));
            }
            let url = self.next_page(instance, &next, &reply)?;
            if !visited.insert(url.clone()) {
                return Err(
                    self.bad_response(&reply, "nextRecordsUrl leads back to a page already read")
                );
            }
            spec = RequestSpec::get(url);
        }
        Err(ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: Method::GET,
            path: QUERY_PATH.into(),
            detail: format!(
                "a query still had more pages after {MAX_PAGES}; the filter was not applied as sent"
            ),
        })
    }

    /// Where `nextRecordsUrl` points: a path on the instance, or a full URL
    /// on the instance's own origin. Anything else is refused, so the token
    /// never travels to another host.
    fn next_page(&self, instance: &Url, next: &str, reply: &Reply) -> Result<Url, ConnectorError> {
        match instance.join(next.trim()) {
            Ok(url) if url.origin() == instance.origin() => Ok(url),
            _ => Err(self.bad_response(
                reply,
                "nextRecordsUrl points to another host; it was not followed",
            )),
        }
    }

    fn bad_response(&self, reply: &Reply, detail: &str) -> ConnectorError {
        ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: reply.method.clone(),
            path: reply.path.clone(),
            detail: detail.to_owned(),
        }
    }

    /// Records the org's daily API use from `Sforce-Limit-Info`.
    fn note_usage(&self, reply: &Reply) {
        if let Some((used, limit)) = reply
            .header_str("sforce-limit-info")
            .and_then(wire::api_usage)
        {
            self.http
                .set_note(NOTE_API_USAGE, format!("{used}/{limit}"));
            self.http
                .set_note(NOTE_API_REMAINING, limit.saturating_sub(used).to_string());
        }
    }

    /// Cuts `literals` into `IN` lists whose whole request URI stays under
    /// [`MAX_URI_BYTES`]. A literal too long for any batch goes alone, and
    /// is refused where even that passes [`MAX_REQUEST_LINE`].
    fn batches<'a>(
        &self,
        instance: &Url,
        field: &str,
        literals: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Vec<&'a str>> {
        let fixed = endpoint(instance, QUERY_PATH).as_str().len()
            + "?q=".len()
            + query::encoded_len(&format!("{} ()", query::select_prefix(&self.fields, field)));
        let comma = query::encoded_len(",");
        let mut batches = Vec::new();
        let mut batch: Vec<&str> = Vec::new();
        let mut length = fixed;
        for literal in literals {
            let cost = query::encoded_len(literal);
            let full = length + comma + cost > MAX_URI_BYTES || batch.len() >= MAX_VALUES_PER_QUERY;
            if full && !batch.is_empty() {
                batches.push(std::mem::take(&mut batch));
                length = fixed;
            }
            length += cost + if batch.is_empty() { 0 } else { comma };
            batch.push(literal);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        batches
    }

    /// Reads every `IN` batch of `literals` into `answers`, halving a batch
    /// Salesforce finds too large. Returns the literals refused as too long,
    /// each with its reason.
    async fn read_batches<'a>(
        &self,
        instance: &Url,
        field: &str,
        literals: Vec<&'a str>,
        answers: &mut Answers,
    ) -> Result<HashMap<&'a str, UnsafeValue>, ConnectorError> {
        let mut batches = Batches::new(System::Salesforce, self.batches(instance, field, literals));
        while let Some(batch) = batches.next_batch() {
            let soql = query::select_in(&self.fields, field, batch.iter().copied());
            let records = match self.fetch(instance, &soql).await {
                Ok(records) => records,
                Err(error) => {
                    batches.failed(batch, error)?;
                    continue;
                }
            };
            for record in records {
                match self.to_user(&record) {
                    Some(user) => answers.add(user),
                    None => tracing::warn!(integration = %self.http.integration(),
                        "Salesforce returned a User record without a valid Id; skipped"),
                }
            }
        }
        Ok(batches.into_refused().into_iter().collect())
    }

    /// Converts a record to the domain's user. `None` without a valid Id:
    /// such a record can be neither matched by Id nor reported.
    fn to_user(&self, record: &wire::Record) -> Option<ItsmUser> {
        let itsm_user_id = parse_id(record.text("Id")?).ok()?;
        let text = |field: &str| record.text(field).map(str::to_owned);
        Some(ItsmUser {
            itsm_user_id,
            external_id: record.text(&self.lookup_field).map(ExternalId::new),
            // An unreadable flag is not evidence of an inactive account.
            active: record.flag("IsActive").unwrap_or(true),
            first_name: text("FirstName"),
            last_name: text("LastName"),
            full_name: text("Name"),
            account_type: text("UserType"),
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        })
    }
}

/// The instance URL with `path` appended to its own path.
fn endpoint(instance: &Url, path: &str) -> Url {
    let mut url = instance.clone();
    let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Reads Salesforce's error array before the status code decides: the daily
/// quota (403 `REQUEST_LIMIT_EXCEEDED`) is not a refused login and must not
/// be retried; a refused query (400 `MALFORMED_QUERY`, `INVALID_FIELD`, ...)
/// is a bad response. A URI too long (414, 431) is the shared client's to
/// read: it splits the batch. 401 `INVALID_SESSION_ID` is left to
/// the client, which refreshes a fetched token once.
///
/// A 400's message is left out on purpose: Salesforce quotes the query in
/// it, and the query carries users' logins.
fn classify(reply: &Reply) -> Option<Verdict> {
    let errors = wire::error_codes(&reply.body);
    match reply.status.as_u16() {
        403 => errors
            .into_iter()
            .find(|error| error.error_code.as_deref() == Some("REQUEST_LIMIT_EXCEEDED"))
            .map(|error| {
                Verdict::QuotaExhausted(format!(
                    "the org's daily API request limit is used up (REQUEST_LIMIT_EXCEEDED: {})",
                    error.message.unwrap_or_else(|| "no message".into())
                ))
            }),
        400 if !errors.is_empty() => {
            let codes: Vec<&str> = errors
                .iter()
                .filter_map(|error| error.error_code.as_deref())
                .collect();
            let hint = if codes.contains(&"INVALID_FIELD") {
                "; check lookup_by names a field of User"
            } else {
                ""
            };
            Some(Verdict::BadResponse(format!(
                "Salesforce refused the query ({}){hint}",
                codes.join(", ")
            )))
        }
        _ => None,
    }
}

/// The key an External ID is indexed and deduplicated by; agrees with
/// [`ExternalId::matches`].
fn folded(value: &str) -> String {
    query::sendable(value).to_ascii_lowercase()
}

impl Connector for Client {
    async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        readiness::probe(self, input).await
    }

    async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        let keys: BTreeSet<&LookupKey> = keys.iter().collect();
        let mut lookups = Lookups::default();
        // Canonical Id -> its literal: a 15- and an 18-character form of one
        // record are one value.
        let mut ids: BTreeMap<ItsmUserId, String> = BTreeMap::new();
        // Folded value -> its literal: `Pat@x` and `pat@x` are one value.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for key in &keys {
            let outcome = match key {
                LookupKey::ItsmUserId(raw) => match parse_id(raw.as_str()) {
                    Ok(id) => match query::literal(id.as_str()) {
                        Ok(literal) => {
                            ids.insert(id, literal);
                            continue;
                        }
                        Err(unsafe_value) => Lookup::Refused(unsafe_value),
                    },
                    Err(why) => Lookup::unsendable_id(&why),
                },
                LookupKey::ExternalId(external_id) => {
                    let value = query::sendable(external_id.as_str());
                    match query::literal(value) {
                        Ok(literal) => {
                            names.insert(folded(value), literal);
                            continue;
                        }
                        Err(unsafe_value) => Lookup::Refused(unsafe_value),
                    }
                }
            };
            lookups.insert((*key).clone(), outcome);
        }

        let mut answers = Answers::default();
        // Literal -> why it was not looked up, per field.
        let mut refused_ids = HashMap::new();
        let mut refused_names = HashMap::new();
        if !ids.is_empty() || !names.is_empty() {
            let instance = self.instance().await?;
            let literals = ids.values().map(String::as_str).collect();
            refused_ids = self
                .read_batches(instance, "Id", literals, &mut answers)
                .await?;
            let literals = names.values().map(String::as_str).collect();
            refused_names = self
                .read_batches(instance, &self.lookup_field, literals, &mut answers)
                .await?;
        }

        for key in keys {
            if lookups.get(key).is_some() {
                continue;
            }
            let outcome = match key {
                LookupKey::ItsmUserId(raw) => match parse_id(raw.as_str()) {
                    Ok(id) => match ids.get(&id).and_then(|l| refused_ids.get(l.as_str())) {
                        Some(refusal) => Lookup::Refused(refusal.clone()),
                        None => answers.for_id(&id),
                    },
                    Err(_) => continue, // refused above
                },
                LookupKey::ExternalId(external_id) => {
                    let value = query::sendable(external_id.as_str());
                    let refused = names
                        .get(&folded(value))
                        .and_then(|literal| refused_names.get(literal.as_str()));
                    match refused {
                        Some(refusal) => Lookup::Refused(refusal.clone()),
                        None => answers.for_external_id(external_id),
                    }
                }
            };
            lookups.insert(key.clone(), outcome);
        }
        Ok(lookups)
    }

    /// `userinfo` names the token's user; a 404 (or a 403 for a token
    /// without the scope to read it) means Salesforce cannot say here,
    /// unless the credentials are `jwt_bearer`: then the owner is the User
    /// whose `Username` the assertion was signed for.
    async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        let instance = self.instance().await?;
        let spec = RequestSpec::get(endpoint(instance, USERINFO_PATH))
            .accept_status(StatusCode::NOT_FOUND)
            .accept_status(StatusCode::FORBIDDEN);
        let reply = self.http.send(&spec).await?;
        self.note_usage(&reply);
        if !reply.status.is_success() {
            if let Some(username) = &self.signed_username {
                return self.signed_user(instance, username).await;
            }
            tracing::info!(integration = %self.http.integration(), status = reply.status.as_u16(),
                "userinfo is not available; the credentials' owner is not checked");
            return Ok(CredentialOwner::Unknown);
        }
        let info: wire::UserInfo = reply.json(self.http.integration())?;
        let Some(itsm_user_id) = info.user_id.as_deref().and_then(|id| parse_id(id).ok()) else {
            tracing::warn!(integration = %self.http.integration(),
                "userinfo carries no valid user_id; the credentials' owner is not checked");
            return Ok(CredentialOwner::Unknown);
        };
        let external_id = match self.lookup_field.as_str() {
            // The token acts as the user the assertion was signed for.
            "Username" => info
                .preferred_username
                .filter(|v| !v.is_empty())
                .or_else(|| self.signed_username.clone()),
            "Email" => info.email,
            _ => None,
        };
        Ok(CredentialOwner::Known(ItsmUser {
            itsm_user_id,
            external_id: external_id.filter(|v| !v.is_empty()).map(ExternalId::new),
            active: info.active.unwrap_or(true),
            first_name: info.given_name.filter(|v| !v.is_empty()),
            last_name: info.family_name.filter(|v| !v.is_empty()),
            full_name: info.name.filter(|v| !v.is_empty()),
            account_type: info.user_type.filter(|v| !v.is_empty()),
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        }))
    }

    fn http(&self) -> &HttpClient {
        &self.http
    }
}

impl Client {
    /// The User whose `Username` is `username`, read by a query: the
    /// `jwt_bearer` credentials' owner when `userinfo` cannot say.
    async fn signed_user(
        &self,
        instance: &Url,
        username: &str,
    ) -> Result<CredentialOwner, ConnectorError> {
        let Ok(literal) = query::literal(query::sendable(username)) else {
            return Ok(CredentialOwner::Unknown);
        };
        let soql = query::select_in(&self.fields, "Username", [literal.as_str()]);
        let records = self.fetch(instance, &soql).await?;
        let mut users = records.iter().filter_map(|record| self.to_user(record));
        Ok(match (users.next(), users.next()) {
            (Some(user), None) => CredentialOwner::Known(user),
            _ => {
                tracing::info!(integration = %self.http.integration(),
                    "no single User has the username the assertion was signed for; the credentials' owner is not checked");
                CredentialOwner::Unknown
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpSettings, Integration, System};
    use proptest::prelude::*;
    use secrecy::SecretString;

    fn client() -> Client {
        Client::new(ConnectorSettings {
            integration: Integration::new("salesforce"),
            system: System::Salesforce,
            base_url: Url::parse("https://acme.my.salesforce.com").expect("a valid URL"),
            credentials: Credentials::Bearer {
                token: SecretString::from("t"),
            },
            instance_url: None,
            lookup_field: "Username".into(),
            http: HttpSettings::default(),
            readiness: crate::ReadinessSettings::default(),
        })
        .expect("valid settings")
    }

    proptest! {
        // Each case cuts hundreds of values; fewer cases keep the suite quick.
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_batch_fits_the_uri_limit_and_every_value_is_sent_once(
            values in prop::collection::vec("[a-zA-Z0-9.@+'\"\\\\ ü-]{1,120}", 0..800)
        ) {
            let salesforce = client();
            let instance = Url::parse("https://acme.my.salesforce.com").expect("a valid URL");
            let literals: Vec<String> = values
                .iter()
                .map(|value| query::literal(value).map_err(|e| TestCaseError::fail(e.reason)))
                .collect::<Result<_, _>>()?;
            let batches =
                salesforce.batches(&instance, "Username", literals.iter().map(String::as_str));
            let sent: Vec<&str> = batches.iter().flatten().copied().collect();
            let expected: Vec<&str> = literals.iter().map(String::as_str).collect();
            prop_assert_eq!(sent, expected);
            for batch in &batches {
                let mut url = endpoint(&instance, QUERY_PATH);
                url.query_pairs_mut().append_pair(
                    "q",
                    &query::select_in(&salesforce.fields, "Username", batch.iter().copied()),
                );
                prop_assert!(url.as_str().len() <= MAX_URI_BYTES, "{} bytes", url.as_str().len());
            }
        }
    }

    #[test]
    fn the_quota_is_exhausted_not_a_refused_login() {
        let reply = |status: u16, body: &str| Reply {
            status: StatusCode::from_u16(status).expect("a status"),
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            method: Method::GET,
            path: QUERY_PATH.into(),
        };
        let quota =
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            classify(&reply(403, quota)),
            Some(Verdict::QuotaExhausted(_))
        ));
        let denied = r#"[{"message":"no","errorCode":"INSUFFICIENT_ACCESS"}]"#;
        assert_eq!(classify(&reply(403, denied)), None);
        let session =
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert_eq!(classify(&reply(401, session)), None);
        let token =
            r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#;
        assert_eq!(classify(&reply(400, token)), None);
        // The shared client reads a URI too long, and splits the batch.
        assert_eq!(classify(&reply(414, "<h1>Bad Message 414</h1>")), None);
    }
}
