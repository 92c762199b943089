//! The daemon's HTTP endpoints (SPEC section 7) and the status page.
//!
//! Handlers only read what the last run left, or ask the scheduler for a
//! run: none of them runs the pipeline itself, and the store is read in
//! `spawn_blocking`. Never echoes the token or says why it was refused
//! beyond "missing or wrong". A browser signs in with HTTP Basic (the token
//! as the password); a form that starts a run passes `csrf.rs`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State as Extract;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{Health, State, page};

type Shared = Arc<State>;

/// A request body over this is refused (413): no route reads a body.
const MAX_BODY: usize = 64 * 1024;

/// Runs the status page's trend and `/api/v1/runs` show.
const RECENT_RUNS: usize = 200;

pub(super) fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/report", get(report))
        .route("/api/v1/users", get(users))
        .route("/api/v1/runs", post(start_run).get(runs))
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
    if let Err(refused) = allow(&state, &headers, Access::Read, Challenge::Bearer) {
        return *refused;
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
    if let Err(refused) = allow(&state, &headers, Access::Read, Challenge::Bearer) {
        return *refused;
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

/// How a refused request is asked to sign in: scripts with a bearer
/// token, browsers with the Basic dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    Bearer,
    Basic,
}

/// Who the request is, once allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Caller {
    /// Holds `server.token`, not only the read token.
    full: bool,
    /// Signed in as a browser does (HTTP Basic), so its posts must pass
    /// the anti-forgery checks.
    browser: bool,
}

/// The caller when the request may go on, else the 401 to answer.
fn allow(
    state: &State,
    headers: &HeaderMap,
    access: Access,
    challenge: Challenge,
) -> Result<Caller, Box<Response>> {
    if let Some(scheme) = authorized(headers, &state.token) {
        return Ok(Caller {
            full: true,
            browser: scheme == Scheme::Basic,
        });
    }
    if access == Access::Read
        && let Some(scheme) = state
            .read_token
            .as_ref()
            .and_then(|token| authorized(headers, token))
    {
        return Ok(Caller {
            full: false,
            browser: scheme == Scheme::Basic,
        });
    }
    let (text, ask) = match challenge {
        Challenge::Bearer => (
            "missing or wrong bearer token: send `Authorization: Bearer <token>`",
            "Bearer",
        ),
        Challenge::Basic => (
            "missing or wrong token: sign in with any user name and the token as the password",
            "Basic realm=\"itsmid\"",
        ),
    };
    let mut response = message(StatusCode::UNAUTHORIZED, text);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, ask.parse().expect("a valid header"));
    Err(Box::new(response))
}

/// The status page: what the daemon holds, as HTML. The read token sees it
/// without the "Run now" button.
async fn status_page(Extract(state): Extract<Shared>, headers: HeaderMap) -> Response {
    let caller = match allow(&state, &headers, Access::Read, Challenge::Basic) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let (runs, loads) = state.stored(RECENT_RUNS, true).await;
    let health = state.health();
    let html = {
        let status = state.status();
        page::render(&page::PageView {
            now: jiff::Timestamp::now(),
            health,
            last_run: status.last_run.as_ref(),
            next_run_at: status.next_run,
            running: status.running,
            last_failure: status.last_failure.as_deref(),
            report: status.report.as_deref(),
            runs: &runs,
            loads: &loads,
            run_now: caller.full.then_some(state.csrf.as_str()),
        })
    };
    let mut response = (StatusCode::OK, html).into_response();
    let set = response.headers_mut();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8".to_owned()),
        ("content-security-policy", page::content_security_policy()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("x-frame-options", "DENY".to_owned()),
        ("cache-control", "no-store".to_owned()),
    ] {
        if let Ok(value) = value.parse() {
            set.insert(name, value);
        }
    }
    response
}

/// The recent runs behind the page's trend, oldest first.
async fn runs(Extract(state): Extract<Shared>, headers: HeaderMap) -> Response {
    if let Err(refused) = allow(&state, &headers, Access::Read, Challenge::Bearer) {
        return *refused;
    }
    let (runs, _) = state.stored(RECENT_RUNS, false).await;
    json_body(StatusCode::OK, json!({ "runs": runs }).to_string())
}

/// Starts a run now, or right after the one in progress. The body is read
/// so that one over the limit is refused with 413; a browser's form post
/// must also pass the anti-forgery checks, and goes back to the page.
async fn start_run(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let caller = match allow(&state, &headers, Access::Write, Challenge::Bearer) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if (caller.browser || form)
        && let Some(why) = super::csrf::refusal(&headers, &body, &state.csrf)
    {
        return message(StatusCode::FORBIDDEN, why);
    }
    state.trigger.notify_one();
    if form {
        let mut response = StatusCode::SEE_OTHER.into_response();
        response
            .headers_mut()
            .insert(LOCATION, "/".parse().expect("a valid header"));
        response
            .headers_mut()
            .insert(CACHE_CONTROL, "no-store".parse().expect("a valid header"));
        return response;
    }
    message(
        StatusCode::ACCEPTED,
        "a run starts now, or right after the one in progress",
    )
}

/// How a request carried its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Basic,
}

/// How the request carries `token`: `Authorization: Bearer <token>`, or
/// HTTP Basic with the token as the password (any user name), compared in
/// constant time; `None` when it does not.
pub fn authorized(headers: &HeaderMap, token: &SecretString) -> Option<Scheme> {
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())?;
    // The scheme is case-insensitive (RFC 9110); the token is not.
    let (scheme, given) = value.split_once(' ')?;
    let expected = token.expose_secret().as_bytes();
    if scheme.eq_ignore_ascii_case("bearer") {
        return super::csrf::constant_time_eq(given.trim().as_bytes(), expected)
            .then_some(Scheme::Bearer);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(given.trim())
            .ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return super::csrf::constant_time_eq(&decoded[colon + 1..], expected)
            .then_some(Scheme::Basic);
    }
    None
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
        let bearer = Some(Scheme::Bearer);
        assert_eq!(
            authorized(&headers(Some("Bearer s3cret-token")), &token),
            bearer
        );
        assert_eq!(
            authorized(&headers(Some("bearer s3cret-token")), &token),
            bearer
        );
        for refused in [
            None,
            Some("Bearer s3cret-toke"),
            Some("Bearer s3cret-token2"),
            Some("Bearer S3cret-token"),
            Some("Basic s3cret-token"),
            Some("s3cret-token"),
            Some("Bearer "),
        ] {
            assert_eq!(authorized(&headers(refused), &token), None, "{refused:?}");
        }
    }

    #[test]
    fn basic_authentication_takes_the_token_as_the_password_with_any_user_name() {
        let token = SecretString::from("s3cret-token");
        let basic = |pair: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        for pair in ["admin:s3cret-token", ":s3cret-token", "a:b:s3cret-token"] {
            let expected = if pair == "a:b:s3cret-token" {
                None
            } else {
                Some(Scheme::Basic)
            };
            assert_eq!(
                authorized(&headers(Some(&basic(pair))), &token),
                expected,
                "{pair}"
            );
        }
        assert_eq!(
            authorized(&headers(Some(&basic("admin:wrong"))), &token),
            None
        );
        assert_eq!(
            authorized(&headers(Some(&basic("s3cret-token"))), &token),
            None
        );
        assert_eq!(authorized(&headers(Some("Basic !!!")), &token), None);
    }
}
