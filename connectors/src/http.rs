//! The only code that sends requests to a ticketing system: one
//! `reqwest::Client` per connector with its timeouts, a `governor` rate
//! limiter, a semaphore bounding requests in flight, retries with backoff,
//! auth headers, and the request counter behind the report's `api_requests`.
//!
//! Never logs a query string, a header or a body: queries carry e-mail
//! addresses and headers carry secrets. URLs appear as origin plus path.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::Integration;

/// SPEC section 5's `reason` for a system that could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    AuthFailed,
    Unreachable,
    Timeout,
    RateLimited,
    BadResponse,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AuthFailed => "auth_failed",
            Reason::Unreachable => "unreachable",
            Reason::Timeout => "timeout",
            Reason::RateLimited => "rate_limited",
            Reason::BadResponse => "bad_response",
        }
    }
}

/// Why a connector could not answer. Messages name the integration, the
/// method and the path, never the query string or a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    #[error(
        "{integration}: {method} {path} was refused with HTTP {status}: check the credentials and the account's roles"
    )]
    AuthRejected {
        integration: Integration,
        method: Method,
        path: String,
        status: StatusCode,
    },
    #[error("{integration}: no request sent, the credentials were already refused in this run")]
    AuthBlocked { integration: Integration },
    #[error("{integration}: {method} {path} is still rate limited after retries ({detail})")]
    RateLimited {
        integration: Integration,
        method: Method,
        path: String,
        detail: String,
    },
    #[error("{integration}: {method} {path} failed: {detail}")]
    Unreachable {
        integration: Integration,
        method: Method,
        path: String,
        detail: String,
    },
    #[error("{integration}: {method} {path} got no answer in time")]
    Timeout {
        integration: Integration,
        method: Method,
        path: String,
    },
    #[error(
        "{integration}: {method} {path} answered with something that is not the API's JSON: {detail}"
    )]
    BadResponse {
        integration: Integration,
        method: Method,
        path: String,
        detail: String,
    },
    #[error("{integration}: cannot set up the HTTP client: {detail}")]
    Setup {
        integration: Integration,
        detail: String,
    },
}

impl ConnectorError {
    /// SPEC's `reason`, so the report never parses message text.
    pub fn reason(&self) -> Reason {
        match self {
            ConnectorError::AuthRejected { .. } | ConnectorError::AuthBlocked { .. } => {
                Reason::AuthFailed
            }
            ConnectorError::RateLimited { .. } => Reason::RateLimited,
            ConnectorError::Timeout { .. } => Reason::Timeout,
            ConnectorError::BadResponse { .. } => Reason::BadResponse,
            ConnectorError::Unreachable { .. } | ConnectorError::Setup { .. } => {
                Reason::Unreachable
            }
        }
    }
}

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
struct AccessToken {
    value: SecretString,
    /// Salesforce answers with the instance the token is valid for.
    instance_url: Option<Url>,
}

/// A system's own reading of an answer, for what the status code alone
/// does not say (Salesforce's daily quota, ManageEngine's `status_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials or token were refused.
    AuthFailed(String),
    /// Rate limited in a way retrying cannot help (a daily quota): no retry.
    QuotaExhausted(String),
    /// Rate limited for now: retried after the wait, or the backoff.
    RateLimited(Option<Duration>),
    /// Not the API's answer.
    BadResponse(String),
}

/// Reads an answer before the generic status classification; `None` leaves
/// it to the status code.
pub type Classifier = fn(&Reply) -> Option<Verdict>;

/// Limits and timeouts of one connector's client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub requests_per_minute: NonZeroU32,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_in_flight: usize,
    /// Attempts of one request before the system is given up.
    pub max_attempts: u32,
    /// Wall-clock backoff and `Retry-After` waiting allowed in one run.
    pub retry_budget: Duration,
    pub base_backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            requests_per_minute: NonZeroU32::new(600).expect("600 is not zero"),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_in_flight: 4,
            max_attempts: 4,
            retry_budget: Duration::from_secs(10),
            base_backoff: Duration::from_millis(200),
        }
    }
}

/// One request to send; built again for each attempt.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub url: Url,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Statuses the caller reads itself (404 for "cannot say"); every other
    /// non-2xx status is classified here.
    pub accept: Vec<StatusCode>,
}

