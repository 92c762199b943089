//! What goes into Jira Data Center's user search: the `username` parameter
//! is a prefix match over user names, display names and e-mail addresses,
//! not a query language, so nothing can be injected into it. But some
//! values would turn one lookup into a listing of the whole directory (an
//! empty value, or `.`, which Jira 8 and 9 read as "every user"), and a
//! value with control characters is never a login or an address. Those are
//! refused before any request; every answer is compared exactly anyway.

use crate::UnsafeValue;

/// The longest value searched: Jira's user names and e-mail addresses are
/// limited to 255 characters.
pub const MAX_SEARCH_CHARS: usize = 255;

/// Checks that `value` can be searched for one user, and returns it
/// trimmed as it is sent.
pub fn search_term(value: &str) -> Result<&str, UnsafeValue> {
    let trimmed = value.trim();
    let refuse = |reason: &str| {
        Err(UnsafeValue {
            reason: reason.to_owned(),
        })
    };
    if trimmed.is_empty() {
        return refuse("the value is empty, and an empty search would list every user");
    }
    if trimmed.chars().all(|c| c == '.') {
        return refuse("the value is only dots, which Jira's user search reads as every user");
    }
    if trimmed.chars().any(char::is_control) {
        return refuse(
            "the value holds a control character, which no Jira user name or e-mail address has",
        );
    }
    if trimmed.chars().count() > MAX_SEARCH_CHARS {
        return refuse(
            "the value is longer than the 255 characters of a Jira user name or e-mail address",
        );
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn values_that_would_list_every_user_are_refused() {
        for value in ["", "   ", ".", "..", " . "] {
            assert!(search_term(value).is_err(), "{value:?}");
        }
        assert!(search_term("pat\n@acme.com").is_err());
        assert!(search_term(&"a".repeat(256)).is_err());
        assert_eq!(search_term(" pat@acme.com "), Ok("pat@acme.com"));
        assert_eq!(search_term("j.smith"), Ok("j.smith"));
    }

    proptest! {
        /// Whatever is accepted travels as exactly one `username` value and
        /// arrives unchanged: no `&`, `=`, `#` or `%` escapes into another
        /// parameter.
        #[test]
        fn an_accepted_value_is_one_parameter_that_arrives_unchanged(value in "\\PC{1,80}") {
            if let Ok(term) = search_term(&value) {
                let mut url = url::Url::parse("https://jira.example.com/rest/api/2/user/search").unwrap();
                url.query_pairs_mut().append_pair("username", term).append_pair("includeInactive", "true");
                let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                prop_assert_eq!(pairs.len(), 2);
                prop_assert_eq!(&pairs[0], &("username".to_owned(), term.to_owned()));
                prop_assert_eq!(&pairs[1], &("includeInactive".to_owned(), "true".to_owned()));
            }
        }
    }
}
