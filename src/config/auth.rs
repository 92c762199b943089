//! The `[connectors.auth]` table (SPEC section 3): one variant per auth
//! type, the keys each needs, and the connector's settings built from it
//! once its secrets are resolved.
//!
//! Which auth types a system accepts is the connectors' knowledge
//! (`System::auth_types`); this only reads what the file says.

use std::path::Path;

use itsmid_connectors::{
    AuthType, ConnectorSettings, Credentials, GrantKind, HttpSettings, OAuthGrant, System,
    TokenScheme, check_rsa_private_key,
};
use secrecy::SecretString;
use url::Url;

use super::secret::{SecretError, SecretRef, secret_ref};
use super::{ConnectorConfig, checked_url};
use crate::doc::TableReader;

/// The secrets of one connector that could not be read, all at once.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct MissingSecrets(pub Vec<SecretError>);

/// An auth table, by `type`.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    Basic {
        username: String,
        password: SecretRef,
    },
    Bearer {
        token: SecretRef,
        instance_url: Option<Url>,
    },
    /// ServiceNow's OAuth password grant.
    OauthPassword {
        /// `None`: `<base_url>/oauth_token.do`.
        token_url: Option<Url>,
        client_id: String,
        client_secret: SecretRef,
        username: String,
        password: SecretRef,
    },
    /// Salesforce's connected-app JWT bearer flow.
    JwtBearer {
        token_url: Url,
        /// The connected app's consumer key.
        client_id: String,
        username: String,
        /// An unencrypted RSA private key in PEM.
        private_key: SecretRef,
        /// `None`: the token URL's origin.
        audience: Option<String>,
    },
    ClientCredentials {
        token_url: Url,
        client_id: String,
        client_secret: SecretRef,
        instance_url: Option<Url>,
    },
    ApiKey {
        api_key: SecretRef,
    },
    AuthToken {
        token: SecretRef,
    },
    ZohoOauth {
        token_url: Url,
        client_id: String,
        client_secret: SecretRef,
        refresh_token: SecretRef,
    },
}

pub(super) fn read_auth(
    t: &TableReader<'_>,
    system: Option<System>,
    base: &Path,
) -> Option<AuthConfig> {
    let problems = t.problems();
    let kind = t.required_string(
        "type",
        "add type = \"basic\" (or bearer, oauth_password, jwt_bearer, client_credentials, api_key, authtoken, zoho_oauth)",
    )?;
    let auth_type = AuthType::parse(&kind);
    if let Some(system) = system
        && !auth_type.is_some_and(|a| system.auth_types().contains(&a))
    {
        let accepted: Vec<&str> = system.auth_types().iter().map(|a| a.as_str()).collect();
        problems.add(
            t.node("type").and_then(|n| n.line),
            &format!("{}.type", t.path),
            format!("auth type \"{kind}\" does not work with {system}"),
            format!("use one of: {}", accepted.join(", ")),
        );
        t.finish();
        return None;
    }
    let Some(auth_type) = auth_type else {
        let all: Vec<&str> = AuthType::ALL.iter().map(|a| a.as_str()).collect();
        problems.add(
            t.node("type").and_then(|n| n.line),
            &format!("{}.type", t.path),
            format!("unknown auth type \"{kind}\""),
            format!("use one of {}", all.join(", ")),
        );
        t.allow(&["type"]);
        t.finish();
        return None;
    };
    let secret = |key: &'static str| -> Option<SecretRef> {
        let fix = format!("add {key} = \"env:VARIABLE\" (or \"file:PATH\")");
        t.required_string(key, &fix)
            .and_then(|v| secret_ref(t, key, &v, base))
    };
    let text = |key: &'static str, fix: &str| t.required_string(key, fix);
    let url = |key: &'static str| -> Option<Url> {
        t.string(key).and_then(|raw| checked_url(t, key, &raw))
    };
    let auth = match auth_type {
        AuthType::Basic => {
            let username = text("username", "add the account's user name (Jira: its e-mail)");
            let password = secret("password");
            Some(AuthConfig::Basic {
                username: username?,
                password: password?,
            })
        }
        AuthType::Bearer => {
            let token = secret("token");
            let instance_url = url("instance_url");
            if instance_url.is_some() && !system.is_some_and(System::has_instance_url) {
                problems.add(
                    t.node("instance_url").and_then(|n| n.line),
                    &format!("{}.instance_url", t.path),
                    "`instance_url` is for Salesforce only".to_string(),
                    "remove it; base_url is the instance",
                );
            }
            Some(AuthConfig::Bearer {
                token: token?,
                instance_url,
            })
        }
        AuthType::OauthPassword => {
            let token_url = url("token_url");
            let client_id = text(
                "client_id",
                "add the OAuth client's id (System OAuth > Application Registry)",
            );
            let client_secret = secret("client_secret");
            let username = text("username", "add the service account's user name");
            let password = secret("password");
            Some(AuthConfig::OauthPassword {
                token_url,
                client_id: client_id?,
                client_secret: client_secret?,
                username: username?,
                password: password?,
            })
        }
        AuthType::JwtBearer => {
            let token_url = text(
                "token_url",
                "add the token endpoint, e.g. https://login.salesforce.com/services/oauth2/token",
            )
            .and_then(|r| checked_url(t, "token_url", &r));
            let client_id = text("client_id", "add the connected app's consumer key");
            let username = text("username", "add the Salesforce username the bot logs in as");
            let private_key = secret("private_key").filter(|key| rsa_key_usable(t, key));
            let audience = t.string("audience");
            Some(AuthConfig::JwtBearer {
                token_url: token_url?,
                client_id: client_id?,
                username: username?,
                private_key: private_key?,
                audience,
            })
        }
        AuthType::ClientCredentials => {
            let token_url = text("token_url", "add the OAuth token endpoint")
                .and_then(|r| checked_url(t, "token_url", &r));
            let client_id = text("client_id", "add the connected app's client id");
            let client_secret = secret("client_secret");
            let instance_url = url("instance_url");
            Some(AuthConfig::ClientCredentials {
                token_url: token_url?,
                client_id: client_id?,
                client_secret: client_secret?,
                instance_url,
            })
        }
        AuthType::ApiKey => Some(AuthConfig::ApiKey {
            api_key: secret("api_key")?,
        }),
        AuthType::AuthToken => Some(AuthConfig::AuthToken {
            token: secret("token")?,
        }),
        AuthType::ZohoOauth => {
            let token_url = text("token_url", "add the Zoho accounts token endpoint")
                .and_then(|r| checked_url(t, "token_url", &r));
            let client_id = text("client_id", "add the Zoho client id");
            let client_secret = secret("client_secret");
            let refresh_token = secret("refresh_token");
            Some(AuthConfig::ZohoOauth {
                token_url: token_url?,
                client_id: client_id?,
                client_secret: client_secret?,
                refresh_token: refresh_token?,
            })
        }
    };
    t.allow(&["type"]);
    t.finish();
    auth
}

