//! The JWT bearer grant's assertion (RFC 7523, Salesforce's connected-app
//! JWT flow): RS256 over `iss` (the consumer key), `sub` (the user),
//! `aud` and `exp`, signed with the configured private key.
//!
//! The key stays a `SecretString`; the signing key built from it lives
//! only for one signature and has no `Debug`. Errors name what is wrong
//! with the key, never its content.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};

/// How long an assertion is valid: Salesforce accepts at most 3 minutes.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(180);

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

/// A fresh assertion for `username`, valid [`ASSERTION_LIFETIME`] from now.
/// A secret like the key: it logs in for its lifetime.
pub(super) fn assertion(
    client_id: &str,
    username: &str,
    audience: &str,
    private_key: &SecretString,
) -> Result<SecretString, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let claims = Claims {
        iss: client_id,
        sub: username,
        aud: audience,
        exp: (now + ASSERTION_LIFETIME).as_secs(),
    };
    sign(&claims, private_key).map(SecretString::from)
}

fn sign(claims: &Claims<'_>, private_key: &SecretString) -> Result<String, String> {
    let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|_| {
        "the private key is not an RSA private key in PEM (PKCS#1 \"RSA PRIVATE KEY\" or \
         PKCS#8 \"PRIVATE KEY\", unencrypted)"
            .to_owned()
    })?;
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).map_err(|_| {
        "the private key could not sign an RS256 assertion: it is not a usable RSA private key"
            .to_owned()
    })
}

/// Checks offline that `private_key` is an RSA private key that signs
/// (`lint` and the config load), by signing a throwaway assertion.
pub fn check_rsa_private_key(private_key: &SecretString) -> Result<(), String> {
    let claims = Claims {
        iss: "check",
        sub: "check",
        aud: "check",
        exp: 0,
    };
    sign(&claims, private_key).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_rsa_is_refused_without_being_repeated() {
        let key = SecretString::from(
            "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key-Zq9\n-----END RSA PRIVATE KEY-----\n",
        );
        let error = check_rsa_private_key(&key).expect_err("refused");
        assert!(!error.contains("Zq9"), "{error}");
        let error = check_rsa_private_key(&SecretString::from("plain text")).expect_err("refused");
        assert!(error.contains("PEM"), "{error}");
    }
}
