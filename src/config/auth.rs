//! The `[connectors.auth]` table (SPEC section 3): one variant per auth
//! type, the keys each needs, and the connector's settings built from it
//! once its secrets are resolved.
//!
//! Which auth types a system accepts is the connectors' knowledge
//! (`System::auth_types`); this only reads what the file says.

use std::path::Path;

use itsmid_connectors::{
    AuthType, ConnectorSettings, Credentials, HttpSettings, OAuthGrant, System, TokenScheme,
};
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
        "add type = \"basic\" (or bearer, client_credentials, api_key, authtoken, zoho_oauth)",
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
            client_secret: resolve(client_secret)?,
            refresh_token: None,
            scheme: TokenScheme::Bearer,
        }),
        AuthConfig::ZohoOauth {
            token_url,
            client_id,
            client_secret,
            refresh_token,
        } => match (client_secret.resolve(), refresh_token.resolve()) {
            (Ok(client_secret), Ok(refresh_token)) => Credentials::OAuth(OAuthGrant {
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret,
                refresh_token: Some(refresh_token),
                scheme: TokenScheme::ZohoOauthtoken,
            }),
            // Both missing secrets are named at once.
            (secret, refresh) => {
                let missing: Vec<SecretError> = [secret.err(), refresh.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                return Err(MissingSecrets(missing));
            }
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
        lookup_field: connector
            .lookup_by
            .clone()
            .unwrap_or_else(|| connector.system.default_lookup_field().to_owned()),
        http: HttpSettings {
            requests_per_minute: connector.requests_per_minute,
            timeout: connector.timeout,
            ..HttpSettings::default()
        },
        readiness: connector.readiness.clone(),
    })
}
