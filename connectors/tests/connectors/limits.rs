//! The shared client's limits (SPEC section 5, Limits): an answer's body is
//! read to 32 MiB and no further, a request line over the system's limit is
//! never sent, and a server's 414, 431 or 400 saying the request is too
//! large comes back as `TooLarge`, for the connector to split its batch. The
//! simulators answer 414 past the limit, as real front ends do. Each
//! connector's splitting is in its own `limits` module.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use itsmid_connectors::http::{MAX_BODY_BYTES, MAX_REQUEST_LINE, RequestSpec, request_line_len};
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{Credentials, HttpClient, HttpSettings, Integration, Reason, System};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{basic, fixture, mount_catch_all};

/// 40 MiB: past the 32 MiB limit.
const HUGE: usize = 40 * 1024 * 1024;

fn client(base: url::Url, credentials: Credentials) -> HttpClient {
    HttpClient::new(
        Integration::new("snow"),
        base,
        credentials,
        HttpSettings {
            requests_per_minute: NonZeroU32::new(60_000).expect("not zero"),
            // Room to read 32 MiB on a busy machine: a timeout must not
            // pass for the limit.
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(1),
            max_in_flight: 2,
            max_attempts: 4,
            retry_budget: Duration::from_secs(2),
            base_backoff: Duration::from_millis(5),
            record: false,
        },
    )
    .expect("a client")
}

fn wiremock_client(server: &MockServer) -> HttpClient {
    client(
        server.uri().parse().expect("a valid URL"),
        basic("bot", "secret"),
    )
}

#[test]
fn the_limits_are_spec_s() {
    assert_eq!(MAX_BODY_BYTES, 32 * 1024 * 1024);
    assert_eq!(MAX_REQUEST_LINE, 8_192);
}

#[tokio::test]
async fn a_body_declared_over_32_mib_is_a_bad_response_and_is_not_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sys_user"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![b' '; HUGE], "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let http = wiremock_client(&server);

    let err = http
        .send(&RequestSpec::get(http.endpoint("/api/now/table/sys_user")))
        .await
        .expect_err("too large");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    let message = err.to_string();
    assert!(message.contains("32 MiB"), "{message}");
    assert!(message.contains(&HUGE.to_string()), "{message}");
    assert!(message.contains("not read"), "{message}");
    assert_eq!(http.requests_sent(), 1, "never retried");
}

/// A server that answers every request with `total` bytes of a chunked
/// body (no `Content-Length`), counting the bytes the socket took before
/// the client hung up.
async fn chunked_server(total: usize) -> (url::Url, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    let written = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                let headers = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                               transfer-encoding: chunked\r\n\r\n";
                if socket.write_all(headers.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 1024 * 1024];
                let mut sent = 0;
                while sent < total {
                    let part = &chunk[..chunk.len().min(total - sent)];
                    let framed = [
                        format!("{:x}\r\n", part.len()).as_bytes(),
                        part,
                        b"\r\n".as_slice(),
                    ]
                    .concat();
                    if socket.write_all(&framed).await.is_err() {
                        return;
                    }
                    sent += part.len();
                    counter.store(sent, Ordering::SeqCst);
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    (
        format!("http://{addr}").parse().expect("a valid URL"),
        written,
    )
}

#[tokio::test]
async fn a_body_without_a_length_stops_being_read_once_past_32_mib() {
    let (base, _) = chunked_server(HUGE).await;
    let http = client(base, basic("bot", "secret"));

    let err = http
        .send(&RequestSpec::get(http.endpoint("/api/now/table/sys_user")))
        .await
        .expect_err("too large");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("passed the 32 MiB limit; reading stopped"),
        "{message}"
    );
    assert_eq!(http.requests_sent(), 1, "never retried");
}

