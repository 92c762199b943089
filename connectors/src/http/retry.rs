//! Retries: what one attempt came to (the connector's classifier first,
//! then the status code), exponential backoff with jitter, `Retry-After`,
//! and the run's wall-clock budget that bounds all waiting.
//!
//! Never sleeps after the last attempt, never retries a refused login (some
//! systems lock an account after a few), and never waits past the budget:
//! the last real error is returned instead.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::limits::{self, BodyError};
use super::{ConnectorError, HttpClient, Reply};

/// A system's own reading of an answer, for what the status code alone
/// does not say (Salesforce's daily quota, ManageEngine's `status_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials or token were refused.
    AuthFailed(String),
    /// The credentials were refused for a reason the connector recognizes
    /// and knows the fix for (a Jira Data Center instance with basic
    /// authentication switched off); the text is the connector's own fix,
    /// never the server's words.
    AuthRefused(&'static str),
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

/// Shared wall-clock budget for backoff: concurrent waits overlap, so only
/// the part of a wait that extends past the latest one already counted adds
/// to the total.
#[derive(Debug, Default)]
pub(super) struct WaitBudget {
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

impl HttpClient {
    /// The retry loop, written once for API calls and token requests.
    pub(super) async fn run_with_retries(
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
                    if matches!(
                        error,
                        ConnectorError::AuthRejected { .. } | ConnectorError::AuthRefused { .. }
                    ) {
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
        let body = match limits::read_body(response).await {
            Ok(body) => body,
            Err(BodyError::Transport(err)) => return self.transport_failure(err, &method, path),
            Err(BodyError::TooLarge(detail)) => {
                tracing::warn!(integration = %self.integration, %path, status = status.as_u16(), %detail,
                    "answer too large");
                return Attempt::Fatal(ConnectorError::BadResponse {
                    integration: self.integration.clone(),
                    method,
                    path: path.to_owned(),
                    detail,
                });
            }
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
        // Before the connector's classifier: a front end refuses a request's
        // size before the API sees it, whatever the API's errors look like.
        if let Some(detail) = limits::refused_as_too_large(&reply) {
            return Attempt::Fatal(ConnectorError::TooLarge {
                integration,
                method,
                path,
                detail,
            });
        }
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
                Verdict::AuthRefused(fix) => Attempt::Fatal(ConnectorError::AuthRefused {
                    integration,
                    method,
                    path,
                    status,
                    fix,
                }),
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
    use reqwest::header::HeaderValue;

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
}
