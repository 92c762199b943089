//! Connectors: one module per ticketing system behind the [`Connector`] trait,
//! the shared HTTP client ([`http`]), and each system's simulator next to its
//! client.
//!
//! Connectors only read. They never write to a ticketing system, the
//! identities file or the store, and they never judge an identity: they say
//! what the system returned for each key, and the check decides.

mod answers;
mod batches;
pub mod freshservice;
pub mod http;
pub mod jira;
pub mod jira_dc;
pub mod manageengine;
pub mod readiness;
pub mod recorded;
pub mod recording;
pub mod salesforce;
pub mod servicenow;
pub mod sim;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use readiness::{
    Readiness, ReadinessInput, ReadinessKind, ReadinessProblem, ReadinessSettings,
};

pub use http::{
    ASSERTION_LIFETIME, Classifier, ConnectorError, Credentials, GrantKind, HttpClient,
    HttpSettings, OAuthGrant, Reason, TokenScheme, Verdict, check_rsa_private_key,
};

/// The connector's integration id (`snow`, `jira_service_desk`, ...).
/// Matched case-sensitively: `SNOW` is another integration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Integration(String);

impl Integration {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value itself, for callers that keep it as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the system shows for the user (ServiceNow `user_name`, Jira
/// `emailAddress`, ...). Not the record id: that is [`ItsmUserId`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value itself, for callers that keep it as text.
    pub fn into_string(self) -> String {
        self.0
    }

    /// External IDs are logins and e-mail addresses: every system here
    /// compares them without regard to case.
    pub fn matches(&self, other: &str) -> bool {
        self.0.trim().eq_ignore_ascii_case(other.trim())
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The system's internal record id (ServiceNow `sys_id`, Jira `accountId`,
/// ...), always in the system's canonical form once it leaves a connector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItsmUserId(String);

impl ItsmUserId {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value itself, for callers that keep it as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ItsmUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ticketing systems itsmid has connectors for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    ServiceNow,
    Jira,
    /// Jira Data Center and Server, through REST API v2.
    #[serde(rename = "jira_dc")]
    JiraDc,
    Salesforce,
    Freshservice,
    ManageEngine,
}

impl System {
    /// Every system, in declaration order. Listings (`demo`, `simulate`, the
    /// config's errors) come from here; a unit test fails until a new
    /// variant is added.
    pub const ALL: [System; 6] = [
        System::ServiceNow,
        System::Jira,
        System::JiraDc,
        System::Salesforce,
        System::Freshservice,
        System::ManageEngine,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            System::ServiceNow => "servicenow",
            System::Jira => "jira",
            System::JiraDc => "jira_dc",
            System::Salesforce => "salesforce",
            System::Freshservice => "freshservice",
            System::ManageEngine => "manageengine",
        }
    }

    pub fn parse(value: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The auth types the system accepts (SPEC section 3).
    pub fn auth_types(self) -> &'static [AuthType] {
        match self {
            System::ServiceNow => &[AuthType::Basic, AuthType::Bearer, AuthType::OauthPassword],
            System::Jira | System::JiraDc => &[AuthType::Basic, AuthType::Bearer],
            System::Salesforce => &[
                AuthType::Bearer,
                AuthType::JwtBearer,
                AuthType::ClientCredentials,
            ],
            System::Freshservice => &[AuthType::ApiKey],
            System::ManageEngine => &[AuthType::AuthToken, AuthType::ZohoOauth],
        }
    }

    /// Whether the token answer or the config names an instance URL that
    /// API calls go to instead of `base_url` (Salesforce: the login host
    /// hands out tokens, the instance serves the API).
    pub fn has_instance_url(self) -> bool {
        match self {
            System::Salesforce => true,
            System::ServiceNow
            | System::Jira
            | System::JiraDc
            | System::Freshservice
            | System::ManageEngine => false,
        }
    }

    /// Whether the API fetches many records by id in one request (ServiceNow
    /// `sys_idIN`, Jira `/user/bulk`, Salesforce `Id IN`). Elsewhere the
    /// check looks entries up by External ID in bulk and compares the id the
    /// system returns (SPEC section 5).
    pub fn fetches_ids_in_bulk(self) -> bool {
        match self {
            System::ServiceNow | System::Jira | System::JiraDc | System::Salesforce => true,
            System::Freshservice | System::ManageEngine => false,
        }
    }

    /// The longest request line the system accepts (SPEC section 5,
    /// Limits): a value whose request would be longer is never sent.
    /// Salesforce documents 16,384 bytes for its URI; elsewhere the front
    /// ends' 8 KiB holds.
    pub fn max_request_line(self) -> usize {
        match self {
            System::Salesforce => salesforce::MAX_REQUEST_LINE,
            System::ServiceNow
            | System::Jira
            | System::JiraDc
            | System::Freshservice
            | System::ManageEngine => http::MAX_REQUEST_LINE,
        }
    }

    /// The field that holds the External ID unless `lookup_by` says otherwise.
    pub fn default_lookup_field(self) -> &'static str {
        match self {
            System::ServiceNow => "user_name",
            System::Jira | System::JiraDc => "emailAddress",
            System::Salesforce => "Username",
            System::Freshservice => "primary_email",
            System::ManageEngine => "email_id",
        }
    }

    /// Checks that `raw` can be an ITSM User ID of this system and returns
    /// it in canonical form. Offline: `lint` and `check` both use it, and a
    /// malformed id is never sent.
    pub fn parse_itsm_user_id(self, raw: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
        let value = raw.trim();
        match self {
            System::ServiceNow => servicenow::parse_sys_id(value),
            System::Jira => jira::parse_account_id(value),
            System::JiraDc => jira_dc::parse_key(value),
            System::Freshservice => freshservice::parse_id(value),
            System::ManageEngine => manageengine::parse_id(value),
            System::Salesforce => salesforce::parse_id(value),
        }
    }

    /// Whether `stored` is this system's short form of an ITSM User ID, one
    /// that [`System::parse_itsm_user_id`] lengthens into the canonical form:
    /// a 15-character Salesforce Id, whose canonical form has 18. Resolve
    /// says such a change is the same record in its long form, not a stale
    /// id; the other systems have no short form.
    pub fn short_id_form(self, stored: &str) -> bool {
        match self {
            System::Salesforce => stored.len() == 15 && salesforce::parse_id(stored).is_ok(),
            System::ServiceNow
            | System::Jira
            | System::JiraDc
            | System::Freshservice
            | System::ManageEngine => false,
        }
    }

    /// The field that holds a user's e-mail address. Resolve suggests an
    /// account for an entry that was not found by looking the identity's
    /// e-mail addresses up in this field, whatever `lookup_by` says.
    pub fn email_field(self) -> &'static str {
        match self {
            System::ServiceNow => "email",
            System::Jira | System::JiraDc => "emailAddress",
            System::Salesforce => "Email",
            System::Freshservice => "primary_email",
            System::ManageEngine => "email_id",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored ITSM User ID that its system's format refuses: it is never
/// sent. Displays as the reason the administrator reads in the finding,
/// naming the format and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct InvalidItsmUserId {
    system: System,
    why: String,
}

impl InvalidItsmUserId {
    pub(crate) fn new(system: System, why: impl Into<String>) -> Self {
        InvalidItsmUserId {
            system,
            why: why.into(),
        }
    }

    /// The system whose format refused the id.
    pub fn system(&self) -> System {
        self.system
    }
}

/// An `[connectors.auth]` table's `type` (SPEC section 3). The config
/// matches it exhaustively, so a new type does not compile until the config
/// knows its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthType {
    Basic,
    Bearer,
    /// ServiceNow's OAuth password grant (`/oauth_token.do`).
    OauthPassword,
    /// Salesforce's connected-app JWT bearer flow (RS256 assertion).
    JwtBearer,
    ClientCredentials,
    ApiKey,
    AuthToken,
    ZohoOauth,
}

impl AuthType {
    /// Every type, in SPEC section 3's order.
    pub const ALL: [AuthType; 8] = [
        AuthType::Basic,
        AuthType::Bearer,
        AuthType::OauthPassword,
        AuthType::JwtBearer,
        AuthType::ClientCredentials,
        AuthType::ApiKey,
        AuthType::AuthToken,
        AuthType::ZohoOauth,
    ];

