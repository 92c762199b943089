//! Connectors: one module per ticketing system behind the [`Connector`] trait,
//! the shared HTTP client ([`http`]), and each system's simulator next to its
//! client.
//!
//! Connectors only read. They never write to a ticketing system, the
//! identities file or the store, and they never judge an identity: they say
//! what the system returned for each key, and the check decides.

mod answers;
pub mod freshservice;
pub mod http;
pub mod jira;
pub mod manageengine;
pub mod salesforce;
pub mod servicenow;
pub mod sim;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use http::{
    Classifier, ConnectorError, Credentials, HttpClient, HttpSettings, OAuthGrant, Reason,
    TokenScheme, Verdict,
};

/// The connector's integration id (`snow`, `jira_service_desk`, ...).
/// Matched case-sensitively: `SNOW` is another integration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Integration(pub String);

impl Integration {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
pub struct ExternalId(pub String);

impl ExternalId {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
pub struct ItsmUserId(pub String);

impl ItsmUserId {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
    Salesforce,
    Freshservice,
    ManageEngine,
}

impl System {
    pub const ALL: [System; 5] = [
        System::ServiceNow,
        System::Jira,
        System::Salesforce,
        System::Freshservice,
        System::ManageEngine,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            System::ServiceNow => "servicenow",
            System::Jira => "jira",
            System::Salesforce => "salesforce",
            System::Freshservice => "freshservice",
            System::ManageEngine => "manageengine",
        }
    }

    pub fn parse(value: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The auth types the system accepts (SPEC section 3).
    pub fn auth_types(self) -> &'static [&'static str] {
        match self {
            System::ServiceNow => &["basic", "bearer"],
            System::Jira => &["basic", "bearer"],
            System::Salesforce => &["bearer", "client_credentials"],
            System::Freshservice => &["api_key"],
            System::ManageEngine => &["authtoken", "zoho_oauth"],
        }
    }

    /// Whether the API fetches many records by id in one request (ServiceNow
    /// `sys_idIN`, Jira `/user/bulk`, Salesforce `Id IN`). Elsewhere the
    /// check looks entries up by External ID in bulk and compares the id the
    /// system returns (SPEC section 5).
    pub fn fetches_ids_in_bulk(self) -> bool {
        match self {
            System::ServiceNow | System::Jira | System::Salesforce => true,
            System::Freshservice | System::ManageEngine => false,
        }
    }

    /// The field that holds the External ID unless `lookup_by` says otherwise.
    pub fn default_lookup_field(self) -> &'static str {
        match self {
            System::ServiceNow => "user_name",
            System::Jira => "emailAddress",
            System::Salesforce => "Username",
            System::Freshservice => "primary_email",
            System::ManageEngine => "email_id",
        }
    }

    /// Checks that `raw` can be an ITSM User ID of this system and returns
    /// it in canonical form. Offline: `lint` and `check` both use it, and a
    /// malformed id is never sent.
    pub fn parse_itsm_user_id(self, raw: &str) -> Result<ItsmUserId, String> {
        let value = raw.trim();
        match self {
            System::ServiceNow => servicenow::parse_sys_id(value),
            System::Jira => jira::parse_account_id(value),
            System::Freshservice => freshservice::parse_id(value),
            System::ManageEngine => manageengine::parse_id(value),
            System::Salesforce => salesforce::parse_id(value),
        }
    }
}

impl fmt::Display for System {
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
    /// The value cannot be put into this system's query language safely;
    /// no request was made for it.
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
    pub fn unsendable_id(why: &str) -> Lookup {
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
}

/// Dispatch over the implemented systems. A new system fails to compile
/// until every `match` handles it.
pub enum AnyConnector {
    ServiceNow(servicenow::Client),
    Jira(jira::Client),
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
            AnyConnector::Freshservice(c) => c.lookup(keys).await,
            AnyConnector::ManageEngine(c) => c.lookup(keys).await,
            AnyConnector::Salesforce(c) => c.lookup(keys).await,
        }
    }

    pub async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        match self {
            AnyConnector::ServiceNow(c) => c.whoami().await,
            AnyConnector::Jira(c) => c.whoami().await,
            AnyConnector::Freshservice(c) => c.whoami().await,
            AnyConnector::ManageEngine(c) => c.whoami().await,
            AnyConnector::Salesforce(c) => c.whoami().await,
        }
    }

    pub fn http(&self) -> &HttpClient {
        match self {
            AnyConnector::ServiceNow(c) => c.http(),
            AnyConnector::Jira(c) => c.http(),
            AnyConnector::Freshservice(c) => c.http(),
            AnyConnector::ManageEngine(c) => c.http(),
            AnyConnector::Salesforce(c) => c.http(),
        }
    }

    pub fn bot_setting_problems(&self, bot: &ItsmUser) -> Vec<BotSettingProblem> {
        match self {
            AnyConnector::ServiceNow(c) => c.bot_setting_problems(bot),
            AnyConnector::Jira(c) => c.bot_setting_problems(bot),
            AnyConnector::Freshservice(c) => c.bot_setting_problems(bot),
            AnyConnector::ManageEngine(c) => c.bot_setting_problems(bot),
            AnyConnector::Salesforce(c) => c.bot_setting_problems(bot),
        }
    }
}