impl RequestSpec {
    pub fn get(url: Url) -> Self {
        RequestSpec {
            method: Method::GET,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            accept: Vec::new(),
        }
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
        self
    }

    pub fn accept_status(mut self, status: StatusCode) -> Self {
        self.accept.push(status);
        self
    }
}

/// A whole answer: status, headers and the body read to its end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub method: Method,
    pub path: String,
}

impl Reply {
    /// Decodes the body, refusing anything that is not JSON (a hibernating
    /// instance's HTML page must never read as "no users"). Errors name the
    /// JSON path that failed.
    pub fn json<T: DeserializeOwned>(
        &self,
        integration: &Integration,
    ) -> Result<T, ConnectorError> {
        let content_type = self
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let bad = |detail: String| ConnectorError::BadResponse {
            integration: integration.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            detail,
        };
        if !content_type.to_ascii_lowercase().contains("json") {
            let kind = if content_type.is_empty() {
                "no content type"
            } else {
                content_type
            };
            return Err(bad(format!(
                "HTTP {} with {kind} (an instance that is asleep or behind a login page answers so)",
                self.status.as_u16()
            )));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            bad(format!(
                "does not decode at `{}`: {}",
                err.path(),
                err.inner()
            ))
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Shared wall-clock budget for backoff: concurrent waits overlap, so only
/// the part of a wait that extends past the latest one already counted adds
/// to the total.
#[derive(Debug, Default)]
struct WaitBudget {
    waited_until: Option<Instant>,
    spent: Duration,
}

impl WaitBudget {
    /// Counts a wait starting now; `false` if it would exceed `budget`.
    fn try_spend(&mut self, wait: Duration, budget: Duration) -> bool {
        let now = Instant::now();
        let end = now + wait;
        let start = match self.waited_until {
            Some(until) if until > now => until,
            _ => now,
        };
        let added = end.saturating_duration_since(start);
        if self.spent + added > budget {
            return false;
        }
        self.spent += added;
        if self.waited_until.is_none_or(|until| until < end) {
            self.waited_until = Some(end);
        }
        true
    }
}

/// What one attempt came to.
enum Attempt {
    Done(Reply),
    Fatal(ConnectorError),
    Transient {
        error: ConnectorError,
        retry_after: Option<Duration>,
    },
}

/// One connector's HTTP client.
pub struct HttpClient {
    integration: Integration,
    base_url: Url,
    credentials: Credentials,
    client: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    in_flight: Semaphore,
    settings: HttpSettings,
    /// Every request sent, retries included.
    requests: AtomicU32,
    /// Set on the first refused login: no further request is sent, since
    /// some systems lock an account after a few bad logins.
    auth_failed: AtomicBool,
    budget: Mutex<WaitBudget>,
    rate_limit_waits: AtomicU32,
    /// The access token of OAuth credentials, fetched on first use.
    token: tokio::sync::Mutex<Option<AccessToken>>,
    /// One token refresh per run after a refused token (SPEC section 5).
    refreshed: AtomicBool,
    classifier: Option<Classifier>,
    /// Facts for the report's system row (a remaining API budget, ...).
    notes: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("integration", &self.integration)
            .field("base_url", &self.base_url.as_str())
            .field("credentials", &self.credentials)
            .field("requests", &self.requests_sent())
            .finish_non_exhaustive()
    }
}

/// One request every `60 s / requests_per_minute`, with no burst: the
/// limiter never sends more than `requests_per_minute / 60` in any second,
/// which per-second vendor windows would answer with 429.
fn quota(requests_per_minute: NonZeroU32) -> Quota {
    let period = Duration::from_secs(60) / requests_per_minute.get();
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN)
}

static CRYPTO_PROVIDER: Once = Once::new();

/// rustls needs one process-wide crypto provider; ring builds faster than
/// aws-lc-rs and serves every cipher suite the five vendors use.
pub fn install_crypto_provider() {
    CRYPTO_PROVIDER.call_once(|| {
        // An error only means another part of the process installed one first.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl HttpClient {
    pub fn new(
        integration: Integration,
        base_url: Url,
        credentials: Credentials,
        settings: HttpSettings,
    ) -> Result<HttpClient, ConnectorError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            // A redirect leads to a login page or another host: never follow
            // it with credentials; it is classified as a bad response.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("itsmid/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ConnectorError::Setup {
                integration: integration.clone(),
                detail: err.without_url().to_string(),
            })?;
        let quota = quota(settings.requests_per_minute);
        Ok(HttpClient {
            integration,
            base_url,
            credentials,
            client,
            limiter: RateLimiter::direct(quota),
            in_flight: Semaphore::new(settings.max_in_flight.max(1)),
            settings,
            requests: AtomicU32::new(0),
            auth_failed: AtomicBool::new(false),
            budget: Mutex::new(WaitBudget::default()),
            rate_limit_waits: AtomicU32::new(0),
            token: tokio::sync::Mutex::new(None),
            refreshed: AtomicBool::new(false),
            classifier: None,
            notes: Mutex::new(BTreeMap::new()),
        })
    }

