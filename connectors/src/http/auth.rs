//! Credentials and what is done with them: the resolved secrets, the OAuth
//! grant and the access token it yields (fetched on first use; `send`
//! refreshes it once per run), and `authorize`, which builds the auth header.
//!
//! The only code that calls `expose_secret`, and only to put a secret into a
//! header or the token request's form: never into a log line or an error.

use std::sync::atomic::Ordering;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{ConnectorError, HttpClient};

/// Resolved credentials. Secrets stay `SecretString` until a header is
/// built in this file; `Debug` prints them as `[REDACTED]`.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// ServiceNow user and password; Jira e-mail and API token.
    Basic {
        username: String,
        password: SecretString,
    },
    Bearer {
        token: SecretString,
    },
    /// Freshservice: the key as the basic-auth user, `X` as password.
    ApiKey {
        key: SecretString,
    },
    /// ManageEngine on-premises: header `authtoken: <token>`.
    AuthToken {
        token: SecretString,
    },
    /// Access tokens fetched at run time (Salesforce client credentials,
    /// ManageEngine Cloud's Zoho refresh token).
    OAuth(OAuthGrant),
}

impl Credentials {
    /// Feeds every part of the credentials, the secrets included, to
    /// `hasher`, so that the daemon can tell a changed secret from an
    /// unchanged one without keeping it. Give it a keyed hasher whose
    /// output is never shown.
    pub fn fingerprint(&self, hasher: &mut impl std::hash::Hasher) {
        let mut feed = |part: &str| {
            hasher.write(part.as_bytes());
            hasher.write_u8(0);
        };
        match self {
            Credentials::Basic { username, password } => {
                feed("basic");
                feed(username);
                feed(password.expose_secret());
            }
            Credentials::Bearer { token } => {
                feed("bearer");
                feed(token.expose_secret());
            }
            Credentials::ApiKey { key } => {
                feed("api_key");
                feed(key.expose_secret());
            }
            Credentials::AuthToken { token } => {
                feed("authtoken");
                feed(token.expose_secret());
            }
            Credentials::OAuth(grant) => {
                feed("oauth");
                feed(grant.token_url.as_str());
                feed(&grant.client_id);
                feed(grant.client_secret.expose_secret());
                feed(
                    grant
                        .refresh_token
                        .as_ref()
                        .map(|t| t.expose_secret())
                        .unwrap_or(""),
                );
            }
        }
    }
}

/// How to obtain an access token, and how to present it.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `Some`: `grant_type=refresh_token` (Zoho); `None`: `client_credentials`.
    pub refresh_token: Option<SecretString>,
    pub scheme: TokenScheme,
}

/// The `Authorization` scheme an access token travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    Bearer,
    /// `Authorization: Zoho-oauthtoken <token>` (not Bearer).
    ZohoOauthtoken,
}

/// An access token obtained in this run; a secret like the others.
#[derive(Debug, Clone)]
pub(super) struct AccessToken {
    value: SecretString,
    /// Salesforce answers with the instance the token is valid for.
    instance_url: Option<Url>,
}

impl HttpClient {
    /// The instance URL the access token came with (Salesforce), fetching a
    /// token first if none is held. `None` for other credentials.
    pub async fn token_instance_url(&self) -> Result<Option<Url>, ConnectorError> {
        Ok(self.access_token().await?.and_then(|t| t.instance_url))
    }

    /// The held access token, fetched if OAuth credentials have none yet.
    pub(super) async fn access_token(&self) -> Result<Option<AccessToken>, ConnectorError> {
        let Credentials::OAuth(grant) = &self.credentials else {
            return Ok(None);
        };
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref() {
            return Ok(Some(token.clone()));
        }
        let token = self.fetch_token(grant).await?;
        *held = Some(token.clone());
        Ok(Some(token))
    }

    /// Posts the grant to the token endpoint. Counted like every request.
    async fn fetch_token(&self, grant: &OAuthGrant) -> Result<AccessToken, ConnectorError> {
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            instance_url: Option<String>,
            /// OAuth's refusal (`invalid_client`, `invalid_grant`); Zoho
            /// sends it with 200.
            #[serde(default)]
            error: Option<String>,
        }
        let path = grant.token_url.path().to_owned();
        let reply = self
            .run_with_retries(
                &path,
                &[StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED],
                || {
                    let mut form: Vec<(&str, &str)> = vec![
                        ("client_id", grant.client_id.as_str()),
                        ("client_secret", grant.client_secret.expose_secret()),
                    ];
                    match &grant.refresh_token {
                        Some(refresh) => {
                            form.push(("grant_type", "refresh_token"));
                            form.push(("refresh_token", refresh.expose_secret()));
                        }
                        None => form.push(("grant_type", "client_credentials")),
                    }
                    Ok(self
                        .client
                        .post(grant.token_url.clone())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .form(&form))
                },
            )
            .await?;
        let refused = |status: StatusCode, detail: &str| {
            tracing::debug!(integration = %self.integration, %path, %detail, "the token endpoint refused the grant");
            // A refused grant is a refused login: nothing more is sent.
            self.auth_failed.store(true, Ordering::SeqCst);
            ConnectorError::AuthRejected {
                integration: self.integration.clone(),
                method: Method::POST,
                path: path.clone(),
                status,
            }
        };
        if !reply.status.is_success() {
            return Err(refused(reply.status, "HTTP error"));
        }
        let answer: TokenAnswer = reply.json(&self.integration)?;
        let access_token = match (answer.error, answer.access_token) {
            (Some(error), _) => return Err(refused(reply.status, &error)),
            (None, Some(token)) if !token.is_empty() => token,
            (None, _) => {
                return Err(ConnectorError::BadResponse {
                    integration: self.integration.clone(),
                    method: Method::POST,
                    path,
                    detail: "the token answer has no access_token".into(),
                });
            }
        };
        let instance_url = answer
            .instance_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        Ok(AccessToken {
            value: SecretString::from(access_token),
            instance_url,
        })
    }
}

/// Adds the auth header. The only place a secret is exposed.
pub(super) fn authorize(
    request: reqwest::RequestBuilder,
    credentials: &Credentials,
    token: Option<&AccessToken>,
) -> Result<reqwest::RequestBuilder, String> {
    Ok(match credentials {
        Credentials::Basic { username, password } => {
            request.basic_auth(username, Some(password.expose_secret()))
        }
        Credentials::Bearer { token } => request.bearer_auth(token.expose_secret()),
        Credentials::ApiKey { key } => request.basic_auth(key.expose_secret(), Some("X")),
        Credentials::AuthToken { token } => {
            let mut value = HeaderValue::from_str(token.expose_secret())
                .map_err(|_| "the authtoken holds characters a header cannot carry".to_owned())?;
            // reqwest marks basic and bearer values sensitive, not custom ones.
            value.set_sensitive(true);
            request.header("authtoken", value)
        }
        Credentials::OAuth(grant) => {
            let token = token.ok_or_else(|| "no access token was obtained".to_owned())?;
            match grant.scheme {
                TokenScheme::Bearer => request.bearer_auth(token.value.expose_secret()),
                TokenScheme::ZohoOauthtoken => {
                    let mut value = HeaderValue::from_str(&format!(
                        "Zoho-oauthtoken {}",
                        token.value.expose_secret()
                    ))
                    .map_err(|_| {
                        "the access token holds characters a header cannot carry".to_owned()
                    })?;
                    value.set_sensitive(true);
                    request.header(reqwest::header::AUTHORIZATION, value)
                }
            }
        }
    })
}
