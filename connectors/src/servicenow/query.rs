//! ServiceNow encoded queries (`sysparm_query`): the one function that
//! decides whether a value may be sent ([`check_value`]), and the builders
//! that put checked values into `IN` lists or `=` conditions.
//!
//! Must never put an unchecked value into a query. The encoded query has no
//! escape for `^`, so a value that carries one (or a line break, or a
//! `javascript:` prefix the instance would evaluate) could rewrite the whole
//! query; such values are refused here and never reach a request.

use crate::UnsafeValue;

/// How a checked value may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Safe inside `<field>IN<a>,<b>`.
    InList,
    /// Holds a `,`, which `IN` would split: only `<field>=<value>` keeps it
    /// whole.
    Alone,
}

/// Decides whether `value` may go into an encoded query, and how. The value
/// sent is the trimmed one: see [`sendable`].
pub fn check_value(value: &str) -> Result<Placement, UnsafeValue> {
    let refuse = |reason: &str| {
        Err(UnsafeValue {
            reason: reason.to_owned(),
        })
    };
    let trimmed = sendable(value);
    if trimmed.is_empty() {
        return refuse("the value is empty, so there is nothing to look up");
    }
    // Checked on the raw value: a line break must refuse the value even
    // where trimming would have dropped it.
    if value.contains('^') {
        return refuse(
            "the value contains `^`, which ServiceNow reads as the start of another \
             query condition and cannot escape; it was not sent",
        );
    }
    if value.contains(['\n', '\r']) {
        return refuse(
            "the value contains a line break, which could split the ServiceNow query; \
             it was not sent",
        );
    }
    if value.chars().any(char::is_control) {
        return refuse(
            "the value contains a control character, which no login holds; it was not sent",
        );
    }
    let starts_with_script = trimmed
        .get(..JAVASCRIPT.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(JAVASCRIPT));
    if starts_with_script {
        return refuse(
            "the value starts with `javascript:`, which ServiceNow would run as a \
             server-side script; it was not sent",
        );
    }
    if trimmed.contains(',') {
        return Ok(Placement::Alone);
    }
    Ok(Placement::InList)
}

const JAVASCRIPT: &str = "javascript:";

/// The form of a value that is sent and compared: surrounding blanks are
/// never part of a login, and [`crate::ExternalId::matches`] ignores them too.
pub fn sendable(value: &str) -> &str {
    value.trim()
}

/// Whether `field` may name a column: lower-case letters, digits and `_`.
/// Field names are not checked by the server (an unknown one is silently
/// dropped and every row comes back), so a bad one must stop at setup.
pub fn is_field_name(field: &str) -> bool {
    !field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `<field>IN<a>,<b>,...`. Every value must have passed [`check_value`] as
/// [`Placement::InList`].
pub fn in_list<'a>(field: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    let mut query = format!("{field}IN");
    for (index, value) in values.into_iter().enumerate() {
        if index > 0 {
            query.push(',');
        }
        query.push_str(value);
    }
    query
}

/// `<field>=<value>`, for a value that passed [`check_value`] (either
/// placement).
pub fn equals(field: &str, value: &str) -> String {
    format!("{field}={value}")
}

pub use crate::http::encoded_len;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn injection_attempts_are_refused_with_a_reason() {
        for value in [
            "pat.lee^ORuser_name!=x",
            "x^NQsys_id!=0",
            "pat.lee\nactive=false",
            "pat.lee\r",
            "  JavaScript:gs.getUserID()",
            "",
            "   ",
        ] {
            let refused = check_value(value).expect_err(value);
            assert!(!refused.reason.is_empty());
        }
    }

    #[test]
    fn a_value_with_a_comma_is_sent_alone() {
        assert_eq!(check_value("lee, pat"), Ok(Placement::Alone));
        assert_eq!(check_value("pat.lee@acme.com"), Ok(Placement::InList));
        assert_eq!(check_value("my javascript: notes"), Ok(Placement::InList));
    }

    #[test]
    fn field_names_are_lower_case_words() {
        assert!(is_field_name("user_name"));
        assert!(is_field_name("u_employee_id2"));
        assert!(!is_field_name(""));
        assert!(!is_field_name("User_name"));
        assert!(!is_field_name("manager.email"));
        assert!(!is_field_name("user_name^ORactive"));
    }

    #[test]
    fn builders_join_checked_values() {
        assert_eq!(in_list("sys_id", ["a", "b"]), "sys_idINa,b");
        assert_eq!(equals("user_name", "lee, pat"), "user_name=lee, pat");
        assert_eq!(encoded_len("a,b c"), "a%2Cb+c".len());
    }

    proptest! {
        #[test]
        fn any_value_with_a_caret_or_line_break_is_refused(
            before in ".*", bad in "[\\^\\n\\r]", after in ".*"
        ) {
            let value = format!("{before}{bad}{after}");
            prop_assert!(check_value(&value).is_err());
        }

        #[test]
        fn any_safe_value_is_accepted(value in "[a-zA-Z0-9._@+' ,-]{0,40}[a-zA-Z0-9]") {
            prop_assume!(!value.trim().to_ascii_lowercase().starts_with("javascript:"));
            let placement = check_value(&value);
            prop_assert!(placement.is_ok());
            let expected = if value.contains(',') { Placement::Alone } else { Placement::InList };
            prop_assert_eq!(placement.ok(), Some(expected));
        }

        #[test]
        fn any_printable_value_without_caret_is_accepted(value in "[^\\^\\p{Cc}]*[a-z]") {
            prop_assume!(!value.trim().to_ascii_lowercase().starts_with("javascript:"));
            prop_assert!(check_value(&value).is_ok());
        }
    }
}
