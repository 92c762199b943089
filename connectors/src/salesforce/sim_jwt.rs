//! The simulator's JWT bearer grant: `grant_type=urn:ietf:params:oauth:
//! grant-type:jwt-bearer` with an RS256 `assertion`, checked as Salesforce
//! does: a known consumer key (`iss`), a signature by the connected app's
//! certificate (the fixture's `public_key`), an audience of the login
//! server, an expiry no more than a few minutes ahead and not past, and a
//! user (`sub`) approved for the app.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::sim::{InvalidSimData, JwtClient};

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Salesforce accepts assertions that expire within 3 minutes; a little
/// more for clocks that differ.
const MAX_LIFETIME_SECS: u64 = 300;

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: u64,
}

/// Refuses a fixture whose public keys are not RSA public keys in PEM.
pub fn check_clients(clients: &[JwtClient]) -> Result<(), InvalidSimData> {
    for (index, client) in clients.iter().enumerate() {
        DecodingKey::from_rsa_pem(client.public_key.as_bytes()).map_err(|_| {
            InvalidSimData(format!(
                "simulator.jwt_clients[{index}]: public_key is not an RSA public key in PEM \
                 (\"-----BEGIN PUBLIC KEY-----\")"
            ))
        })?;
    }
    Ok(())
}

/// The grant's outcome: the client whose tokens the answer carries, or
/// OAuth's `error` and `error_description`.
pub fn grant<'a>(
    clients: &'a [JwtClient],
    form: &HashMap<String, String>,
    own_origin: &str,
) -> Result<&'a JwtClient, (&'static str, &'static str)> {
    const INVALID: (&str, &str) = ("invalid_grant", "invalid assertion");
    let assertion = form.get("assertion").ok_or(INVALID)?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| INVALID)?;
    if header.alg != Algorithm::RS256 {
        return Err((
            "invalid_grant",
            "invalid assertion: the algorithm is not RS256",
        ));
    }
    // The consumer key first, to know whose certificate checks the signature.
    let mut unchecked = Validation::new(Algorithm::RS256);
    unchecked.insecure_disable_signature_validation();
    unchecked.validate_exp = false;
    unchecked.validate_aud = false;
    let unverified =
        jsonwebtoken::decode::<Claims>(assertion, &DecodingKey::from_secret(&[]), &unchecked)
            .map_err(|_| INVALID)?;
    let client = clients
        .iter()
        .find(|c| c.client_id == unverified.claims.iss)
        .ok_or(("invalid_client_id", "client identifier invalid"))?;
    let key = DecodingKey::from_rsa_pem(client.public_key.as_bytes()).map_err(|_| INVALID)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_audience(&[
        own_origin.trim_end_matches('/'),
        "https://login.salesforce.com",
        "https://test.salesforce.com",
    ]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let verified = match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
        Ok(verified) => verified.claims,
        Err(error) => {
            return Err(match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ("invalid_grant", "expired authorization code")
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    ("invalid_grant", "audience is invalid")
                }
                _ => INVALID,
            });
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if verified.exp > now + MAX_LIFETIME_SECS {
        return Err((
            "invalid_grant",
            "invalid assertion: it expires too far ahead",
        ));
    }
    if !verified.sub.eq_ignore_ascii_case(&client.username) {
        return Err(("invalid_grant", "user hasn't approved this consumer"));
    }
    Ok(client)
}