    /// The name the config file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Basic => "basic",
            AuthType::Bearer => "bearer",
            AuthType::OauthPassword => "oauth_password",
            AuthType::JwtBearer => "jwt_bearer",
            AuthType::ClientCredentials => "client_credentials",
            AuthType::ApiKey => "api_key",
            AuthType::AuthToken => "authtoken",
            AuthType::ZohoOauth => "zoho_oauth",
        }
    }

    pub fn parse(value: &str) -> Option<AuthType> {
        AuthType::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user record as the system returned it, in the system's spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItsmUser {
    pub itsm_user_id: ItsmUserId,
    /// `None` where the system hides it (Jira privacy settings).
    pub external_id: Option<ExternalId>,
    /// False for inactive and for locked-out accounts.
    pub active: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: Option<String>,
    /// Jira `accountType` (`atlassian`, `app`, `customer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// Jira `timeZone`, for the bot's documented setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Why `active` is false, where the system says more than "inactive"
    /// (ServiceNow `locked_out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_reason: Option<String>,
    /// Which list the record came from where a system has several
    /// (Freshservice requesters and agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_kind: Option<String>,
}

impl ItsmUser {
    /// The account's type where it cannot act as a person (ACCOUNT_TYPE),
    /// with the types that can; `None` for a person's account or where the
    /// system has no account types.
    pub fn not_a_person(&self) -> Option<NotAPerson> {
        jira::not_a_person(self.account_type.as_deref()?)
    }
}

