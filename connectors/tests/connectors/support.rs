//! Helpers shared by the connector tests.

use std::num::NonZeroU32;
use std::time::Duration;

use itsmid_connectors::{
    ConnectorSettings, Credentials, HttpSettings, Integration, ReadinessSettings, System,
};
use secrecy::SecretString;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Settings that keep tests quick: short timeouts and backoff, a high rate.
pub fn settings(
    system: System,
    server: &MockServer,
    credentials: Credentials,
) -> ConnectorSettings {
    ConnectorSettings {
        integration: Integration::new(match system {
            System::ServiceNow => "snow",
            System::Jira => "jira_service_desk",
            System::JiraDc => "jira_onprem",
            System::Salesforce => "salesforce",
            System::Freshservice => "freshservice",
            System::ManageEngine => "manageengine",
        }),
        system,
        base_url: server.uri().parse().expect("wiremock serves a valid URL"),
        credentials,
        instance_url: None,
        lookup_field: system.default_lookup_field().to_owned(),
        http: HttpSettings {
            requests_per_minute: NonZeroU32::new(60_000).expect("not zero"),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            max_in_flight: 4,
            max_attempts: 4,
            retry_budget: Duration::from_secs(3),
            base_backoff: Duration::from_millis(5),
            record: false,
        },
        readiness: ReadinessSettings::default(),
    }
}

pub fn basic(username: &str, password: &str) -> Credentials {
    Credentials::Basic {
        username: username.to_owned(),
        password: SecretString::from(password.to_owned()),
    }
}

pub fn bearer(token: &str) -> Credentials {
    Credentials::Bearer {
        token: SecretString::from(token.to_owned()),
    }
}

/// Mounted last: any request no other mock matched gets a 500 that names
/// it, so a failing test shows the request it did not expect.
pub async fn mount_catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(|request: &wiremock::Request| {
            ResponseTemplate::new(599).set_body_string(format!(
                "no mock matched {} {}",
                request.method, request.url
            ))
        })
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

/// Reads a file under the repository's `fixtures/` or the shared reference
/// samples.
pub fn fixture(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A Freshservice API key, sent as the basic-auth user with password `X`.
pub fn api_key(key: &str) -> Credentials {
    Credentials::ApiKey {
        key: SecretString::from(key.to_owned()),
    }
}

/// A server that accepts each connection and closes it at once, counting
/// them: a dropped connection cannot be staged with wiremock.
pub async fn dropping_server() -> (url::Url, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let url = format!("http://{addr}").parse().expect("a valid URL");
    (url, accepted)
}
