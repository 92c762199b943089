//! Salesforce record Ids: the 15-character case-sensitive form, the
//! 18-character form whose last three characters are a checksum of the
//! first fifteen's letter case, and the one canonical form itsmid keeps.
//!
//! Must never accept an Id whose checksum is wrong or that holds anything
//! but ASCII letters and digits: such a value is refused before any request
//! (MALFORMED_ITSM_USER_ID), so it can never reach a SOQL query.

use crate::{InvalidItsmUserId, ItsmUserId, System};

/// The checksum alphabet: a 5-bit number maps to one of these.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The three checksum characters of a 15-character Id: for each 5-character
/// chunk, bit `i` is set when character `i` is an upper-case letter.
/// `case_sensitive` must be 15 ASCII alphanumeric characters.
fn checksum(case_sensitive: &[u8]) -> [u8; 3] {
    let mut suffix = [b'A'; 3];
    for (slot, chunk) in suffix.iter_mut().zip(case_sensitive.chunks(5)) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |bits, (i, _)| bits | (1 << i));
        // `bits` < 32: a chunk has at most five characters.
        *slot = SUFFIX_ALPHABET.get(bits).copied().unwrap_or(b'A');
    }
    suffix
}

/// Checks a stored or returned Id and returns its canonical form: 18
/// characters, the checksum in upper case. A 15-character Id gets its
/// checksum computed; an 18-character one must carry the right checksum
/// (compared without regard to case, as Salesforce does).
pub fn parse_id(value: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(
            "the Id is empty; a Salesforce Id has 18 letters and digits (or its 15-character form)",
        ));
    }
    if let Some(bad) = value.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(invalid(format!(
            "the Id contains {bad:?}; a Salesforce Id has only letters and digits"
        )));
    }
    let bytes = value.as_bytes();
    match bytes.len() {
        15 => {
            let suffix = checksum(bytes);
            let mut canonical = value.to_owned();
            canonical.extend(suffix.iter().map(|&b| char::from(b)));
            Ok(ItsmUserId::new(canonical))
        }
        18 => {
            let (case_sensitive, given) = bytes.split_at(15);
            let expected = checksum(case_sensitive);
            let given: Vec<u8> = given.iter().map(u8::to_ascii_uppercase).collect();
            if given != expected {
                let expected: String = expected.iter().map(|&b| char::from(b)).collect();
                return Err(invalid(format!(
                    "the Id's last three characters are not its checksum (expected {expected} \
                     after {}); check for a changed letter case or a typing error",
                    value.get(..15).unwrap_or(value)
                )));
            }
            let mut canonical = value.get(..15).unwrap_or(value).to_owned();
            canonical.extend(given.iter().map(|&b| char::from(b)));
            Ok(ItsmUserId::new(canonical))
        }
        other => Err(invalid(format!(
            "the Id has {other} characters; a Salesforce Id has 18 (or 15 in its case-sensitive form)"
        ))),
    }
}

/// An id this system's format refuses, with the reason the administrator reads.
fn invalid(why: impl Into<String>) -> InvalidItsmUserId {
    InvalidItsmUserId::new(System::Salesforce, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Published pairs (API-NOTES section 3.4).
    const VERIFIED: [(&str, &str); 6] = [
        ("001D000000IRFma", "001D000000IRFmaIAH"),
        ("001D000000Iomaz", "001D000000IomazIAB"),
        ("003RO0000035WQg", "003RO0000035WQgYAM"),
        ("005R0000000I90C", "005R0000000I90CIAS"),
        ("0050m000003K9VA", "0050m000003K9VAAA0"),
        ("00558000001N0Ke", "00558000001N0KeAAK"),
    ];

    #[test]
    fn published_fifteen_character_ids_get_their_published_checksums() {
        for (short, long) in VERIFIED {
            assert_eq!(parse_id(short), Ok(ItsmUserId::new(long)), "{short}");
            assert_eq!(parse_id(long), Ok(ItsmUserId::new(long)), "{long}");
        }
    }

    #[test]
    fn the_checksum_is_compared_without_regard_to_case() {
        assert_eq!(
            parse_id("001D000000IRFmaiah"),
            Ok(ItsmUserId::new("001D000000IRFmaIAH"))
        );
    }

    #[test]
    fn wrong_lengths_characters_and_checksums_are_refused() {
        for bad in [
            "",
            "001D000000IRFm",
            "001D000000IRFmaI",
            "001D000000IRFmaIAHX",
            "001D000000IRFmaIAB",
            "001d000000IRFmaIAH",
            "001D000000IRF-aIAH",
            "001D000000IRFma'AH",
        ] {
            let why = parse_id(bad).expect_err(bad).to_string();
            assert!(why.contains("Id"), "{why}");
        }
    }

    proptest! {
        #[test]
        fn every_fifteen_character_id_has_a_valid_eighteen_character_form(
            short in "[a-zA-Z0-9]{15}"
        ) {
            let long = parse_id(&short).map_err(|why| TestCaseError::fail(why.to_string()))?;
            prop_assert_eq!(long.as_str().len(), 18);
            prop_assert!(long.as_str().starts_with(&short));
            prop_assert_eq!(parse_id(long.as_str()), Ok(long.clone()));
        }

        #[test]
        fn any_change_of_a_checksum_character_is_refused(
            short in "[a-zA-Z0-9]{15}", position in 0usize..3, replacement in 0usize..32
        ) {
            let long = parse_id(&short).map_err(|why| TestCaseError::fail(why.to_string()))?;
            let mut suffix: Vec<u8> = long.as_str().as_bytes()[15..].to_vec();
            let new = SUFFIX_ALPHABET[replacement];
            prop_assume!(suffix[position] != new);
            suffix[position] = new;
            let changed = format!("{short}{}", String::from_utf8_lossy(&suffix));
            prop_assert!(parse_id(&changed).is_err(), "{}", changed);
        }
    }
}