/// An account of a type that cannot act for a manual user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAPerson {
    /// The account's type as the system names it.
    pub account_type: String,
    /// The types a person's account has, in the system's words.
    pub person_types: &'static str,
}

/// One thing to look up: a stored ITSM User ID or an External ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LookupKey {
    ItsmUserId(ItsmUserId),
    ExternalId(ExternalId),
}

/// What the system answered for one key, after re-checking every returned
/// record against the key (no server-side filter is trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(ItsmUser),
    /// `note` says why where "not found" needs explaining (a hidden e-mail,
    /// a search that shows only active users).
    NotFound {
        note: Option<String>,
    },
    Ambiguous(Vec<ItsmUser>),
    /// The value was not looked up: it cannot be put into this system's
    /// query language safely, or a request for it alone is too long for
    /// the system (SPEC section 5, Limits). No request was made for it, or
    /// the system refused the one made as too large.
    Refused(UnsafeValue),
}

impl Lookup {
    /// A value that was not sent, and why.
    pub fn refused(reason: impl Into<String>) -> Lookup {
        Lookup::Refused(UnsafeValue {
            reason: reason.into(),
        })
    }

    /// A stored ITSM User ID the system's format refuses: never sent.
    pub fn unsendable_id(why: impl fmt::Display) -> Lookup {
        Lookup::refused(format!("{why}; it was not sent"))
    }
}

/// Why a value was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeValue {
    pub reason: String,
}

/// The outcome of one batch: one [`Lookup`] per key asked for.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    pub outcomes: BTreeMap<LookupKey, Lookup>,
}

impl Lookups {
    pub fn insert(&mut self, key: LookupKey, lookup: Lookup) {
        self.outcomes.insert(key, lookup);
    }

    pub fn get(&self, key: &LookupKey) -> Option<&Lookup> {
        self.outcomes.get(key)
    }
}

/// Who the connector's credentials log in as (BOT_CREDENTIAL_MISMATCH).
// One value per connector per run: its size does not matter, and a box
// would only add noise wherever it is matched.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialOwner {
    Known(ItsmUser),
    /// The system cannot say (an endpoint that answers 404, a bearer token
    /// with no user lookup): no finding, the system row says `unavailable`.
    Unknown,
}

/// A documented bot account setting that is off (BOT_SETTING).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSettingProblem {
    pub setting: &'static str,
    pub expected: String,
    pub actual: Option<String>,
    /// Where in the system's admin screens the setting is changed.
    pub screen: &'static str,
}

/// One ticketing system. Each module splits a batch to its system's limits
/// (`sys_idIN`, Jira `/user/bulk`, ...) and sends every request through its
/// [`HttpClient`], which counts them, so the report's `api_requests` is exact.
pub trait Connector: Send + Sync {
    /// Looks up many keys at once; one outcome per key.
    fn lookup(
        &self,
        keys: &[LookupKey],
    ) -> impl Future<Output = Result<Lookups, ConnectorError>> + Send;

    /// The account the credentials log in as.
    fn whoami(&self) -> impl Future<Output = Result<CredentialOwner, ConnectorError>> + Send;

    /// The shared client, for its request counter.
    fn http(&self) -> &HttpClient;

    /// Documented settings of the bot's account that are off.
    fn bot_setting_problems(&self, _bot: &ItsmUser) -> Vec<BotSettingProblem> {
        Vec::new()
    }

    /// Bot readiness (SPEC section 5.1): read-only GET requests with the
    /// bot's own credentials, made after its entry is verified. Never an
    /// error: what cannot be told is in [`Readiness::cannot_tell`].
    fn readiness(&self, input: &ReadinessInput) -> impl Future<Output = Readiness> + Send;
}

