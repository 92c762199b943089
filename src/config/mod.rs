//! The config file (SPEC section 3): read once, validated once into types
//! the rest of the program trusts. Every problem is collected and reported
//! together with its line and fix.
//!
//! Secrets are kept as references here and resolved only when a connector
//! is built; a literal secret in the file is refused, and no message ever
//! repeats a secret's value.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use itsmid_connectors::{Integration, ReadinessSettings, System};
use url::Url;

use crate::doc::{self, InputError, InputErrors, Problems, TableReader};

mod auth;
mod readiness;
mod secret;

pub use auth::{AuthConfig, MissingSecrets, auth_username, connector_settings, replay_settings};
pub use secret::{SecretError, SecretRef};

use auth::read_auth;
use secret::secret_ref;

/// `schedule.interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// 4 hours with sources, 30 minutes without (the seed's schedule).
    Auto,
    Every(Duration),
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub keep_snapshots: u32,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub joining_key: String,
    pub max_removed_ratio: f64,
    pub max_changed_ratio: f64,
    pub custom_attributes: Vec<String>,
    pub large_change_min_users: u64,
    /// The ratios also hold against the newest kept load at least this old.
    pub drift_window: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: String,
    /// Every route.
    pub token: Option<SecretRef>,
    /// The GET routes only.
    pub read_token: Option<SecretRef>,
    /// PEM files for TLS on an address that is not loopback.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Plain HTTP on an address that is not loopback, said out loud.
    pub allow_plain_http: bool,
    /// Accepted connections held at once.
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub path: PathBuf,
    /// Attribute name to column or field name.
    pub columns: Vec<(String, String)>,
    pub line: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub integration: Integration,
    pub system: System,
    pub base_url: Url,
    pub requests_per_minute: NonZeroU32,
    pub lookup_by: Option<String>,
    pub timeout: Duration,
    pub auth: AuthConfig,
    /// `[connectors.readiness]`; the defaults when the table is absent.
    pub readiness: ReadinessSettings,
    pub line: Option<usize>,
}

/// The whole config, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub identities: PathBuf,
    pub store: StoreConfig,
    pub pipeline: PipelineConfig,
    pub interval: Interval,
    pub server: ServerConfig,
    pub webhook_url: Option<SecretRef>,
    pub sources: Vec<SourceConfig>,
    pub connectors: Vec<ConnectorConfig>,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, InputErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            InputErrors(vec![InputError {
                file: path.to_path_buf(),
                line: None,
                path: String::new(),
                message: format!("cannot read the config file: {err}"),
                fix: "pass the right file with --config PATH or set ITSMID_CONFIG".into(),
            }])
        })?;
        Config::parse(path, &text)
    }

    /// Validates config text; `path` names the file and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, InputErrors> {
        let root = doc::parse_toml(path, text).map_err(|e| InputErrors(vec![e]))?;
        let problems = Problems::new(path);
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let config = TableReader::new(&problems, &root, "").and_then(|reader| {
            let config = read_config(&reader, path, &base);
            reader.finish();
            config
        });
        let errors = problems.into_errors();
        match config {
            Some(config) if errors.is_empty() => Ok(config),
            _ => Err(InputErrors(errors)),
        }
    }

    pub fn connector(&self, integration: &str) -> Option<&ConnectorConfig> {
        self.connectors
            .iter()
            .find(|c| c.integration.as_str() == integration)
    }
}

