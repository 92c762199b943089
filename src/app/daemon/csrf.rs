//! Cross-site request forgery: a browser signed in to the status page with
//! HTTP Basic sends the credentials with any form another site makes it
//! post, so a run started from a browser must prove it came from the page.
//!
//! Three checks, each enough to refuse: the browser's own `Sec-Fetch-Site`
//! saying another site sent it, an `Origin` that is not this daemon, and a
//! missing or wrong anti-forgery token (made at start, shown only in the
//! page served to the full token). A script's `Authorization: Bearer`
//! is never sent by a browser on its own, so such a request needs none.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

/// Why a form post is refused, for the 403's message.
pub(super) fn refusal(headers: &HeaderMap, form: &[u8], expected: &str) -> Option<&'static str> {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("same-origin");
    if !matches!(fetch_site, "same-origin" | "none") {
        return Some("the browser says another site sent this request");
    }
    if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(origin);
        if host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Some("the request comes from another origin");
        }
    }
    let given = url::form_urlencoded::parse(form)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Some("the form's anti-forgery token is missing or wrong; reload the page");
    }
    None
}

/// Compares every byte whatever the first difference, so the time taken
/// does not tell an attacker how much of a guess was right.
pub(super) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
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

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                value.parse().expect("a value"),
            );
        }
        headers
    }

    #[test]
    fn tokens_are_long_and_different() {
        let token = crate::app::random_token;
        let (a, b) = (token().expect("a token"), token().expect("a token"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn only_a_same_origin_form_with_the_token_passes() {
        let own = headers(&[
            ("host", "127.0.0.1:8377"),
            ("origin", "http://127.0.0.1:8377"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(refusal(&own, b"csrf=tok", "tok"), None);
        assert!(refusal(&own, b"csrf=other", "tok").is_some());
        assert!(refusal(&own, b"", "tok").is_some());
        let cross = headers(&[("host", "127.0.0.1:8377"), ("sec-fetch-site", "cross-site")]);
        assert!(refusal(&cross, b"csrf=tok", "tok").is_some());
        let elsewhere = headers(&[
            ("host", "127.0.0.1:8377"),
            ("origin", "https://evil.example"),
        ]);
        assert!(refusal(&elsewhere, b"csrf=tok", "tok").is_some());
        // A browser that sends neither header still needs the token.
        let bare = headers(&[("host", "127.0.0.1:8377")]);
        assert_eq!(refusal(&bare, b"csrf=tok", "tok"), None);
    }

    #[test]
    fn constant_time_comparison_agrees_with_equality() {
        for (a, b) in [("", ""), ("a", ""), ("", "a"), ("ab", "ab"), ("ab", "ba")] {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), a == b);
        }
    }
}