    /// Lets the connector read answers before the status code decides.
    pub fn with_classifier(mut self, classifier: Classifier) -> HttpClient {
        self.classifier = Some(classifier);
        self
    }

    /// Records a fact for the report's system row.
    pub fn set_note(&self, name: &str, value: String) {
        self.notes
            .lock()
            .expect("the notes lock is never poisoned: no code panics under it")
            .insert(name.to_owned(), value);
    }

    pub fn notes(&self) -> BTreeMap<String, String> {
        self.notes
            .lock()
            .expect("the notes lock is never poisoned: no code panics under it")
            .clone()
    }

    /// The instance URL the access token came with (Salesforce), fetching a
    /// token first if none is held. `None` for other credentials.
    pub async fn token_instance_url(&self) -> Result<Option<Url>, ConnectorError> {
        Ok(self.access_token().await?.and_then(|t| t.instance_url))
    }

    /// The held access token, fetched if OAuth credentials have none yet.
    async fn access_token(&self) -> Result<Option<AccessToken>, ConnectorError> {
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

    pub fn integration(&self) -> &Integration {
        &self.integration
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Every request sent so far: pages, credential checks and retries.
    pub fn requests_sent(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// How often the server asked us to slow down (429, 503 with Retry-After).
    pub fn rate_limit_waits(&self) -> u32 {
        self.rate_limit_waits.load(Ordering::Relaxed)
    }

    /// The base URL with `path` appended to its own path, so an instance
    /// served under a prefix keeps it. `path` is a constant of the API.
    pub fn endpoint(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        url.set_fragment(None);
        url
    }

    /// Sends `spec` with auth, retrying transient failures within the
    /// attempt limit and the run's backoff budget. A refused access token is
    /// refreshed once per run and the request sent again.
    pub async fn send(&self, spec: &RequestSpec) -> Result<Reply, ConnectorError> {
        let path = spec.url.path().to_owned();
        let token = self.access_token().await?;
        let first = self
            .run_with_retries(&path, &spec.accept, || self.build(spec, token.as_ref()))
            .await;
        match first {
            // Only an expired session (401) earns the one refresh; a 403 is a
            // refusal like any other.
            Err(ConnectorError::AuthRejected { status, .. })
                if status == StatusCode::UNAUTHORIZED
                    && token.is_some()
                    && !self.refreshed.swap(true, Ordering::SeqCst) =>
            {
                tracing::info!(integration = %self.integration, %path, "access token refused; fetching a new one once");
                self.auth_failed.store(false, Ordering::SeqCst);
                *self.token.lock().await = None;
                let token = self.access_token().await?;
                self.run_with_retries(&path, &spec.accept, || self.build(spec, token.as_ref()))
                    .await
            }
            other => other,
        }
    }

    /// Builds one attempt of `spec` with its auth header.
    fn build(
        &self,
        spec: &RequestSpec,
        token: Option<&AccessToken>,
    ) -> Result<reqwest::RequestBuilder, String> {
        let mut request = self
            .client
            .request(spec.method.clone(), spec.url.clone())
            .query(&spec.query);
        // reqwest appends headers: a vendor's own media type (ManageEngine's
        // `application/vnd.manageengine.sdp.v3+json`) must replace the
        // default, not travel beside it.
        if !spec
            .headers
            .iter()
            .any(|(name, _)| name == reqwest::header::ACCEPT)
        {
            request = request.header(reqwest::header::ACCEPT, "application/json");
        }
        for (name, value) in &spec.headers {
            request = request.header(name, value);
        }
        authorize(request, &self.credentials, token)
    }

    /// The retry loop, written once for API calls and token requests.
    async fn run_with_retries(
        &self,
        path: &str,
        accept: &[StatusCode],
        build: impl Fn() -> Result<reqwest::RequestBuilder, String>,
    ) -> Result<Reply, ConnectorError> {
        let mut attempt = 1;
        loop {
            if self.auth_failed.load(Ordering::SeqCst) {
                return Err(ConnectorError::AuthBlocked {
                    integration: self.integration.clone(),
                });
            }
            let outcome = {
                let _slot = self
                    .in_flight
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                self.limiter.until_ready().await;
                match build() {
                    Ok(request) => self.attempt(request, path, accept).await,
                    Err(detail) => Attempt::Fatal(ConnectorError::Setup {
                        integration: self.integration.clone(),
                        detail,
                    }),
                }
            };
            match outcome {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Fatal(error) => {
                    if matches!(error, ConnectorError::AuthRejected { .. }) {
                        self.auth_failed.store(true, Ordering::SeqCst);
                    }
                    return Err(error);
                }
                Attempt::Transient { error, .. } if attempt >= self.settings.max_attempts => {
                    return Err(error);
                }
                Attempt::Transient { error, retry_after } => {
                    if retry_after.is_some() {
                        self.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
                    }
                    let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                    let allowed = self
                        .budget
                        .lock()
                        .expect("the budget lock is never poisoned: no code panics under it")
                        .try_spend(wait, self.settings.retry_budget);
                    if !allowed {
                        tracing::warn!(integration = %self.integration, %path, wait_ms = wait.as_millis() as u64,
                            "giving up: the retry budget of this run is spent");
                        return Err(error);
                    }
                    tracing::debug!(integration = %self.integration, %path, attempt, wait_ms = wait.as_millis() as u64,
                        reason = error.reason().as_str(), "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
            attempt += 1;
        }
    }

    /// Exponential backoff with full jitter: 1x, 2x, 4x the base, randomised
    /// so that concurrent retries do not arrive together.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.settings.base_backoff * 2u32.saturating_pow(attempt.saturating_sub(1));
        let millis = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(millis / 2 + fastrand::u64(0..=millis / 2))
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
        accept: &[StatusCode],
    ) -> Attempt {
        let method = match request.try_clone().and_then(|r| r.build().ok()) {
            Some(built) => built.method().clone(),
            None => Method::GET,
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return self.transport_failure(err, &method, path),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(err) => return self.transport_failure(err, &method, path),
        };
        tracing::debug!(integration = %self.integration, origin = %self.base_url.origin().ascii_serialization(),
            %path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
        let reply = Reply {
            status,
            headers,
            body,
            method: method.clone(),
            path: path.to_owned(),
        };
        self.classify(reply, accept)
    }

    fn transport_failure(&self, err: reqwest::Error, method: &Method, path: &str) -> Attempt {
        let err = err.without_url();
        let error = if err.is_timeout() {
            ConnectorError::Timeout {
                integration: self.integration.clone(),
                method: method.clone(),
                path: path.to_owned(),
            }
        } else {
            ConnectorError::Unreachable {
                integration: self.integration.clone(),
                method: method.clone(),
                path: path.to_owned(),
                detail: error_chain(&err),
            }
        };
        Attempt::Transient {
            error,
            retry_after: None,
        }
    }

    fn classify(&self, reply: Reply, accept: &[StatusCode]) -> Attempt {
        let status = reply.status;
        let integration = self.integration.clone();
        let method = reply.method.clone();
        let path = reply.path.clone();
        if let Some(verdict) = self.classifier.and_then(|read| read(&reply)) {
            return match verdict {
                Verdict::AuthFailed(detail) => {
                    tracing::debug!(integration = %integration, %path, %detail, "credentials refused");
                    Attempt::Fatal(ConnectorError::AuthRejected {
                        integration,
                        method,
                        path,
                        status,
                    })
                }
                Verdict::QuotaExhausted(detail) => Attempt::Fatal(ConnectorError::RateLimited {
                    integration,
                    method,
                    path,
                    detail,
                }),
                Verdict::RateLimited(wait) => Attempt::Transient {
                    retry_after: wait
                        .or_else(|| retry_after(&reply.headers))
                        .or(Some(self.backoff(1))),
                    error: ConnectorError::RateLimited {
                        integration,
                        method,
                        path,
                        detail: "rate limited".into(),
                    },
                },
                Verdict::BadResponse(detail) => Attempt::Fatal(ConnectorError::BadResponse {
                    integration,
                    method,
                    path,
                    detail,
                }),
            };
        }
        if status.is_success() || accept.contains(&status) {
            return Attempt::Done(reply);
        }
        match status.as_u16() {
            401 | 403 => Attempt::Fatal(ConnectorError::AuthRejected {
                integration,
                method,
                path,
                status,
            }),
            429 => Attempt::Transient {
                retry_after: retry_after(&reply.headers).or(Some(self.backoff(1))),
                error: ConnectorError::RateLimited {
                    integration,
                    method,
                    path,
                    detail: "HTTP 429".into(),
                },
            },
            500..=599 => Attempt::Transient {
                retry_after: retry_after(&reply.headers),
                error: ConnectorError::Unreachable {
                    integration,
                    method,
                    path,
                    detail: format!("HTTP {}", status.as_u16()),
                },
            },
            _ => Attempt::Fatal(ConnectorError::BadResponse {
                integration,
                method,
                path,
                detail: format!("unexpected HTTP {}", status.as_u16()),
            }),
        }
    }
}

/// Adds the auth header. The only place a secret is exposed.
fn authorize(
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

/// Bytes `text` takes once form-encoded in a URL query, as reqwest sends
/// it: connectors cut their batches by it, before a URL grows past what the
/// system or a proxy accepts.
pub fn encoded_len(text: &str) -> usize {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .map(str::len)
        .sum()
}

/// `Retry-After` in seconds (the form every vendor here documents), capped
/// so a bogus value cannot stall a run; the budget check gives up earlier.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(seconds.min(3600.0)))
}

/// The error and its causes on one line ("connection refused" hides in a
/// source of a source).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn overlapping_waits_count_once_against_the_budget() {
        let mut budget = WaitBudget::default();
        assert!(budget.try_spend(Duration::from_secs(4), Duration::from_secs(10)));
        // A second wait of the same length, started at the same moment, adds nothing.
        assert!(budget.try_spend(Duration::from_secs(4), Duration::from_secs(10)));
        assert_eq!(budget.spent, Duration::from_secs(4));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(budget.try_spend(Duration::from_secs(5), Duration::from_secs(10)));
        assert_eq!(budget.spent, Duration::from_secs(9));
        // A 2 s wait inside the counted one adds nothing; one ending 2 s after
        // it adds those 2 s, and 11 s is over the budget.
        assert!(budget.try_spend(Duration::from_secs(2), Duration::from_secs(10)));
        assert!(!budget.try_spend(Duration::from_secs(7), Duration::from_secs(10)));
    }

    #[test]
    fn the_limiter_allows_no_burst_beyond_the_per_second_rate() {
        use governor::clock::FakeRelativeClock;
        let clock = FakeRelativeClock::default();
        let rpm = NonZeroU32::new(600).expect("not zero");
        let limiter = RateLimiter::direct_with_clock(quota(rpm), clock.clone());
        // Ten per second: one now, the next only 100 ms later.
        assert!(limiter.check().is_ok());
        assert!(
            limiter.check().is_err(),
            "a second request at once is a burst"
        );
        clock.advance(Duration::from_millis(99));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(limiter.check().is_ok());
        // Over one simulated second, at most 10 pass.
        let mut passed = 0;
        for _ in 0..100 {
            clock.advance(Duration::from_millis(10));
            if limiter.check().is_ok() {
                passed += 1;
            }
        }
        assert_eq!(passed, 10);
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let credentials = Credentials::Basic {
            username: "bot".into(),
            password: SecretString::from("hunter2-very-secret"),
        };
        let client = HttpClient::new(
            Integration::new("snow"),
            Url::parse("http://127.0.0.1:9").expect("a valid URL"),
            credentials,
            HttpSettings::default(),
        )
        .expect("a client");
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}
