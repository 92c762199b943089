//! Credentials and what is done with them: the resolved secrets, the OAuth
//! grant and the access token it yields (fetched on first use, renewed when
//! its `expires_in` runs out; `send` renews it once per run after a 401),
//! and `authorize`, which builds the auth header.
//!
//! With `jwt.rs` (which signs with the private key), the only code that
//! calls `expose_secret`, and only to put a secret into a header or the
//! token request's form: never into a log line or an error.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
    /// Access tokens fetched at run time (Salesforce client credentials and
    /// JWT bearer, ManageEngine Cloud's Zoho refresh token, ServiceNow's
    /// password grant).
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
                if let Some(secret) = &grant.client_secret {
                    feed(secret.expose_secret());
                }
                match &grant.kind {
                    GrantKind::ClientCredentials => feed("client_credentials"),
                    GrantKind::RefreshToken(refresh) => {
                        feed("refresh_token");
                        feed(refresh.expose_secret());
                    }
                    GrantKind::Password { username, password } => {
                        feed("password");
                        feed(username);
                        feed(password.expose_secret());
                    }
                    GrantKind::JwtBearer {
                        username,
                        private_key,
                        audience,
                    } => {
                        feed("jwt_bearer");
                        feed(username);
                        feed(private_key.expose_secret());
                        feed(audience);
                    }
                }
            }
        }
    }
}

/// How to obtain an access token, and how to present it.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    pub token_url: Url,
    pub client_id: String,
    /// `None` for [`GrantKind::JwtBearer`], which signs instead.
    pub client_secret: Option<SecretString>,
    pub kind: GrantKind,
    pub scheme: TokenScheme,
}

/// The grant sent to the token endpoint; the client id and secret go in
/// the form body with each but the JWT bearer grant.
#[derive(Debug, Clone)]
pub enum GrantKind {
    /// `grant_type=client_credentials` (Salesforce).
    ClientCredentials,
    /// `grant_type=refresh_token` with a configured refresh token (Zoho).
    RefreshToken(SecretString),
    /// `grant_type=password` (ServiceNow `oauth_password`). The refresh
    /// token it answers with renews the access token; once that is
    /// refused, the password grant is sent again.
    Password {
        username: String,
        password: SecretString,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (Salesforce
    /// `jwt_bearer`): a fresh RS256 assertion per token request, `iss` the
    /// client id, `sub` the username, `aud` the audience.
    JwtBearer {
        username: String,
        /// An unencrypted RSA private key in PEM (PKCS#1 or PKCS#8).
        private_key: SecretString,
        audience: String,
    },
}

/// The client's id and, where it has one, its secret, as form fields.
fn client_fields(grant: &OAuthGrant) -> Vec<(&'static str, &str)> {
    let mut fields = vec![("client_id", grant.client_id.as_str())];
    if let Some(secret) = &grant.client_secret {
        fields.push(("client_secret", secret.expose_secret()));
    }
    fields
}

/// The JWT bearer grant's `grant_type`.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The `Authorization` scheme an access token travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    Bearer,
    /// `Authorization: Zoho-oauthtoken <token>` (not Bearer).
    ZohoOauthtoken,
}

/// Renewal starts this long before the token endpoint's `expires_in` ends,
/// so that no request leaves with a token about to expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// An access token obtained in this run; a secret like the others, as is
/// the refresh token that came with it.
#[derive(Debug, Clone)]
pub(super) struct AccessToken {
    value: SecretString,
    /// Salesforce answers with the instance the token is valid for.
    instance_url: Option<Url>,
    /// The password grant's refresh token, kept for renewals.
    refresh_token: Option<SecretString>,
    /// When to renew: `expires_in` less [`EXPIRY_MARGIN`]; never if absent.
    renew_at: Option<Instant>,
}

impl AccessToken {
    fn expired(&self) -> bool {
        self.renew_at.is_some_and(|at| Instant::now() >= at)
    }
}

/// A token endpoint's answer: a token, or a refusal of the grant.
enum Granted {
    Token(AccessToken),
    Refused { status: StatusCode, detail: String },
}

impl HttpClient {
    /// The instance URL the access token came with (Salesforce), fetching a
    /// token first if none is held. `None` for other credentials.
    pub async fn token_instance_url(&self) -> Result<Option<Url>, ConnectorError> {
        Ok(self.access_token().await?.and_then(|t| t.instance_url))
    }

    /// The held access token; fetched if OAuth credentials have none yet,
    /// renewed if it has expired.
    pub(super) async fn access_token(&self) -> Result<Option<AccessToken>, ConnectorError> {
        let Credentials::OAuth(grant) = &self.credentials else {
            return Ok(None);
        };
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref()
            && !token.expired()
        {
            return Ok(Some(token.clone()));
        }
        let token = self.fetch_token(grant, held.as_ref()).await?;
        *held = Some(token.clone());
        Ok(Some(token))
    }

    /// Marks the held access token expired after the server refused it, so
    /// the next [`HttpClient::access_token`] renews it (by its refresh
    /// token where there is one).
    pub(super) async fn expire_token(&self) {
        if let Some(token) = self.token.lock().await.as_mut() {
            token.renew_at = Some(Instant::now());
        }
    }