#[tokio::test]
async fn an_endless_body_is_given_up_at_the_limit_not_read_on() {
    // Far more than the client reads: had it read on, the server would
    // have written it all, or the request would have timed out.
    let endless = 4 * 1024 * 1024 * 1024;
    let (base, written) = chunked_server(endless).await;
    let http = client(base, basic("bot", "secret"));

    let err = http
        .send(&RequestSpec::get(http.endpoint("/api")))
        .await
        .expect_err("too large");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    let sent = written.load(Ordering::SeqCst);
    assert!(
        sent < 256 * 1024 * 1024,
        "the server wrote {sent} bytes before the client hung up"
    );
}

#[tokio::test]
async fn a_request_line_over_the_limit_is_never_sent() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let http = wiremock_client(&server);
    let spec = RequestSpec::get(http.endpoint("/api")).query("q", "a".repeat(8_200));
    assert!(request_line_len(&spec) > MAX_REQUEST_LINE);

    let err = http.send(&spec).await.expect_err("too long");

    let detail = err.too_large().expect("too large");
    assert!(detail.contains("it was not sent"), "{detail}");
    assert!(
        detail.contains(&request_line_len(&spec).to_string()),
        "{detail}"
    );
    assert_eq!(err.reason(), Reason::BadResponse);
    assert_eq!(http.requests_sent(), 0);
    assert!(
        server
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
}

#[tokio::test]
async fn a_system_with_a_higher_limit_sends_what_another_would_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{}", "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let http = wiremock_client(&server).with_max_request_line(16_384);
    let spec = RequestSpec::get(http.endpoint("/api")).query("q", "a".repeat(10_000));

    http.send(&spec).await.expect("under 16,384 bytes");

    assert_eq!(http.requests_sent(), 1);
}

#[tokio::test]
async fn a_414_a_431_and_a_400_saying_so_are_too_large_and_never_retried() {
    let answers = [
        ResponseTemplate::new(414).set_body_raw(
            "<html><body><h1>Bad Message 414</h1><pre>reason: URI Too Long</pre></body></html>",
            "text/html",
        ),
        ResponseTemplate::new(431),
        ResponseTemplate::new(400).set_body_raw(
            "<html><head><title>400 Request Header Or Cookie Too Large</title></head>\
             <body><center><h1>400 Bad Request</h1></center>\
             <center>Request Header Or Cookie Too Large</center><hr><center>nginx</center>\
             </body></html>",
            "text/html",
        ),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api"))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let http = wiremock_client(&server);

        let err = http
            .send(&RequestSpec::get(http.endpoint("/api")))
            .await
            .expect_err("too large");

        assert!(err.too_large().is_some(), "{err}");
        assert_eq!(err.reason(), Reason::BadResponse);
        assert_eq!(http.requests_sent(), 1, "never retried");
    }
}

#[tokio::test]
async fn another_400_is_still_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":{"message":"Invalid query","detail":null},"status":"failure"}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let http = wiremock_client(&server);

    let err = http
        .send(&RequestSpec::get(http.endpoint("/api")))
        .await
        .expect_err("refused");

    assert!(err.too_large().is_none(), "{err}");
    assert_eq!(err.reason(), Reason::BadResponse);
}

#[tokio::test]
async fn every_simulator_answers_414_past_its_system_s_request_line_limit() {
    let http = reqwest::Client::new();
    for system in System::ALL {
        let data = fixture(&format!("{system}.json"));
        let sim = AnySimulator::start(system, "fixture", &data, None, true)
            .await
            .expect("the simulator starts");
        let limit = system.max_request_line();
        // `GET /limit?q=... HTTP/1.1`: 22 bytes besides the value.
        let status = |length: usize| {
            let url = format!("{}/limit?q={}", sim.uri(), "a".repeat(length - 22));
            let request = http.get(url);
            async move { request.send().await.expect("an answer").status().as_u16() }
        };
        assert_eq!(status(limit + 1).await, 414, "{system}");
        assert_ne!(status(limit).await, 414, "{system}");
    }
}
