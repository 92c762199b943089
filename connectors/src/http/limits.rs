//! SPEC section 5's limits on one request and one answer: the request line a
//! system accepts ([`MAX_REQUEST_LINE`], or the system's own), the answers
//! that refuse a request as too large (414, 431, a 400 saying so), and the
//! [`MAX_BODY_BYTES`] an answer's body may hold.
//!
//! Never reads a body past its limit and never lets a request over the
//! request-line limit leave: both end as errors (`bad_response`,
//! [`super::ConnectorError::TooLarge`]), never as memory spent or a request
//! sent.

use reqwest::StatusCode;
use reqwest::header::CONTENT_LENGTH;

use super::{Reply, RequestSpec};

/// The request line (`GET /path?query HTTP/1.1`) a system accepts unless it
/// says otherwise: 8 KiB is where common front ends (nginx, Apache, Tomcat)
/// and the proxies before them stop reading.
pub const MAX_REQUEST_LINE: usize = 8_192;

/// The most an answer's body may hold. No lookup answer comes near it (a
/// ServiceNow instance caps its own at 5 MB); past it the answer is not the
/// API's, and reading on would only spend memory.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How [`MAX_BODY_BYTES`] reads in a message.
const MAX_BODY_TEXT: &str = "32 MiB";

/// The bytes of the request line `spec` is sent with: method, target (path
/// and query, encoded as reqwest encodes it) and version, without the line
/// break.
pub fn request_line_len(spec: &RequestSpec) -> usize {
    let mut url = spec.url.clone();
    if !spec.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&spec.query);
    }
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    spec.method.as_str().len() + " ".len() + target.len() + " HTTP/1.1".len()
}

/// Why a body was not read to its end.
pub(super) enum BodyError {
    /// Over [`MAX_BODY_BYTES`]: what the answer said or how far reading got.
    TooLarge(String),
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// Reads the body chunk by chunk, holding at most [`MAX_BODY_BYTES`]: an
/// answer whose `Content-Length` is over it is refused before any of it is
/// read, and reading stops as soon as one without it passes the limit.
pub(super) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .or_else(|| response.content_length());
    if let Some(declared) = declared
        && declared > MAX_BODY_BYTES as u64
    {
        return Err(BodyError::TooLarge(format!(
            "the answer declares a body of {declared} bytes, more than the {MAX_BODY_TEXT} \
             limit; it was not read"
        )));
    }
    // What the server declares is reserved up to 1 MiB: a bigger answer
    // grows as it arrives, so a false length costs no memory.
    let capacity = declared.map_or(0, |declared| declared.min(1 << 20) as usize);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge(format!(
                "the answer's body passed the {MAX_BODY_TEXT} limit; reading stopped there"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What a server that refused a request as too large said, or `None` for
/// any other answer: 414 (URI too long), 431 (header fields too large), or
/// a 400 whose body says the request header or URI is too large, as nginx
/// ("Request Header Or Cookie Too Large"), Apache ("Size of a request
/// header field exceeds server limit") and Tomcat ("Request header is too
/// large") answer.
pub(super) fn refused_as_too_large(reply: &Reply) -> Option<String> {
    match reply.status {
        StatusCode::URI_TOO_LONG => Some("HTTP 414: the request URI is too long".into()),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            Some("HTTP 431: the request header fields are too large".into())
        }
        StatusCode::BAD_REQUEST if says_too_large(&reply.body) => {
            Some("HTTP 400 saying the request header or URI is too large".into())
        }
        _ => None,
    }
}

/// Phrases of a 400 that refuses a request's size, in the words of the
/// text once lower-cased with every run of other characters made one space.
const TOO_LARGE_PHRASES: [&str; 14] = [
    "header too large",
    "headers too large",
    "header is too large",
    "header fields too large",
    "header or cookie too large",
    "header field exceeds",
    "uri too long",
    "uri too large",
    "uri is too long",
    "url too long",
    "url too large",
    "url is too long",
    "request line too long",
    "request line is too long",
];

/// Whether a body (its first 4 KiB: an error page says it early) refuses
/// the request's size.
fn says_too_large(body: &[u8]) -> bool {
    let head = &body[..body.len().min(4_096)];
    let mut words = String::with_capacity(head.len());
    for c in String::from_utf8_lossy(head).chars() {
        if c.is_alphanumeric() {
            words.extend(c.to_lowercase());
        } else if !words.ends_with(' ') {
            words.push(' ');
        }
    }
    TOO_LARGE_PHRASES
        .iter()
        .any(|phrase| words.contains(phrase))
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use reqwest::header::HeaderMap;
    use url::Url;

    use super::*;

    #[test]
    fn the_request_line_counts_method_target_and_version() {
        let url = Url::parse("https://acme.service-now.com/api/now/table/sys_user").expect("a URL");
        let spec = RequestSpec::get(url.clone());
        assert_eq!(
            request_line_len(&spec),
            "GET /api/now/table/sys_user HTTP/1.1".len()
        );
        let spec = RequestSpec::get(url)
            .query("sysparm_query", "user_nameINa b,c")
            .query("sysparm_limit", "10");
        assert_eq!(
            request_line_len(&spec),
            "GET /api/now/table/sys_user?sysparm_query=user_nameINa+b%2Cc&sysparm_limit=10 HTTP/1.1"
                .len()
        );
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("a status"),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            method: Method::GET,
            path: "/api".into(),
        }
    }

    #[test]
    fn servers_refuse_a_request_as_too_large_in_their_own_words() {
        for (status, body) in [
            (414, ""),
            (431, "<h1>Request Header Fields Too Large</h1>"),
            (
                400,
                "<html><head><title>400 Request Header Or Cookie Too Large</title></head></html>",
            ),
            (
                400,
                "Your browser sent a request that this server could not understand.<br />\
                 Size of a request header field exceeds server limit.",
            ),
            (
                400,
                "HTTP Status 400 – Bad Request: Request header is too large",
            ),
            (400, "Bad Message 400: reason: URI Too Long"),
        ] {
            assert!(
                refused_as_too_large(&reply(status, body)).is_some(),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn other_answers_are_not_too_large() {
        for (status, body) in [
            (
                400,
                r#"[{"errorCode":"MALFORMED_QUERY","message":"unexpected token"}]"#,
            ),
            (400, "the header of the ticket is too long to show"),
            (413, "Payload Too Large"),
            (200, "URI too long"),
            (500, "Request header is too large"),
        ] {
            assert!(
                refused_as_too_large(&reply(status, body)).is_none(),
                "{status} {body}"
            );
        }
    }
}