fn read_config(root: &TableReader<'_>, path: &Path, base: &Path) -> Option<Config> {
    let problems = root.problems();
    let identities = root.required_string(
        "identities",
        "add `identities = \"identities.toml\"`, the file with the bot account and manual users",
    );

    let store = read_store(root, base);
    let pipeline = read_pipeline(root);
    let interval = read_schedule(root);
    let server = read_server(root, base);
    let webhook_url = root.table("notify").and_then(|notify| {
        let url = notify
            .string("webhook_url")
            .and_then(|v| secret_ref(&notify, "webhook_url", &v, base));
        notify.finish();
        url
    });
    let sources = root
        .tables("sources")
        .into_iter()
        .filter_map(|t| read_source(&t, base))
        .collect::<Vec<_>>();
    let connectors = root
        .tables("connectors")
        .into_iter()
        .filter_map(|t| read_connector(&t, base))
        .collect::<Vec<ConnectorConfig>>();

    for (i, connector) in connectors.iter().enumerate() {
        if let Some(first) = connectors[..i]
            .iter()
            .find(|c| c.integration == connector.integration)
        {
            problems.add(
                connector.line,
                "connectors",
                format!(
                    "integration `{}` is configured twice (first at line {})",
                    connector.integration,
                    first.line.unwrap_or(0)
                ),
                "give each connector its own integration id",
            );
        }
    }
    for (i, source) in sources.iter().enumerate() {
        if sources[..i].iter().any(|s| s.name == source.name) {
            problems.add(
                source.line,
                "sources",
                format!("source name `{}` is used twice", source.name),
                "give each source its own name",
            );
        }
    }
    let identities = identities.map(|p| base.join(p));
    Some(Config {
        path: path.to_path_buf(),
        identities: identities?,
        store: store?,
        pipeline: pipeline?,
        interval: interval?,
        server: server?,
        webhook_url,
        sources,
        connectors,
    })
}

fn read_store(root: &TableReader<'_>, base: &Path) -> Option<StoreConfig> {
    let mut store = StoreConfig {
        path: base.join("itsmid.db"),
        keep_snapshots: 30,
    };
    if let Some(t) = root.table("store") {
        if let Some(p) = t.string("path") {
            store.path = base.join(p);
        }
        if let Some(n) = t.integer("keep_snapshots") {
            match u32::try_from(n) {
                Ok(n) if n >= 1 => store.keep_snapshots = n,
                _ => t.problems().add(
                    t.node("keep_snapshots").and_then(|n| n.line),
                    "store.keep_snapshots",
                    format!("`store.keep_snapshots` is {n}"),
                    "keep at least 1 snapshot",
                ),
            }
        }
        t.finish();
    }
    Some(store)
}

fn read_pipeline(root: &TableReader<'_>) -> Option<PipelineConfig> {
    let mut pipeline = PipelineConfig {
        joining_key: "email_addr".into(),
        max_removed_ratio: 0.10,
        max_changed_ratio: 0.25,
        custom_attributes: Vec::new(),
        large_change_min_users: 100,
        drift_window: Duration::from_secs(24 * 60 * 60),
    };
    if let Some(t) = root.table("pipeline") {
        if let Some(raw) = t.string("drift_window") {
            match parse_duration(&raw) {
                Some(window) if !window.is_zero() => pipeline.drift_window = window,
                _ => t.problems().add(
                    t.node("drift_window").and_then(|n| n.line),
                    "pipeline.drift_window",
                    format!("`pipeline.drift_window` = \"{raw}\" is not a duration"),
                    "write a duration such as \"24h\" or \"168h\"",
                ),
            }
        }
        if let Some(key) = t.string("joining_key") {
            pipeline.joining_key = key;
        }
        for (key, slot) in [
            ("max_removed_ratio", &mut pipeline.max_removed_ratio),
            ("max_changed_ratio", &mut pipeline.max_changed_ratio),
        ] {
            if let Some(ratio) = t.float(key) {
                if (0.0..=1.0).contains(&ratio) {
                    *slot = ratio;
                } else {
                    t.problems().add(
                        t.node(key).and_then(|n| n.line),
                        &format!("pipeline.{key}"),
                        format!("`pipeline.{key}` is {ratio}"),
                        "write a ratio between 0 and 1, e.g. 0.10 for 10%",
                    );
                }
            }
        }
        pipeline.custom_attributes = t.string_list("custom_attributes");
        if let Some(n) = t.integer("large_change_min_users") {
            match u64::try_from(n) {
                Ok(n) => pipeline.large_change_min_users = n,
                Err(_) => t.problems().add(
                    t.node("large_change_min_users").and_then(|n| n.line),
                    "pipeline.large_change_min_users",
                    format!("`pipeline.large_change_min_users` is {n}"),
                    "write a count of 0 or more",
                ),
            }
        }
        t.finish();
    }
    Some(pipeline)
}

fn read_schedule(root: &TableReader<'_>) -> Option<Interval> {
    let mut interval = Interval::Auto;
    if let Some(t) = root.table("schedule") {
        if let Some(value) = t.string("interval") {
            if value != "auto" {
                match parse_duration(&value) {
                    Some(d) if !d.is_zero() => interval = Interval::Every(d),
                    _ => t.problems().add(
                        t.node("interval").and_then(|n| n.line),
                        "schedule.interval",
                        format!("`schedule.interval` = \"{value}\" is not a duration"),
                        "write \"auto\" or a duration such as \"30s\", \"15m\" or \"4h\"",
                    ),
                }
            }
        }
        t.finish();
    }
    Some(interval)
}

