//! The daemon's HTTP endpoints (SPEC section 7).
//!
//! Handlers only read what the last run left, or ask the scheduler for a
//! run: none of them runs the pipeline itself, and the store is read in
//! `spawn_blocking`. Never echoes the token or says why it was refused
//! beyond "missing or wrong".

use std::sync::Arc;

use axum::Router;
use axum::extract::State as Extract;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{Health, State};

type Shared = Arc<State>;

/// A request body over this is refused (413): no route reads a body.
const MAX_BODY: usize = 64 * 1024;

pub(super) fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/report", get(report))
        .route("/api/v1/users", get(users))
        .route("/api/v1/runs", post(start_run))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_large_bodies))
        .with_state(state)
}

/// 413 for a declared body over the limit on any route, before it is read.
async fn refuse_large_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is over 64 KiB; no route reads one that large",
        );
    }
    next.run(request).await
}

fn json_body(status: StatusCode, text: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], text).into_response()
}

fn message(status: StatusCode, text: &str) -> Response {
    json_body(status, json!({ "message": text }).to_string())
}

/// The health body of SPEC section 7: no error text, no personal data.
fn health_body(state: &State) -> (Health, String) {
    let health = state.health();
    let status = state.status();
    let body = json!({
        "status": health,
        "last_run": status.last_run,
        "last_success_at": status.last_success.map(|at| at.to_string()),
    });
    (health, body.to_string())
}

/// Always 200 while the daemon serves.
async fn healthz(Extract(state): Extract<Shared>) -> Response {
    json_body(StatusCode::OK, health_body(&state).1)
}

/// 200 when healthy, else 503 with the same body: for load balancers.
async fn readyz(Extract(state): Extract<Shared>) -> Response {
    let (health, body) = health_body(&state);
    let code = match health {
        Health::Ok => StatusCode::OK,
        Health::Starting | Health::Degraded => StatusCode::SERVICE_UNAVAILABLE,
    };
    json_body(code, body)
}

async fn metrics(Extract(state): Extract<Shared>) -> Response {
    state.metrics.set_healthy(state.health() == Health::Ok);
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// The last check report with its `run` object; 503 until the first run
/// has one.
async fn report(Extract(state): Extract<Shared>, headers: HeaderMap) -> Response {
    if let Some(refused) = refuse(&state, &headers, Access::Read) {
        return refused;
    }
    let (report, run) = {
        let status = state.status();
        let run = json!({
            "last_run": status.last_run,
            "last_success_at": status.last_success.map(|at| at.to_string()),
            "last_failure": status.last_failure,
            "running": status.running,
            "runs": status.runs,
            "interval_seconds": status.interval.as_secs(),
        });
        (status.report.clone(), run)
    };
    match report {
        Some(report) => {
            let mut body = (*report).clone();
            if let Some(object) = body.as_object_mut() {
                object.insert("run".into(), run);
            }
            json_body(StatusCode::OK, body.to_string())
        }
        None => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "no check has finished yet; try again after the first run",
        ),
    }
}

/// The Imported Users of the last load as JSON Lines, as `export` prints
/// them, streamed: the store is read off the runtime in chunks, so memory
/// does not grow with the number of users.
async fn users(Extract(state): Extract<Shared>, headers: HeaderMap) -> Response {
    if let Some(refused) = refuse(&state, &headers, Access::Read) {
        return refused;
    }
    let path = state.status().store_path.clone();
    let store = match tokio::task::spawn_blocking(move || {
        crate::pipeline::store::Store::open_existing(&path)
    })
    .await
    {
        Ok(Ok(store)) => store,
        Ok(Err(err)) => {
            tracing::warn!("/api/v1/users: {err}");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "no load can be read yet; try again after the first run",
            );
        }
        Err(_) => {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the store read stopped unexpectedly",
            );
        }
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK),
        };
        let written = crate::pipeline::export::write_export(&store, &mut out, false)
            .and_then(|()| out.flush_chunk());
        if let Err(err) = written {
            // The client has the lines so far; the log says why they end.
            tracing::warn!("/api/v1/users: the export stopped: {err}");
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

/// Bytes per chunk of the streamed export.
const CHUNK: usize = 64 * 1024;

/// Hands the export to the response in chunks; a client that went away
/// ends the write.
struct ChunkWriter {
    sender: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a route lets a token do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// GET routes: `server.token` or `server.read_token`.
    Read,
    /// Everything else: `server.token` only.
    Write,
}

/// `None` when the request may go on, else the 401 to answer.
fn refuse(state: &State, headers: &HeaderMap, access: Access) -> Option<Response> {
    let allowed = authorized(headers, &state.token)
        || (access == Access::Read
            && state
                .read_token
                .as_ref()
                .is_some_and(|token| authorized(headers, token)));
    if allowed {
        return None;
    }
    let mut response = message(
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token: send `Authorization: Bearer <token>`",
    );
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, "Bearer".parse().expect("a valid header"));
    Some(response)
}

/// Starts a run now, or right after the one in progress. The body is read
/// (and ignored) so that one over the limit is refused with 413.
async fn start_run(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    _body: axum::body::Bytes,
) -> Response {
    if let Some(refused) = refuse(&state, &headers, Access::Write) {
        return refused;
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
    let Some(value) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    // The scheme is case-insensitive (RFC 9110); the token is not.
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(given.trim().as_bytes(), token.expose_secret().as_bytes())
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
        assert!(authorized(&headers(Some("bearer s3cret-token")), &token));
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