/// Everything a connector needs from the config, already validated.
#[derive(Debug)]
pub struct ConnectorSettings {
    pub integration: Integration,
    pub system: System,
    pub base_url: url::Url,
    pub credentials: Credentials,
    /// The instance API calls go to where it differs from `base_url`
    /// (Salesforce `instance_url`); a token answer may also name it.
    pub instance_url: Option<url::Url>,
    /// The field that holds the External ID (`lookup_by`).
    pub lookup_field: String,
    pub http: HttpSettings,
    /// `[connectors.readiness]`.
    pub readiness: ReadinessSettings,
}

/// Dispatch over the implemented systems. A new system fails to compile
/// until every `match` handles it.
pub enum AnyConnector {
    ServiceNow(servicenow::Client),
    Jira(jira::Client),
    JiraDc(jira_dc::Client),
    Freshservice(freshservice::Client),
    ManageEngine(manageengine::Client),
    Salesforce(salesforce::Client),
}

impl AnyConnector {
    /// Builds the connector for `settings.system`.
    pub fn new(settings: ConnectorSettings) -> Result<AnyConnector, ConnectorError> {
        match settings.system {
            System::ServiceNow => Ok(AnyConnector::ServiceNow(servicenow::Client::new(settings)?)),
            System::Jira => Ok(AnyConnector::Jira(jira::Client::new(settings)?)),
            System::JiraDc => Ok(AnyConnector::JiraDc(jira_dc::Client::new(settings)?)),
            System::Freshservice => Ok(AnyConnector::Freshservice(freshservice::Client::new(
                settings,
            )?)),
            System::ManageEngine => Ok(AnyConnector::ManageEngine(manageengine::Client::new(
                settings,
            )?)),
            System::Salesforce => Ok(AnyConnector::Salesforce(salesforce::Client::new(settings)?)),
        }
    }

