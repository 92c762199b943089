//! SOQL for the `User` object: the one function that turns a value into a
//! SOQL string literal ([`literal`]), the check of a configured field name,
//! and the builder of `SELECT ... FROM User WHERE <field> IN (...)`.
//!
//! Must never put a value into a query except through [`literal`]: SOQL has
//! escapes for `\`, `'`, `"` and a few control characters, and every other
//! control character (or an empty value) is refused here, so no stored
//! value can close the quote early and extend the query.

use crate::UnsafeValue;

/// The fields every lookup reads: what a check compares, and no more.
pub const FIELDS: [&str; 8] = [
    "Id",
    "Username",
    "Email",
    "IsActive",
    "FirstName",
    "LastName",
    "Name",
    "UserType",
];

/// Salesforce refuses a string in a WHERE clause longer than this.
const MAX_VALUE_CHARS: usize = 4_000;

/// `value` as a quoted SOQL string literal, with SOQL's escapes (Quoted
/// String Escape Sequences): `\` `'` `"` and newline, carriage return, tab,
/// backspace and form feed. Any other control character, an empty value and
/// a value longer than SOQL accepts are refused: no login holds them, and
/// no request is made for them.
pub fn literal(value: &str) -> Result<String, UnsafeValue> {
    let refuse = |reason: String| Err(UnsafeValue { reason });
    if value.is_empty() {
        return refuse("the value is empty, so there is nothing to look up".into());
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return refuse(format!(
            "the value is longer than the {MAX_VALUE_CHARS} characters SOQL accepts in a \
             condition; it was not sent"
        ));
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            c if c.is_control() => {
                return refuse(format!(
                    "the value contains the control character U+{:04X}, which SOQL cannot \
                     carry and no login holds; it was not sent",
                    u32::from(c)
                ));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    Ok(quoted)
}

/// The form of a value that is sent and compared: surrounding blanks are
/// never part of a login, and [`crate::ExternalId::matches`] ignores them.
pub fn sendable(value: &str) -> &str {
    value.trim()
}

/// Whether `field` may name a `User` field in a query (`lookup_by`): an API
/// name of letters, digits and `_`, starting with a letter (`Email`,
/// `FederationIdentifier`, `Login__c`). A relationship path or anything
/// else is refused at setup.
pub fn is_field_name(field: &str) -> bool {
    let mut chars = field.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && field.len() <= 80
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `SELECT <fields> FROM User WHERE <field> IN (<literals>)`. `fields` and
/// `field` are checked names; every literal came from [`literal`].
pub fn select_in<'a>(
    fields: &str,
    field: &str,
    literals: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut soql = format!("{} (", select_prefix(fields, field));
    for (index, literal) in literals.into_iter().enumerate() {
        if index > 0 {
            soql.push(',');
        }
        soql.push_str(literal);
    }
    soql.push(')');
    soql
}

/// The part of [`select_in`] before the list, for measuring a batch.
pub fn select_prefix(fields: &str, field: &str) -> String {
    format!("SELECT {fields} FROM User WHERE {field} IN")
}

pub use crate::http::encoded_len;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads a literal back the way SOQL does; `None` when the quote is
    /// closed before the end or an escape is unknown.
    fn unescape(literal: &str) -> Option<String> {
        let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut text = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => text.push(match chars.next()? {
                    '\\' => '\\',
                    '\'' => '\'',
                    '"' => '"',
                    'n' | 'N' => '\n',
                    'r' | 'R' => '\r',
                    't' | 'T' => '\t',
                    'b' | 'B' => '\u{8}',
                    'f' | 'F' => '\u{c}',
                    _ => return None,
                }),
                // An unescaped quote inside would end the literal early.
                '\'' => return None,
                c => text.push(c),
            }
        }
        Some(text)
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(
            literal(r"o'brien\x@acme.com").as_deref().ok(),
            Some(r"'o\'brien\\x@acme.com'")
        );
        assert_eq!(
            literal("a\"b\n\r\t\u{8}\u{c}").as_deref().ok(),
            Some(r#"'a\"b\n\r\t\b\f'"#)
        );
        assert_eq!(
            literal("x' OR Id != '").as_deref().ok(),
            Some(r"'x\' OR Id != \''")
        );
    }

    #[test]
    fn empty_values_and_other_control_characters_are_refused() {
        for bad in ["", "a\u{0}b", "a\u{1b}", "a\u{7f}", "\u{85}"] {
            let refused = literal(bad).expect_err(bad);
            assert!(!refused.reason.is_empty());
        }
        assert!(literal(&"a".repeat(4_001)).is_err());
        assert!(literal(&"a".repeat(4_000)).is_ok());
    }

    #[test]
    fn field_names_are_api_names() {
        assert!(is_field_name("Username"));
        assert!(is_field_name("Login__c"));
        assert!(!is_field_name(""));
        assert!(!is_field_name("_x"));
        assert!(!is_field_name("Manager.Email"));
        assert!(!is_field_name("Username IN ('x') OR Id"));
    }

    #[test]
    fn the_query_lists_literals_in_parentheses() {
        assert_eq!(
            select_in("Id, Username", "Username", ["'a'", "'b'"]),
            "SELECT Id, Username FROM User WHERE Username IN ('a','b')"
        );
        assert_eq!(encoded_len("IN ('a@b')"), "IN+%28%27a%40b%27%29".len());
    }

    proptest! {
        #[test]
        fn any_literal_reads_back_as_its_value_and_never_closes_early(value in "\\PC*") {
            prop_assume!(!value.is_empty());
            let quoted = literal(&value).map_err(|e| TestCaseError::fail(e.reason))?;
            prop_assert_eq!(unescape(&quoted), Some(value));
        }

        #[test]
        fn any_string_is_refused_or_read_back_unchanged(value in ".*") {
            match literal(&value) {
                Ok(quoted) => prop_assert_eq!(unescape(&quoted), Some(value)),
                Err(_) => {
                    let unescapable = value.chars().any(|c| {
                        c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{8}' | '\u{c}')
                    });
                    prop_assert!(value.is_empty() || unescapable, "refused {:?}", value);
                }
            }
        }

        #[test]
        fn quotes_backslashes_and_escaped_controls_always_read_back(
            value in "[a-z'\"\\\\\\n\\r\\t\\x08\\x0c]{1,40}"
        ) {
            let quoted = literal(&value).map_err(|e| TestCaseError::fail(e.reason))?;
            prop_assert_eq!(unescape(&quoted), Some(value));
        }
    }
}