/// Builds a connector's settings, resolving its secrets now.
pub fn connector_settings(
    connector: &ConnectorConfig,
) -> Result<ConnectorSettings, MissingSecrets> {
    let resolve = |r: &SecretRef| r.resolve().map_err(|e| MissingSecrets(vec![e]));
    let credentials = match &connector.auth {
        AuthConfig::Basic { username, password } => Credentials::Basic {
            username: username.clone(),
            password: resolve(password)?,
        },
        AuthConfig::Bearer { token, .. } => Credentials::Bearer {
            token: resolve(token)?,
        },
        AuthConfig::ApiKey { api_key } => Credentials::ApiKey {
            key: resolve(api_key)?,
        },
        AuthConfig::AuthToken { token } => Credentials::AuthToken {
            token: resolve(token)?,
        },
        AuthConfig::ClientCredentials {
            token_url,
            client_id,
            client_secret,
            ..
        } => Credentials::OAuth(OAuthGrant {
            token_url: token_url.clone(),
            client_id: client_id.clone(),
            client_secret: Some(resolve(client_secret)?),
            kind: GrantKind::ClientCredentials,
            scheme: TokenScheme::Bearer,
        }),
        AuthConfig::JwtBearer {
            token_url,
            client_id,
            username,
            private_key,
            audience,
        } => Credentials::OAuth(OAuthGrant {
            token_url: token_url.clone(),
            client_id: client_id.clone(),
            // The assertion is signed; no client secret is sent.
            client_secret: None,
            kind: GrantKind::JwtBearer {
                username: username.clone(),
                private_key: resolve(private_key)?,
                audience: audience
                    .clone()
                    .unwrap_or_else(|| token_url.origin().ascii_serialization()),
            },
            scheme: TokenScheme::Bearer,
        }),
        AuthConfig::OauthPassword {
            token_url,
            client_id,
            client_secret,
            username,
            password,
        } => match (client_secret.resolve(), password.resolve()) {
            (Ok(client_secret), Ok(password)) => Credentials::OAuth(OAuthGrant {
                token_url: token_url
                    .clone()
                    .unwrap_or_else(|| default_token_url(&connector.base_url)),
                client_id: client_id.clone(),
                client_secret: Some(client_secret),
                kind: GrantKind::Password {
                    username: username.clone(),
                    password,
                },
                scheme: TokenScheme::Bearer,
            }),
            (secret, password) => return Err(both_missing(secret.err(), password.err())),
        },
        AuthConfig::ZohoOauth {
            token_url,
            client_id,
            client_secret,
            refresh_token,
        } => match (client_secret.resolve(), refresh_token.resolve()) {
            (Ok(client_secret), Ok(refresh_token)) => Credentials::OAuth(OAuthGrant {
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret: Some(client_secret),
                kind: GrantKind::RefreshToken(refresh_token),
                scheme: TokenScheme::ZohoOauthtoken,
            }),
            (secret, refresh) => return Err(both_missing(secret.err(), refresh.err())),
        },
    };
    let instance_url = match &connector.auth {
        AuthConfig::Bearer { instance_url, .. }
        | AuthConfig::ClientCredentials { instance_url, .. } => instance_url.clone(),
        _ => None,
    };
    Ok(ConnectorSettings {
        integration: connector.integration.clone(),
        system: connector.system,
        base_url: connector.base_url.clone(),
        credentials,
        instance_url,
        lookup_field: lookup_field(connector),
        http: http_settings(connector),
        readiness: connector.readiness.clone(),
    })
}