fn read_server(root: &TableReader<'_>, base: &Path) -> Option<ServerConfig> {
    let mut server = ServerConfig {
        listen: "127.0.0.1:8377".into(),
        token: None,
        read_token: None,
        tls_cert: None,
        tls_key: None,
        allow_plain_http: false,
        max_connections: 256,
    };
    if let Some(t) = root.table("server") {
        if let Some(listen) = t.string("listen") {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                t.problems().add(
                    t.node("listen").and_then(|n| n.line),
                    "server.listen",
                    format!("`server.listen` = \"{listen}\" is not an address and port"),
                    "write it as \"127.0.0.1:8377\"",
                );
            }
            server.listen = listen;
        }
        server.token = t
            .string("token")
            .and_then(|v| secret_ref(&t, "token", &v, base));
        server.read_token = t
            .string("read_token")
            .and_then(|v| secret_ref(&t, "read_token", &v, base));
        server.tls_cert = t.string("tls_cert").map(|p| base.join(p));
        server.tls_key = t.string("tls_key").map(|p| base.join(p));
        if server.tls_cert.is_some() != server.tls_key.is_some() {
            t.problems().add(
                t.node("tls_cert")
                    .or_else(|| t.node("tls_key"))
                    .and_then(|n| n.line),
                "server.tls_cert",
                "`server.tls_cert` and `server.tls_key` come together".to_owned(),
                "set both: the certificate chain and its private key, as PEM files",
            );
        }
        if let Some(allow) = t.boolean("allow_plain_http") {
            server.allow_plain_http = allow;
        }
        if let Some(n) = t.integer("max_connections") {
            match usize::try_from(n) {
                Ok(n) if n > 0 => server.max_connections = n,
                _ => t.problems().add(
                    t.node("max_connections").and_then(|n| n.line),
                    "server.max_connections",
                    format!("`server.max_connections` is {n}"),
                    "write a positive number of connections, e.g. 256",
                ),
            }
        }
        t.finish();
    }
    Some(server)
}

fn read_source(t: &TableReader<'_>, base: &Path) -> Option<SourceConfig> {
    let name = t.required_string("name", "name the source, e.g. name = \"workday\"");
    let path = t.required_string(
        "path",
        "give the export file, e.g. path = \"exports/workday.csv\"",
    );
    if let Some(p) = &path {
        let ext = Path::new(p)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if !matches!(ext, "csv" | "json" | "jsonl") {
            t.problems().add(
                t.node("path").and_then(|n| n.line),
                &format!("{}.path", t.path),
                format!("source file \"{p}\" is not .csv, .json or .jsonl"),
                "export the source as CSV, a JSON array or JSON Lines",
            );
        }
    }
    let mut columns = Vec::new();
    if let Some(c) = t.table("columns") {
        for (attribute, node) in c.entries() {
            match &node.value {
                doc::Value::String(column) => columns.push((attribute.clone(), column.clone())),
                other => t.problems().add(
                    node.line,
                    &format!("{}.columns.{attribute}", t.path),
                    format!("column of `{attribute}` is {}, not a string", other.kind()),
                    "write the column or field name as a string",
                ),
            }
        }
    }
    let line = t.line;
    t.finish();
    Some(SourceConfig {
        name: name?,
        path: base.join(path?),
        columns,
        line,
    })
}

