//! The SOQL subset the Salesforce simulator understands, with SOQL's
//! quoting and escapes: exactly the queries the connector sends.
//!
//! Refuses everything else as a malformed query, as Salesforce would refuse
//! what it cannot parse; never guesses what a query meant.

/// The SOQL subset the simulator understands: `SELECT f, g FROM User WHERE
/// h IN ('a', 'b')` or `WHERE h = 'a'`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Soql {
    pub fields: Vec<String>,
    pub filter_field: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Literal(String),
    Comma,
    Open,
    Close,
    Equals,
}

impl Soql {
    pub fn parse(text: &str) -> Result<Soql, String> {
        let tokens = tokenize(text)?;
        let mut tokens = tokens.into_iter().peekable();
        expect_word(&mut tokens, "SELECT")?;
        let mut fields = Vec::new();
        loop {
            match tokens.next() {
                Some(Token::Word(field)) if !field.eq_ignore_ascii_case("FROM") => {
                    fields.push(field)
                }
                other => return Err(format!("expected a field name, found {other:?}")),
            }
            match tokens.peek() {
                Some(Token::Comma) => {
                    tokens.next();
                }
                _ => break,
            }
        }
        expect_word(&mut tokens, "FROM")?;
        match tokens.next() {
            Some(Token::Word(object)) if object.eq_ignore_ascii_case("User") => {}
            other => return Err(format!("sObject type {other:?} is not supported here")),
        }
        expect_word(&mut tokens, "WHERE")?;
        let filter_field = match tokens.next() {
            Some(Token::Word(field)) => field,
            other => {
                return Err(format!(
                    "expected a field name after WHERE, found {other:?}"
                ));
            }
        };
        let values = match tokens.next() {
            Some(Token::Equals) => match tokens.next() {
                Some(Token::Literal(value)) => vec![value],
                other => return Err(format!("expected a quoted value, found {other:?}")),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => {
                if tokens.next() != Some(Token::Open) {
                    return Err("expected ( after IN".into());
                }
                let mut values = Vec::new();
                loop {
                    match tokens.next() {
                        Some(Token::Literal(value)) => values.push(value),
                        other => return Err(format!("expected a quoted value, found {other:?}")),
                    }
                    match tokens.next() {
                        Some(Token::Comma) => {}
                        Some(Token::Close) => break,
                        other => return Err(format!("expected , or ), found {other:?}")),
                    }
                }
                values
            }
            other => return Err(format!("expected IN or =, found {other:?}")),
        };
        if let Some(extra) = tokens.next() {
            return Err(format!(
                "unexpected token {extra:?} at the end of the query"
            ));
        }
        Ok(Soql {
            fields,
            filter_field,
            values,
        })
    }
}

fn expect_word(tokens: &mut impl Iterator<Item = Token>, word: &str) -> Result<(), String> {
    match tokens.next() {
        Some(Token::Word(w)) if w.eq_ignore_ascii_case(word) => Ok(()),
        other => Err(format!("expected {word}, found {other:?}")),
    }
}

/// Splits SOQL into words, quoted literals (escapes resolved) and
/// punctuation; an unknown escape or an open quote is an error, as in SOQL.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Equals);
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted string is not closed".into()),
                        Some('\'') => break,
                        Some('\\') => value.push(match chars.next() {
                            Some('\\') => '\\',
                            Some('\'') => '\'',
                            Some('"') => '"',
                            Some('n' | 'N') => '\n',
                            Some('r' | 'R') => '\r',
                            Some('t' | 'T') => '\t',
                            Some('b' | 'B') => '\u{8}',
                            Some('f' | 'F') => '\u{c}',
                            other => {
                                return Err(format!(
                                    "invalid escape sequence \\{}",
                                    other.map(String::from).unwrap_or_default()
                                ));
                            }
                        }),
                        Some(c) => value.push(c),
                    }
                }
                tokens.push(Token::Literal(value));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connectors_queries_parse_with_their_escapes() {
        let soql = Soql::parse(
            r"SELECT Id, Username FROM User WHERE Username IN ('o\'brien\\x@acme.com','b')",
        )
        .expect("valid SOQL");
        assert_eq!(soql.fields, ["Id", "Username"]);
        assert_eq!(soql.filter_field, "Username");
        assert_eq!(soql.values, [r"o'brien\x@acme.com", "b"]);
        let single =
            Soql::parse("select Id from user where Id = '005000000000001AAA'").expect("valid SOQL");
        assert_eq!(single.values, ["005000000000001AAA"]);
    }

    #[test]
    fn anything_else_is_a_malformed_query() {
        for bad in [
            "SELECT Id FROM User",
            "SELECT Id FROM Account WHERE Id = 'x'",
            "SELECT Id FROM User WHERE Username IN ('a' OR Id != '')",
            "SELECT Id FROM User WHERE Username = 'a' OR Id != ''",
            "SELECT Id FROM User WHERE Username = 'a",
            r"SELECT Id FROM User WHERE Username = 'a\x'",
            "SELECT Id FROM User WHERE Username LIKE 'a%'",
        ] {
            assert!(Soql::parse(bad).is_err(), "{bad}");
        }
    }
}