/// Whether a `private_key` file that exists holds an RSA private key that
/// signs; a problem at the key's line when not. A missing file (or an
/// environment variable) is checked when the key is read, at run time.
fn rsa_key_usable(t: &TableReader<'_>, key: &SecretRef) -> bool {
    let SecretRef::File(path) = key else {
        return true;
    };
    if !path.exists() {
        return true;
    }
    let why = match key.resolve() {
        Ok(pem) => match check_rsa_private_key(&pem) {
            Ok(()) => return true,
            Err(why) => why,
        },
        Err(error) => error.to_string(),
    };
    t.problems().add(
        t.node("private_key").and_then(|n| n.line),
        &format!("{}.private_key", t.path),
        format!("{}: {why} (its content is not shown)", path.display()),
        "point private_key at the connected app's unencrypted RSA key in PEM          (openssl rsa -in key.pem -out plain.pem removes a passphrase)",
    );
    false
}

/// Both missing secrets of a connector, named at once.
fn both_missing(first: Option<SecretError>, second: Option<SecretError>) -> MissingSecrets {
    MissingSecrets([first, second].into_iter().flatten().collect())
}

/// ServiceNow's token endpoint under the instance: `<base_url>/oauth_token.do`,
/// keeping a path prefix the base URL has.
/// What a replay's connector sends in place of every secret: the
/// recording's simulator accepts any credential (SPEC section 8), so no
/// secret reference is resolved.
const REPLAY_SECRET: &str = "replay";

/// The connector's settings for a replay against the simulator at
/// `simulator`: the same system, integration, auth type and non-secret
/// keys, every secret a placeholder, and every address (the base URL, a
/// token URL, an instance URL) moved to the simulator, keeping its path, so
/// that nothing else is contacted. A JWT bearer flow, which cannot sign
/// without its key, replays as the client credentials flow: both ask
/// Salesforce's `userinfo` whom the token belongs to.
pub fn replay_settings(
    connector: &ConnectorConfig,
    simulator: &Url,
    recorded_username: Option<&str>,
) -> ConnectorSettings {
    let placeholder = || SecretString::from(REPLAY_SECRET);
    // A pseudonymized recording names the user the credentials logged in
    // as by its pseudonym, which the recorded records carry.
    let login = |configured: &str| recorded_username.unwrap_or(configured).to_owned();
    let moved = |url: &Url| at_simulator(url, simulator);
    let oauth = |token_url: &Url, client_id: &str, kind: GrantKind, scheme: TokenScheme| {
        Credentials::OAuth(OAuthGrant {
            token_url: moved(token_url),
            client_id: client_id.to_owned(),
            client_secret: Some(placeholder()),
            kind,
            scheme,
        })
    };
    let credentials = match &connector.auth {
        AuthConfig::Basic { username, .. } => Credentials::Basic {
            username: login(username),
            password: placeholder(),
        },
        AuthConfig::Bearer { .. } => Credentials::Bearer {
            token: placeholder(),
        },
        AuthConfig::ApiKey { .. } => Credentials::ApiKey { key: placeholder() },
        AuthConfig::AuthToken { .. } => Credentials::AuthToken {
            token: placeholder(),
        },
        AuthConfig::ClientCredentials {
            token_url,
            client_id,
            ..
        }
        | AuthConfig::JwtBearer {
            token_url,
            client_id,
            ..
        } => oauth(
            token_url,
            client_id,
            GrantKind::ClientCredentials,
            TokenScheme::Bearer,
        ),
        AuthConfig::OauthPassword {
            token_url,
            client_id,
            username,
            ..
        } => oauth(
            &token_url
                .clone()
                .unwrap_or_else(|| default_token_url(&connector.base_url)),
            client_id,
            GrantKind::Password {
                username: login(username),
                password: placeholder(),
            },
            TokenScheme::Bearer,
        ),
        AuthConfig::ZohoOauth {
            token_url,
            client_id,
            ..
        } => oauth(
            token_url,
            client_id,
            GrantKind::RefreshToken(placeholder()),
            TokenScheme::ZohoOauthtoken,
        ),
    };
    let instance_url = match &connector.auth {
        AuthConfig::Bearer { instance_url, .. }
        | AuthConfig::ClientCredentials { instance_url, .. } => instance_url.as_ref().map(moved),
        _ => None,
    };
    ConnectorSettings {
        integration: connector.integration.clone(),
        system: connector.system,
        base_url: simulator.clone(),
        credentials,
        instance_url,
        lookup_field: lookup_field(connector),
        http: http_settings(connector),
        readiness: connector.readiness.clone(),
    }
}