    pub async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        match self {
            AnyConnector::ServiceNow(c) => c.lookup(keys).await,
            AnyConnector::Jira(c) => c.lookup(keys).await,
            AnyConnector::JiraDc(c) => c.lookup(keys).await,
            AnyConnector::Freshservice(c) => c.lookup(keys).await,
            AnyConnector::ManageEngine(c) => c.lookup(keys).await,
            AnyConnector::Salesforce(c) => c.lookup(keys).await,
        }
    }

    pub async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        match self {
            AnyConnector::ServiceNow(c) => c.whoami().await,
            AnyConnector::Jira(c) => c.whoami().await,
            AnyConnector::JiraDc(c) => c.whoami().await,
            AnyConnector::Freshservice(c) => c.whoami().await,
            AnyConnector::ManageEngine(c) => c.whoami().await,
            AnyConnector::Salesforce(c) => c.whoami().await,
        }
    }

    pub fn http(&self) -> &HttpClient {
        match self {
            AnyConnector::ServiceNow(c) => c.http(),
            AnyConnector::Jira(c) => c.http(),
            AnyConnector::JiraDc(c) => c.http(),
            AnyConnector::Freshservice(c) => c.http(),
            AnyConnector::ManageEngine(c) => c.http(),
            AnyConnector::Salesforce(c) => c.http(),
        }
    }

    pub async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        match self {
            AnyConnector::ServiceNow(c) => c.readiness(input).await,
            AnyConnector::Jira(c) => c.readiness(input).await,
            AnyConnector::JiraDc(c) => c.readiness(input).await,
            AnyConnector::Freshservice(c) => c.readiness(input).await,
            AnyConnector::ManageEngine(c) => c.readiness(input).await,
            AnyConnector::Salesforce(c) => c.readiness(input).await,
        }
    }

    pub fn bot_setting_problems(&self, bot: &ItsmUser) -> Vec<BotSettingProblem> {
        match self {
            AnyConnector::ServiceNow(c) => c.bot_setting_problems(bot),
            AnyConnector::Jira(c) => c.bot_setting_problems(bot),
            AnyConnector::JiraDc(c) => c.bot_setting_problems(bot),
            AnyConnector::Freshservice(c) => c.bot_setting_problems(bot),
            AnyConnector::ManageEngine(c) => c.bot_setting_problems(bot),
            AnyConnector::Salesforce(c) => c.bot_setting_problems(bot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variant names serde derives for `System`: every variant, with
    /// no list kept by hand.
    fn serde_variant_names() -> &'static [&'static str] {
        use serde::de::{self, Deserializer, Visitor};

        struct Capture(Option<&'static [&'static str]>);

        impl<'de> Deserializer<'de> for &mut Capture {
            type Error = de::value::Error;

            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("System deserializes as an enum"))
            }

            fn deserialize_enum<V: Visitor<'de>>(
                self,
                _name: &'static str,
                variants: &'static [&'static str],
                _visitor: V,
            ) -> Result<V::Value, Self::Error> {
                self.0 = Some(variants);
                Err(de::Error::custom("captured"))
            }

            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map struct identifier ignored_any
            }
        }

        let mut capture = Capture(None);
        let _ = System::deserialize(&mut capture);
        capture.0.expect("a derived enum asks for its variants")
    }

    #[test]
    fn system_all_holds_every_variant_once() {
        // `demo`, `simulate` and the config's errors list systems from
        // `System::ALL`: a variant missing from it would be silently skipped.
        // Declaration order, as serde lists them.
        let names: Vec<&str> = System::ALL.map(System::as_str).to_vec();
        assert_eq!(names, serde_variant_names());
    }

    /// A position per variant: a new auth type does not compile here until
    /// named, and the test fails until `AuthType::ALL` holds it.
    fn auth_position(auth: AuthType) -> usize {
        match auth {
            AuthType::Basic => 0,
            AuthType::Bearer => 1,
            AuthType::OauthPassword => 2,
            AuthType::JwtBearer => 3,
            AuthType::ClientCredentials => 4,
            AuthType::ApiKey => 5,
            AuthType::AuthToken => 6,
            AuthType::ZohoOauth => 7,
        }
    }

    #[test]
    fn auth_type_all_holds_every_variant_once_and_each_parses_back() {
        let positions: Vec<usize> = AuthType::ALL.map(auth_position).to_vec();
        assert_eq!(positions, (0..AuthType::ALL.len()).collect::<Vec<_>>());
        for auth in AuthType::ALL {
            assert_eq!(AuthType::parse(auth.as_str()), Some(auth));
        }
        assert_eq!(AuthType::parse("Basic"), None);
    }

    #[test]
    fn every_system_accepts_at_least_one_auth_type() {
        for system in System::ALL {
            assert!(!system.auth_types().is_empty(), "{system}");
        }
    }

    #[test]
    fn each_system_names_the_field_that_holds_an_email_address() {
        let fields: Vec<(System, &str)> = System::ALL
            .map(|system| (system, system.email_field()))
            .to_vec();
        assert_eq!(
            fields,
            [
                (System::ServiceNow, "email"),
                (System::Jira, "emailAddress"),
                (System::JiraDc, "emailAddress"),
                (System::Salesforce, "Email"),
                (System::Freshservice, "primary_email"),
                (System::ManageEngine, "email_id"),
            ]
        );
    }

    #[test]
    fn only_a_fifteen_character_salesforce_id_is_a_short_form() {
        let short = "0055e000003MwBt";
        assert!(System::Salesforce.short_id_form(short));
        let long = System::Salesforce
            .parse_itsm_user_id(short)
            .expect("a valid 15-character Id");
        assert_eq!(long.as_str(), "0055e000003MwBtAAK");
        assert!(!System::Salesforce.short_id_form(long.as_str()));
        // Fifteen characters that are no Salesforce Id.
        assert!(!System::Salesforce.short_id_form("pat@example.com"));
        assert!(!System::Salesforce.short_id_form(" 0055e000003MwB"));
        for system in [
            System::ServiceNow,
            System::Jira,
            System::JiraDc,
            System::Freshservice,
            System::ManageEngine,
        ] {
            assert!(!system.short_id_form("123456789012345"), "{system}");
        }
    }

    #[test]
    fn a_refused_id_reads_as_its_reason_and_names_its_system() {
        let refused = System::ServiceNow
            .parse_itsm_user_id(" ")
            .expect_err("an empty sys_id");
        assert_eq!(refused.system(), System::ServiceNow);
        assert_eq!(
            refused.to_string(),
            "the sys_id is empty; a ServiceNow sys_id has 32 hexadecimal characters"
        );
        let refused = System::Freshservice
            .parse_itsm_user_id("0")
            .expect_err("zero is no Freshservice id");
        assert_eq!(refused.system(), System::Freshservice);
        assert_eq!(
            refused.to_string(),
            "the id is 0; a Freshservice id is a positive whole number"
        );
    }
}
