//! Freshservice filter queries (`query="primary_email:'a' OR ..."`): the one
//! function that decides whether a value may be spliced into a filter
//! ([`check_value`]), and the builder that packs checked values into
//! quoted OR-chains no longer than the API's 512 characters.
//!
//! Must never put an unchecked value into a filter. A string value sits in
//! single quotes and the API documents no escape, so a value holding `'`,
//! `"` or `\` could end the string and add conditions of its own; such a
//! value is sent only as a plain `?email=` parameter, which the URL encoding
//! keeps whole.

use crate::UnsafeValue;

/// The API's limit on the `query` value, counted with its double quotes.
pub const MAX_QUERY_CHARS: usize = 512;

/// How a checked value may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Safe between single quotes in a filter.
    Filter,
    /// Holds a quote or a backslash, which a filter cannot carry: only the
    /// plain `?email=` parameter keeps it whole.
    Alone,
}

/// Decides whether `value` may go into a filter, and how it is sent
/// otherwise. The value sent is the trimmed one: see [`sendable`].
pub fn check_value(value: &str) -> Result<Placement, UnsafeValue> {
    let refuse = |reason: &str| {
        Err(UnsafeValue {
            reason: reason.to_owned(),
        })
    };
    if sendable(value).is_empty() {
        return refuse("the value is empty, so there is nothing to look up");
    }
    // Checked on the raw value: a line break must refuse the value even
    // where trimming would have dropped it.
    if value.contains(['\n', '\r']) {
        return refuse(
            "the value contains a line break, which no e-mail address holds and which could \
             split a Freshservice filter; it was not sent",
        );
    }
    if value.chars().any(char::is_control) {
        return refuse(
            "the value contains a control character, which no e-mail address holds; it was not \
             sent",
        );
    }
    if value.contains(['\'', '"', '\\']) {
        return Ok(Placement::Alone);
    }
    Ok(Placement::Filter)
}

/// The form of a value that is sent and compared: surrounding blanks are
/// never part of an e-mail, and [`crate::ExternalId::matches`] ignores them.
pub fn sendable(value: &str) -> &str {
    value.trim()
}

/// `field:'value'`, for a value that passed [`check_value`] as
/// [`Placement::Filter`].
fn condition(field: &str, value: &str) -> String {
    format!("{field}:'{value}'")
}

/// Packs `values` into as few quoted filters as fit in [`MAX_QUERY_CHARS`]
/// (`"f:'a' OR f:'b'"`), keeping their order. A value too long for any
/// filter is returned in the second list, to be sent alone. Every value
/// must have passed [`check_value`] as [`Placement::Filter`].
pub fn pack<'a>(field: &str, values: &[&'a str]) -> (Vec<Filter<'a>>, Vec<&'a str>) {
    const QUOTES: usize = 2;
    const OR: &str = " OR ";
    let mut filters = Vec::new();
    let mut too_long = Vec::new();
    let mut current = Filter::default();
    let mut length = QUOTES;
    for &value in values {
        let cost = condition(field, value).chars().count();
        if QUOTES + cost > MAX_QUERY_CHARS {
            too_long.push(value);
            continue;
        }
        let joined = if current.values.is_empty() {
            cost
        } else {
            OR.len() + cost
        };
        if length + joined > MAX_QUERY_CHARS {
            filters.push(std::mem::take(&mut current));
            length = QUOTES + cost;
        } else {
            length += joined;
        }
        current.values.push(value);
    }
    if !current.values.is_empty() {
        filters.push(current);
    }
    for packed in &mut filters {
        packed.text = filter(field, &packed.values);
    }
    (filters, too_long)
}

/// The quoted filter for `values` (`"f:'a' OR f:'b'"`). Every value must
/// have passed [`check_value`] as [`Placement::Filter`]; any part of a
/// filter [`pack`] made fits the limit as well.
pub fn filter(field: &str, values: &[&str]) -> String {
    let conditions: Vec<String> = values.iter().map(|value| condition(field, value)).collect();
    format!("\"{}\"", conditions.join(" OR "))
}

/// One `query` value and the values it asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter<'a> {
    /// The whole parameter value, double quotes included.
    pub text: String,
    pub values: Vec<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quotes_and_backslashes_are_sent_alone_and_breaks_refused() {
        assert_eq!(check_value("o'brien@acme.com"), Ok(Placement::Alone));
        assert_eq!(check_value("a\"b@acme.com"), Ok(Placement::Alone));
        assert_eq!(check_value("a\\b@acme.com"), Ok(Placement::Alone));
        assert_eq!(check_value(" pat@acme.com "), Ok(Placement::Filter));
        for bad in [
            "",
            "  ",
            "pat@acme.com\n",
            "pat@acme.com\r",
            "pat\u{0}@acme.com",
        ] {
            assert!(check_value(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_joined_with_or_inside_double_quotes() {
        let (filters, too_long) = pack("primary_email", &["a@x.com", "b@x.com"]);
        assert!(too_long.is_empty());
        assert_eq!(
            filters,
            [Filter {
                text: "\"primary_email:'a@x.com' OR primary_email:'b@x.com'\"".into(),
                values: vec!["a@x.com", "b@x.com"],
            }]
        );
    }

    #[test]
    fn filters_are_cut_at_512_characters_and_overlong_values_go_alone() {
        let long = format!("{}@x.com", "l".repeat(600));
        let values: Vec<String> = (0..40).map(|i| format!("user{i:02}@acme.com")).collect();
        let mut refs: Vec<&str> = values.iter().map(String::as_str).collect();
        refs.push(&long);
        let (filters, too_long) = pack("email", &refs);
        assert_eq!(too_long, [long.as_str()]);
        assert!(filters.len() > 1);
        let mut seen = Vec::new();
        for filter in &filters {
            assert!(filter.text.chars().count() <= MAX_QUERY_CHARS);
            seen.extend(filter.values.iter().copied());
        }
        assert_eq!(seen, refs[..40]);
        // Full: the next value would not have fit.
        let first = &filters[0];
        assert!(first.text.chars().count() + " OR email:'user00@acme.com'".len() > MAX_QUERY_CHARS);
    }

    proptest! {
        #[test]
        fn any_value_with_a_quote_is_kept_out_of_filters(
            before in ".*", quote in "['\"]", after in ".*"
        ) {
            let value = format!("{before}{quote}{after}");
            prop_assert_ne!(check_value(&value), Ok(Placement::Filter));
        }

        #[test]
        fn a_normal_e_mail_goes_into_a_filter(
            value in "[a-zA-Z0-9._%+-]{1,30}@[a-zA-Z0-9-]{1,20}\\.[a-z]{2,6}"
        ) {
            prop_assert_eq!(check_value(&value), Ok(Placement::Filter));
        }

        #[test]
        fn packed_filters_never_exceed_the_limit(
            values in proptest::collection::vec("[a-z0-9.]{1,60}@[a-z]{1,10}\\.com", 0..60)
        ) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let (filters, too_long) = pack("primary_email", &refs);
            prop_assert!(too_long.is_empty());
            let sent: usize = filters.iter().map(|f| f.values.len()).sum();
            prop_assert_eq!(sent, refs.len());
            for filter in filters {
                prop_assert!(filter.text.chars().count() <= MAX_QUERY_CHARS);
            }
        }
    }
}