/// The field that holds the External ID: `lookup_by`, else the system's.
fn lookup_field(connector: &ConnectorConfig) -> String {
    connector
        .lookup_by
        .clone()
        .unwrap_or_else(|| connector.system.default_lookup_field().to_owned())
}

/// The connector's rate limit and timeout over the HTTP defaults.
fn http_settings(connector: &ConnectorConfig) -> HttpSettings {
    HttpSettings {
        requests_per_minute: connector.requests_per_minute,
        timeout: connector.timeout,
        ..HttpSettings::default()
    }
}

/// The user name the credentials log in as, where the auth type has one.
pub fn auth_username(auth: &AuthConfig) -> Option<&str> {
    match auth {
        AuthConfig::Basic { username, .. }
        | AuthConfig::OauthPassword { username, .. }
        | AuthConfig::JwtBearer { username, .. } => Some(username),
        AuthConfig::Bearer { .. }
        | AuthConfig::ApiKey { .. }
        | AuthConfig::AuthToken { .. }
        | AuthConfig::ClientCredentials { .. }
        | AuthConfig::ZohoOauth { .. } => None,
    }
}

/// `url` with the simulator's scheme, host and port, its path and query kept.
fn at_simulator(url: &Url, simulator: &Url) -> Url {
    let mut moved = simulator.clone();
    moved.set_path(url.path());
    moved.set_query(url.query());
    moved
}

