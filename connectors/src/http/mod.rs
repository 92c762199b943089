//! The only code that sends requests to a ticketing system: one
//! `reqwest::Client` per connector with its timeouts, a `governor` rate
//! limiter, a semaphore bounding requests in flight, retries with backoff,
//! auth headers, and the request counter behind the report's `api_requests`.
//!
//! Never logs a query string, a header or a body: queries carry e-mail
//! addresses and headers carry secrets. URLs appear as origin plus path.
//!
//! Split by concern: `auth` (credentials, auth headers, access tokens),
//! `retry` (classification, backoff, `Retry-After`, the budget), `limits`
//! (the request line a system accepts, answers refusing a request as too
//! large, the cap on a body) and `error` (`ConnectorError` and SPEC's
//! reasons). This file holds the client itself and `send`, the one way out.

mod auth;
mod error;
mod jwt;
mod limits;
mod retry;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::Integration;

use auth::{AccessToken, authorize};
pub use auth::{Credentials, GrantKind, OAuthGrant, TokenScheme};
pub use error::{ConnectorError, Reason};
pub use jwt::{ASSERTION_LIFETIME, check_rsa_private_key};
pub use limits::{MAX_BODY_BYTES, MAX_REQUEST_LINE, request_line_len};
use retry::WaitBudget;
pub use retry::{Classifier, Verdict};

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
    /// Keeps every answer (`itsmid record`): see [`crate::recording`].
    pub record: bool,
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
            record: false,
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

    /// A readiness probe's GET (SPEC section 5.1): a 401, 403 or 404 is the
    /// probe's to judge, so it never stops further requests or makes the
    /// system unavailable.
    pub fn probe(url: Url) -> Self {
        RequestSpec::get(url)
            .accept_status(StatusCode::UNAUTHORIZED)
            .accept_status(StatusCode::FORBIDDEN)
            .accept_status(StatusCode::NOT_FOUND)
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
    /// The access token of OAuth credentials, fetched on first use and
    /// renewed once expired.
    token: tokio::sync::Mutex<Option<AccessToken>>,
    /// One token refresh per run after a refused token (SPEC section 5).
    refreshed: AtomicBool,
    classifier: Option<Classifier>,
    /// The longest request line the system accepts: a request over it is
    /// never sent.
    max_request_line: usize,
    /// Facts for the report's system row (a remaining API budget, ...).
    notes: Mutex<BTreeMap<String, String>>,
    /// Every answer read, when recording (`HttpSettings::record`).
    recorded: Mutex<Vec<crate::recording::Exchange>>,
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
            max_request_line: MAX_REQUEST_LINE,
            notes: Mutex::new(BTreeMap::new()),
            recorded: Mutex::new(Vec::new()),
        })
    }

    /// Sets the longest request line the system accepts (its
    /// [`crate::System::max_request_line`]); [`MAX_REQUEST_LINE`] unless set.
    pub fn with_max_request_line(mut self, bytes: usize) -> HttpClient {
        self.max_request_line = bytes;
        self
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
    /// refreshed once per run and the request sent again. A request whose
    /// request line is over the system's limit is not sent: it is
    /// [`ConnectorError::TooLarge`], as a server's 414 would make it.
    pub async fn send(&self, spec: &RequestSpec) -> Result<Reply, ConnectorError> {
        let path = spec.url.path().to_owned();
        let line = request_line_len(spec);
        if line > self.max_request_line {
            tracing::debug!(integration = %self.integration, %path, line, limit = self.max_request_line,
                "not sent: the request line is over the system's limit");
            return Err(ConnectorError::TooLarge {
                integration: self.integration.clone(),
                method: spec.method.clone(),
                path,
                detail: format!(
                    "its request line would be {line} bytes, more than the {} the system \
                     accepts; it was not sent",
                    self.max_request_line
                ),
            });
        }
        let token = self.access_token().await?;
        let first = self
            .run_with_retries(&path, &spec.accept, || self.build(spec, token.as_ref()))
            .await;
        let answer = self.retry_refused_token(spec, &path, token, first).await;
        if self.settings.record
            && let Ok(reply) = &answer
        {
            self.record(spec, reply);
        }
        answer
    }

    /// The answers read so far, when recording; in the order they came.
    pub fn recorded(&self) -> Vec<crate::recording::Exchange> {
        self.recorded
            .lock()
            .expect("the recording lock is never poisoned: no code panics under it")
            .clone()
    }

    /// Keeps one answer whose body is JSON, its path relative to the base
    /// URL's (a context path or portal is not the API's).
    fn record(&self, spec: &RequestSpec, reply: &Reply) {
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&reply.body) else {
            return;
        };
        let base = self.base_url.path().trim_end_matches('/');
        let path = spec.url.path();
        let path = path.strip_prefix(base).unwrap_or(path);
        let mut query: Vec<(String, String)> = spec
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        query.extend(spec.query.iter().cloned());
        self.recorded
            .lock()
            .expect("the recording lock is never poisoned: no code panics under it")
            .push(crate::recording::Exchange {
                method: spec.method.as_str().to_owned(),
                path: path.to_owned(),
                query,
                status: reply.status.as_u16(),
                body,
            });
    }

    /// The one refresh a refused access token earns (SPEC section 5).
    async fn retry_refused_token(
        &self,
        spec: &RequestSpec,
        path: &str,
        token: Option<AccessToken>,
        first: Result<Reply, ConnectorError>,
    ) -> Result<Reply, ConnectorError> {
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
                self.resend_with_new_token(spec, path).await
            }
            // A readiness probe reads 401 itself (`RequestSpec::probe`), but
            // an access token that expired mid-run says nothing about the
            // bot's permissions: the same one refresh first.
            Ok(reply)
                if reply.status == StatusCode::UNAUTHORIZED
                    && token.is_some()
                    && !self.refreshed.swap(true, Ordering::SeqCst) =>
            {
                tracing::info!(integration = %self.integration, %path, "access token refused to a probe; fetching a new one once");
                self.resend_with_new_token(spec, path).await
            }
            other => other,
        }
    }

    /// Fetches a new access token and sends `spec` again with it.
    async fn resend_with_new_token(
        &self,
        spec: &RequestSpec,
        path: &str,
    ) -> Result<Reply, ConnectorError> {
        self.expire_token().await;
        let token = self.access_token().await?;
        self.run_with_retries(path, &spec.accept, || self.build(spec, token.as_ref()))
            .await
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
}

/// Bytes `text` takes once form-encoded in a URL query, as reqwest sends
/// it: connectors cut their batches by it, before a URL grows past what the
/// system or a proxy accepts.
pub fn encoded_len(text: &str) -> usize {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .map(str::len)
        .sum()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

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
