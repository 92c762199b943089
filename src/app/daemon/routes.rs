//! The daemon's HTTP endpoints (SPEC section 7).
//!
//! Handlers only read what the last run left, or ask the scheduler for a
//! run: none of them runs the pipeline itself, and the store is read in
//! `spawn_blocking`. Never echoes the token or says why it was refused
//! beyond "missing or wrong".

use std::sync::Arc;

use axum::Router;
use axum::extract::State as Extract;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::State;

type Shared = Arc<State>;

pub(super) fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/report", get(report))
        .route("/api/v1/users", get(users))
        .route("/api/v1/runs", post(start_run))
        .with_state(state)
}

fn json_body(status: StatusCode, text: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], text).into_response()
}

fn message(status: StatusCode, text: &str) -> Response {
    json_body(status, json!({ "message": text }).to_string())
}

/// 200 while the daemon serves, with the last run's time and outcome.
async fn healthz(Extract(state): Extract<Shared>) -> Response {
    let status = state.status();
    let body = json!({
        "status": "ok",
        "running": status.running,
        "runs": status.runs,
        "interval_seconds": status.interval.as_secs(),
        "last_run": status.last_run,
    });
    json_body(StatusCode::OK, body.to_string())
}

async fn metrics(Extract(state): Extract<Shared>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// The last check report; 503 until the first run has one.
async fn report(Extract(state): Extract<Shared>) -> Response {
    let report = state.status().report.clone();
    match report {
        Some(report) => json_body(StatusCode::OK, report.to_string()),
        None => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "no check has finished yet; try again after the first run",
        ),
    }
}

/// The Imported Users of the last load, as `export --format json` prints them.
async fn users(Extract(state): Extract<Shared>) -> Response {
    let path = state.status().store_path.clone();
    let read = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let store = crate::pipeline::store::Store::open_existing(&path)?;
        let mut out = Vec::new();
        crate::pipeline::export::write_export(&store, &mut out, true)?;
        Ok(out)
    })
    .await;
    match read {
        Ok(Ok(body)) => {
            (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
        Ok(Err(err)) => {
            tracing::warn!("/api/v1/users: {err:#}");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "no load can be read yet; try again after the first run",
            )
        }
        Err(_) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the store read stopped unexpectedly",
        ),
    }
}

/// Starts a run now, or right after the one in progress.
async fn start_run(Extract(state): Extract<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &state.token) {
        let mut response = message(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: send `Authorization: Bearer <server.token>`",
        );
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, "Bearer".parse().expect("a valid header"));
        return response;
    }
    state.trigger.notify_one();
    message(
        StatusCode::ACCEPTED,
        "a run starts now, or right after the one in progress",
    )
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in
/// constant time.
pub fn authorized(headers: &HeaderMap, token: &SecretString) -> bool {
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    constant_time_eq(given.trim().as_bytes(), token.expose_secret().as_bytes())
}

/// Compares every byte whatever the first difference, so the time taken
/// does not tell an attacker how much of a guess was right.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        let other = given.get(index).copied().unwrap_or(!byte);
        difference |= usize::from(other ^ byte);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value.parse().expect("a header value"));
        }
        headers
    }

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        let token = SecretString::from("s3cret-token");
        assert!(authorized(&headers(Some("Bearer s3cret-token")), &token));
        assert!(!authorized(&headers(None), &token));
        assert!(!authorized(&headers(Some("Bearer s3cret-toke")), &token));
        assert!(!authorized(&headers(Some("Bearer s3cret-token2")), &token));
        assert!(!authorized(&headers(Some("Bearer S3cret-token")), &token));
        assert!(!authorized(&headers(Some("Basic s3cret-token")), &token));
        assert!(!authorized(&headers(Some("s3cret-token")), &token));
        assert!(!authorized(&headers(Some("Bearer ")), &token));
    }

    #[test]
    fn constant_time_comparison_agrees_with_equality() {
        for (a, b) in [("", ""), ("a", ""), ("", "a"), ("ab", "ab"), ("ab", "ba")] {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), a == b);
        }
    }
}