    /// A new access token: for the password grant, the refresh grant first
    /// when `previous` holds a refresh token, and if that is refused, the
    /// password grant once more. Only a refused grant of the credentials
    /// themselves is a refused login.
    async fn fetch_token(
        &self,
        grant: &OAuthGrant,
        previous: Option<&AccessToken>,
    ) -> Result<AccessToken, ConnectorError> {
        let path = grant.token_url.path().to_owned();
        let refresh = previous.and_then(|t| t.refresh_token.as_ref());
        if let (GrantKind::Password { .. }, Some(refresh)) = (&grant.kind, refresh) {
            let mut form = vec![("grant_type", "refresh_token")];
            form.extend(client_fields(grant));
            form.push(("refresh_token", refresh.expose_secret()));
            match self.request_token(grant, &form).await? {
                Granted::Token(mut token) => {
                    // An answer without a new refresh token keeps the old one.
                    token.refresh_token.get_or_insert_with(|| refresh.clone());
                    return Ok(token);
                }
                Granted::Refused { status, detail } => {
                    tracing::info!(integration = %self.integration, %path, status = status.as_u16(), %detail,
                        "the refresh token was refused; sending the password grant once more");
                }
            }
        }
        let mut form = client_fields(grant);
        let assertion;
        match &grant.kind {
            GrantKind::ClientCredentials => form.push(("grant_type", "client_credentials")),
            GrantKind::RefreshToken(refresh) => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", refresh.expose_secret()));
            }
            GrantKind::Password { username, password } => {
                form.insert(0, ("grant_type", "password"));
                form.push(("username", username.as_str()));
                form.push(("password", password.expose_secret()));
            }
            GrantKind::JwtBearer {
                username,
                private_key,
                audience,
            } => {
                assertion =
                    super::jwt::assertion(&grant.client_id, username, audience, private_key)
                        .map_err(|detail| ConnectorError::Setup {
                            integration: self.integration.clone(),
                            detail: format!("private_key: {detail}"),
                        })?;
                form = vec![
                    ("grant_type", JWT_BEARER_GRANT),
                    ("assertion", assertion.expose_secret()),
                ];
            }
        }
        match self.request_token(grant, &form).await? {
            Granted::Token(token) => Ok(token),
            Granted::Refused { status, detail } => {
                tracing::debug!(integration = %self.integration, %path, %detail, "the token endpoint refused the grant");
                // A refused grant is a refused login: nothing more is sent.
                self.auth_failed.store(true, Ordering::SeqCst);
                Err(match grant.kind {
                    // Salesforce says why an assertion is refused (an app not
                    // approved for the user, an expired certificate).
                    GrantKind::JwtBearer { .. } => ConnectorError::GrantRefused {
                        integration: self.integration.clone(),
                        method: Method::POST,
                        path,
                        status,
                        detail,
                    },
                    _ => ConnectorError::AuthRejected {
                        integration: self.integration.clone(),
                        method: Method::POST,
                        path,
                        status,
                    },
                })
            }
        }
    }

    /// Posts one grant's form to the token endpoint. Counted like every
    /// request; a refusal (400/401/403, or OAuth's `error` with any status)
    /// is returned for the caller to judge.
    async fn request_token(
        &self,
        grant: &OAuthGrant,
        form: &[(&str, &str)],
    ) -> Result<Granted, ConnectorError> {
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            refresh_token: Option<String>,
            /// Seconds; some servers send it as a string.
            #[serde(default)]
            expires_in: Option<serde_json::Value>,
            #[serde(default)]
            instance_url: Option<String>,
            /// OAuth's refusal (`invalid_client`, `invalid_grant`); Zoho
            /// sends it with 200.
            #[serde(default)]
            error: Option<String>,
            /// Why, in the server's words ("user hasn't approved this
            /// consumer").
            #[serde(default)]
            error_description: Option<String>,
        }
        let path = grant.token_url.path().to_owned();
        let reply = self
            .run_with_retries(
                &path,
                &[
                    StatusCode::BAD_REQUEST,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::FORBIDDEN,
                ],
                || {
                    Ok(self
                        .client
                        .post(grant.token_url.clone())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .form(form))
                },
            )
            .await?;
        // OAuth's `error` and `error_description`, kept short and on one line.
        let refusal = |answer: &TokenAnswer| {
            let error = answer.error.as_deref()?;
            let mut detail = error.to_owned();
            if let Some(description) = answer.error_description.as_deref() {
                let description: String = description
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(300)
                    .collect();
                if !description.is_empty() {
                    detail = format!("{error}: {description}");
                }
            }
            Some(detail)
        };
        if !reply.status.is_success() {
            let detail = serde_json::from_slice::<TokenAnswer>(&reply.body)
                .ok()
                .and_then(|answer| refusal(&answer));
            return Ok(Granted::Refused {
                status: reply.status,
                detail: detail.unwrap_or_else(|| "HTTP error".into()),
            });
        }
        let answer: TokenAnswer = reply.json(&self.integration)?;
        if let Some(detail) = refusal(&answer) {
            return Ok(Granted::Refused {
                status: reply.status,
                detail,
            });
        }
        let access_token = match answer.access_token {
            Some(token) if !token.is_empty() => token,
            _ => {
                return Err(ConnectorError::BadResponse {
                    integration: self.integration.clone(),
                    method: Method::POST,
                    path,
                    detail: "the token answer has no access_token".into(),
                });
            }
        };
        let lifetime = match answer.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Ok(Granted::Token(AccessToken {
            value: SecretString::from(access_token),
            instance_url: answer
                .instance_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok()),
            refresh_token: answer
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(SecretString::from),
            renew_at: lifetime.map(|secs| {
                Instant::now() + Duration::from_secs(secs).saturating_sub(EXPIRY_MARGIN)
            }),
        }))
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