fn default_token_url(base_url: &Url) -> Url {
    let mut url = base_url.clone();
    let joined = format!("{}/oauth_token.do", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CLIENT_SECRET: &str = "canary-client-secret-5Rt";
    const PASSWORD: &str = "canary-password-8Jd";

    /// An `oauth_password` connector of `system`, its secrets in files in `dir`.
    fn oauth_password(dir: &Path, system: &str, token_url: &str) -> String {
        for (name, value) in [("client-secret", CLIENT_SECRET), ("password", PASSWORD)] {
            let path = dir.join(name);
            std::fs::write(&path, value).expect("write a secret");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod 600");
            }
        }
        format!(
            "identities = \"identities.toml\"\n[[connectors]]\nintegration = \"snow\"\n\
             system = \"{system}\"\nbase_url = \"https://acme.service-now.com/\"\n\
             [connectors.auth]\ntype = \"oauth_password\"\n{token_url}client_id = \"snow-client\"\n\
             client_secret = \"file:client-secret\"\nusername = \"moveworks.bot\"\n\
             password = \"file:password\"\n"
        )
    }

    #[test]
    fn oauth_password_reads_its_keys_and_keeps_its_secrets_out_of_debug() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let text = oauth_password(dir.path(), "servicenow", "");
        let config = Config::parse(&dir.path().join("c.toml"), &text).expect("valid");
        let settings = connector_settings(&config.connectors[0]).expect("secrets resolve");
        let Credentials::OAuth(grant) = &settings.credentials else {
            panic!("expected OAuth credentials, got {:?}", settings.credentials);
        };
        assert_eq!(
            grant.token_url.as_str(),
            "https://acme.service-now.com/oauth_token.do"
        );
        assert_eq!(grant.client_id, "snow-client");
        assert_eq!(grant.scheme, TokenScheme::Bearer);
        assert!(
            matches!(&grant.kind, GrantKind::Password { username, .. } if username == "moveworks.bot")
        );
        for shown in [format!("{config:?}"), format!("{settings:?}")] {
            assert!(!shown.contains(CLIENT_SECRET), "{shown}");
            assert!(!shown.contains(PASSWORD), "{shown}");
        }
    }

    #[test]
    fn oauth_password_takes_a_token_url_and_is_refused_for_other_systems() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let text = oauth_password(
            dir.path(),
            "servicenow",
            "token_url = \"https://sso.acme.com/oauth_token.do\"\n",
        );
        let config = Config::parse(&dir.path().join("c.toml"), &text).expect("valid");
        let settings = connector_settings(&config.connectors[0]).expect("secrets resolve");
        let Credentials::OAuth(grant) = &settings.credentials else {
            panic!("expected OAuth credentials");
        };
        assert_eq!(
            grant.token_url.as_str(),
            "https://sso.acme.com/oauth_token.do"
        );

        let text = oauth_password(dir.path(), "jira", "");
        let errors = Config::parse(&dir.path().join("c.toml"), &text)
            .expect_err("refused")
            .to_string();
        assert!(errors.contains("does not work with jira"), "{errors}");
    }

    #[test]
    fn the_default_token_url_is_under_the_base_url() {
        let at = |base: &str| default_token_url(&Url::parse(base).expect("a URL")).to_string();
        assert_eq!(
            at("https://acme.service-now.com"),
            "https://acme.service-now.com/oauth_token.do"
        );
        assert_eq!(
            at("https://proxy.acme.com/snow/"),
            "https://proxy.acme.com/snow/oauth_token.do"
        );
    }

    const JWT_KEY: &str =
        include_str!("../../connectors/tests/connectors/salesforce/jwt-private-key-pkcs1.pem");

    /// A `jwt_bearer` Salesforce connector whose key file holds `key`.
    fn jwt_bearer(dir: &Path, key: &str, audience: &str) -> Result<Config, String> {
        let path = dir.join("sf-key.pem");
        std::fs::write(&path, key).expect("write the key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod 600");
        }
        let text = format!(
            "identities = \"identities.toml\"\n[[connectors]]\nintegration = \"salesforce\"\n\
             system = \"salesforce\"\nbase_url = \"https://acme.my.salesforce.com\"\n\
             [connectors.auth]\ntype = \"jwt_bearer\"\n\
             token_url = \"https://login.salesforce.com/services/oauth2/token\"\n\
             client_id = \"consumer-key\"\nusername = \"bot@acme.com\"\n\
             private_key = \"file:sf-key.pem\"\n{audience}"
        );
        Config::parse(&dir.join("c.toml"), &text).map_err(|errors| errors.to_string())
    }

    #[test]
    fn jwt_bearer_reads_its_keys_defaults_the_audience_and_keeps_the_key_out_of_debug() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = jwt_bearer(dir.path(), JWT_KEY, "").expect("valid");
        let settings = connector_settings(&config.connectors[0]).expect("the key resolves");
        let Credentials::OAuth(grant) = &settings.credentials else {
            panic!("expected OAuth credentials");
        };
        assert_eq!(grant.client_id, "consumer-key");
        let GrantKind::JwtBearer {
            username, audience, ..
        } = &grant.kind
        else {
            panic!("expected the JWT bearer grant");
        };
        assert_eq!(username, "bot@acme.com");
        assert_eq!(audience, "https://login.salesforce.com");
        let body_line = JWT_KEY.lines().nth(1).expect("a PEM body");
        for shown in [format!("{config:?}"), format!("{settings:?}")] {
            assert!(!shown.contains(body_line), "{shown}");
        }

        let config = jwt_bearer(
            dir.path(),
            JWT_KEY,
            "audience = \"https://test.salesforce.com\"\n",
        )
        .expect("valid");
        let settings = connector_settings(&config.connectors[0]).expect("the key resolves");
        let Credentials::OAuth(OAuthGrant {
            kind: GrantKind::JwtBearer { audience, .. },
            ..
        }) = &settings.credentials
        else {
            panic!("expected the JWT bearer grant");
        };
        assert_eq!(audience, "https://test.salesforce.com");
    }

    #[test]
    fn a_jwt_bearer_key_file_that_is_not_an_rsa_key_is_refused_without_its_content() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let errors = jwt_bearer(dir.path(), "not a key canary-Hx4\n", "").expect_err("refused");
        assert!(errors.contains("private_key"), "{errors}");
        assert!(errors.contains("not an RSA private key"), "{errors}");
        assert!(!errors.contains("canary-Hx4"), "{errors}");
    }
}