fn read_connector(t: &TableReader<'_>, base: &Path) -> Option<ConnectorConfig> {
    let problems = t.problems();
    let integration = t.required_string(
        "integration",
        "add the connector's integration id, e.g. integration = \"snow\"",
    );
    let system_name = t.required_string(
        "system",
        "add system = \"servicenow\" (or jira, salesforce, freshservice, manageengine)",
    );
    let system = system_name
        .as_deref()
        .and_then(|name| match System::parse(name) {
            Some(system) => Some(system),
            None => {
                let names: Vec<&str> = System::ALL.iter().map(|s| s.as_str()).collect();
                problems.add(
                    t.node("system").and_then(|n| n.line),
                    &format!("{}.system", t.path),
                    format!("unknown system \"{name}\""),
                    match doc::closest(name, &names) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => format!("use one of {}", names.join(", ")),
                    },
                );
                None
            }
        });
    let base_url = t
        .required_string(
            "base_url",
            "add the instance's address, e.g. base_url = \"https://acme.service-now.com\"",
        )
        .and_then(|raw| checked_url(t, "base_url", &raw));
    let requests_per_minute = match t.integer("requests_per_minute") {
        None => NonZeroU32::new(600),
        Some(n) => match u32::try_from(n).ok().and_then(NonZeroU32::new) {
            Some(n) => Some(n),
            None => {
                problems.add(
                    t.node("requests_per_minute").and_then(|n| n.line),
                    &format!("{}.requests_per_minute", t.path),
                    format!("`requests_per_minute` is {n}"),
                    "write a positive number of requests per minute, e.g. 600",
                );
                None
            }
        },
    };
    let lookup_by = t.string("lookup_by");
    if let Some(field) = &lookup_by
        && !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        problems.add(
            t.node("lookup_by").and_then(|n| n.line),
            &format!("{}.lookup_by", t.path),
            format!("`lookup_by` = \"{field}\" is not a field name"),
            "write a field name of letters, digits and underscores, e.g. \"user_name\"",
        );
    }
    let timeout = match t.string("timeout") {
        None => Some(Duration::from_secs(30)),
        Some(raw) => match parse_duration(&raw) {
            Some(d) if !d.is_zero() => Some(d),
            _ => {
                problems.add(
                    t.node("timeout").and_then(|n| n.line),
                    &format!("{}.timeout", t.path),
                    format!("`timeout` = \"{raw}\" is not a duration"),
                    "write a duration such as \"30s\"",
                );
                None
            }
        },
    };
    let auth = match t.table("auth") {
        Some(a) => read_auth(&a, system, base),
        None => {
            problems.add(
                t.line,
                &format!("{}.auth", t.path),
                "the connector has no [connectors.auth] table".to_string(),
                "add one; SPEC section 3 and config.example.toml list the keys per auth type",
            );
            None
        }
    };
    let readiness = match t.table("readiness") {
        Some(r) => readiness::read_readiness(&r, system),
        None => ReadinessSettings::default(),
    };
    let line = t.node("integration").and_then(|n| n.line).or(t.line);
    t.finish();
    Some(ConnectorConfig {
        integration: Integration::new(integration?),
        system: system?,
        base_url: base_url?,
        requests_per_minute: requests_per_minute?,
        lookup_by,
        timeout: timeout?,
        auth: auth?,
        readiness,
        line,
    })
}

/// A URL we will send credentials to: https, or http on loopback only.
pub(super) fn checked_url(t: &TableReader<'_>, key: &'static str, raw: &str) -> Option<Url> {
    let line = t.node(key).and_then(|n| n.line);
    let path = format!("{}.{key}", t.path);
    // Messages show the URL without a user or password it may carry.
    let shown = redact_url(raw);
    let url = match Url::parse(raw.trim()) {
        Ok(url) => url,
        Err(err) => {
            t.problems().add(
                line,
                &path,
                format!("`{key}` = \"{shown}\" is not a URL ({err})"),
                "write it as https://host",
            );
            return None;
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        t.problems().add(
            line,
            &path,
            format!("`{key}` holds a user name or password in the URL (not shown)"),
            "remove it from the URL; credentials go in [connectors.auth] as env: or file: references",
        );
        return None;
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Some(url),
        "http" if loopback => Some(url),
        "http" => {
            t.problems().add(
                line,
                &path,
                format!(
                    "`{key}` = \"{shown}\" uses http://, which would send credentials in the clear"
                ),
                "use https:// (http:// is accepted for loopback addresses only)",
            );
            None
        }
        other => {
            t.problems().add(
                line,
                &path,
                format!("`{key}` has scheme \"{other}\""),
                "use https://",
            );
            None
        }
    }
}

/// The URL text with anything between `//` and `@` replaced, since that
/// part can hold a password.
fn redact_url(raw: &str) -> String {
    let Some(start) = raw.find("//").map(|i| i + 2) else {
        return raw.to_owned();
    };
    let authority_end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    match raw[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &raw[start + at..]),
        None => raw.to_owned(),
    }
}

