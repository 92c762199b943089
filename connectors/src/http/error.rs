//! Why a connector could not answer: [`ConnectorError`], and its mapping to
//! SPEC section 5's [`Reason`] so the report never parses message text.
//!
//! Never puts a query string, a header or a credential into a message: an
//! error names the integration, the method and the path, nothing more.

use reqwest::{Method, StatusCode};
use serde::Serialize;

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
    /// The credentials were refused for a reason the connector recognizes;
    /// `fix` is the connector's own text (e.g. the auth type to use).
    #[error("{integration}: {method} {path} was refused with HTTP {status}: {fix}")]
    AuthRefused {
        integration: Integration,
        method: Method,
        path: String,
        status: StatusCode,
        fix: &'static str,
    },
    /// The token endpoint refused the grant and said why (OAuth's `error`
    /// and `error_description`, e.g. Salesforce's `invalid_grant`).
    #[error(
        "{integration}: {method} {path} refused the grant with HTTP {status} ({detail}): check the credentials"
    )]
    GrantRefused {
        integration: Integration,
        method: Method,
        path: String,
        status: StatusCode,
        detail: String,
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
    /// Too large for the system (SPEC section 5, Limits): refused before it
    /// was sent, its request line being over the system's limit, or
    /// answered with 414, 431 or a 400 saying so. Connectors split the
    /// batch it carried, and refuse a value whose request alone is too
    /// large, so it never reaches the report unless a request without
    /// values to split is refused.
    #[error("{integration}: {method} {path} is too large for the system: {detail}")]
    TooLarge {
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
            ConnectorError::AuthRejected { .. }
            | ConnectorError::AuthRefused { .. }
            | ConnectorError::GrantRefused { .. }
            | ConnectorError::AuthBlocked { .. } => Reason::AuthFailed,
            ConnectorError::RateLimited { .. } => Reason::RateLimited,
            ConnectorError::Timeout { .. } => Reason::Timeout,
            ConnectorError::BadResponse { .. } | ConnectorError::TooLarge { .. } => {
                Reason::BadResponse
            }
            ConnectorError::Unreachable { .. } | ConnectorError::Setup { .. } => {
                Reason::Unreachable
            }
        }
    }

    /// What made the request too large, where that is the error: the one
    /// error a connector answers by splitting its batch.
    pub fn too_large(&self) -> Option<&str> {
        match self {
            ConnectorError::TooLarge { detail, .. } => Some(detail),
            _ => None,
        }
    }
}