/// "30s", "15m", "4h", "1h 30m".
pub fn parse_duration(value: &str) -> Option<Duration> {
    let span: jiff::SignedDuration = value.trim().parse().ok()?;
    Duration::try_from(span).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
identities = "identities.toml"

[[connectors]]
integration = "snow"
system = "servicenow"
base_url = "https://acme.service-now.com"
[connectors.auth]
type = "basic"
username = "moveworks.bot"
password = "env:SNOW_PASSWORD"
"#;

    #[test]
    fn a_minimal_config_reads_with_defaults() {
        let config = Config::parse(Path::new("/etc/itsmid/itsmid.toml"), GOOD).expect("valid");
        assert_eq!(config.identities, Path::new("/etc/itsmid/identities.toml"));
        assert_eq!(config.connectors.len(), 1);
        assert_eq!(config.connectors[0].requests_per_minute.get(), 600);
        assert_eq!(config.pipeline.large_change_min_users, 100);
        assert_eq!(config.interval, Interval::Auto);
    }

    #[test]
    fn a_literal_password_is_refused_without_repeating_it() {
        let text = GOOD.replace("env:SNOW_PASSWORD", "hunter2-literal");
        let errors = Config::parse(Path::new("c.toml"), &text)
            .expect_err("refused")
            .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, Some(11));
        let shown = errors[0].to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("env:NAME"), "{shown}");
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let text = GOOD
            .replace(
                "https://acme.service-now.com",
                "http://acme.service-now.com",
            )
            .replace("system = \"servicenow\"", "system = \"servicenw\"")
            .replace("identities =", "identites =");
        let errors = Config::parse(Path::new("c.toml"), &text)
            .expect_err("refused")
            .0;
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 4, "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|e| e.contains("did you mean \"servicenow\""))
        );
        assert!(
            shown
                .iter()
                .any(|e| e.contains("did you mean `identities`"))
        );
        assert!(shown.iter().any(|e| e.contains("http://")));
    }

    #[test]
    fn a_url_with_a_password_is_refused_without_showing_it() {
        for url in [
            "https://bot:hunter2pw@acme.service-now.com",
            "http://bot:hunter2pw@acme.service-now.com",
        ] {
            let text = GOOD.replace("https://acme.service-now.com", url);
            let errors = Config::parse(Path::new("c.toml"), &text)
                .expect_err("refused")
                .0;
            let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            assert_eq!(errors.len(), 1, "{shown:?}");
            assert!(!shown[0].contains("hunter2pw"), "{shown:?}");
        }
        assert_eq!(redact_url("http://u:p@h/x@y"), "http://***@h/x@y");
        assert_eq!(redact_url("https://h/path"), "https://h/path");
    }

    #[test]
    fn every_missing_secret_of_a_connector_is_named() {
        let text = r#"
identities = "identities.toml"
[[connectors]]
integration = "manageengine"
system = "manageengine"
base_url = "https://sdpondemand.manageengine.com/app/itdesk"
[connectors.auth]
type = "zoho_oauth"
token_url = "https://accounts.zoho.com/oauth/v2/token"
client_id = "1000.X"
client_secret = "env:ITSMID_TEST_NO_SUCH_SECRET_A"
refresh_token = "env:ITSMID_TEST_NO_SUCH_SECRET_B"
"#;
        let config = Config::parse(Path::new("c.toml"), text).expect("valid");
        let err = connector_settings(&config.connectors[0])
            .expect_err("secrets are missing")
            .to_string();
        assert!(
            err.contains("ITSMID_TEST_NO_SUCH_SECRET_A")
                && err.contains("ITSMID_TEST_NO_SUCH_SECRET_B"),
            "{err}"
        );
    }

    #[test]
    fn durations_read_as_an_administrator_writes_them() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("4h"), Some(Duration::from_secs(14_400)));
        assert_eq!(parse_duration("soon"), None);
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_documented_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let config = Config::load(&path).unwrap_or_else(|errors| panic!("{errors}"));
        let mut systems: Vec<System> = config.connectors.iter().map(|c| c.system).collect();
        systems.sort();
        let mut all = System::ALL.to_vec();
        all.sort();
        assert_eq!(systems, all, "one uncommented connector per system");
        assert_eq!(config.sources.len(), 1);
        assert_eq!(config.pipeline.custom_attributes, vec!["office".to_owned()]);
    }
}
