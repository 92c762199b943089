//! Values from a ticketing system or a file, made safe to print on a
//! terminal: a display name holding ESC could otherwise move the cursor,
//! rewrite lines above, recolour the terminal or set its title.
//!
//! Every table cell and every value a table or text output interpolates
//! goes through [`printable`]. JSON output needs nothing: serde escapes
//! control characters. Never changes a value that holds none.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `value` with each control character escaped as Rust writes it: C0 and
/// DEL as `\x1b`, C1 and the bidirectional overrides as `\u{9b}`, `\u{202e}`
/// (those reorder the text a person reads). Everything else is kept,
/// backslashes included.
pub fn printable(value: &str) -> Cow<'_, str> {
    if !value.chars().any(needs_escape) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// [`printable`], owned: for table rows built of `String`s.
pub fn cell(value: &str) -> String {
    printable(value).into_owned()
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// The Unicode bidirectional formatting characters (embeddings, overrides,
/// isolates and marks that change the order a line is shown in).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_borrowed_unchanged() {
        for value in ["Pat Lee", "Zoë Ångström", "ACME\\pat", "李雷", "😀", ""] {
            assert!(matches!(printable(value), Cow::Borrowed(v) if v == value));
        }
    }

    #[test]
    fn escape_sequences_and_other_c0_controls_are_shown_not_sent() {
        assert_eq!(
            printable("Pat\u{1b}[2J\u{1b}[31mLee"),
            "Pat\\x1b[2J\\x1b[31mLee"
        );
        assert_eq!(
            printable("a\nb\rc\td\u{7}e\u{7f}"),
            "a\\x0ab\\x0dc\\x09d\\x07e\\x7f"
        );
        assert_eq!(printable("\u{0}"), "\\x00");
    }

    #[test]
    fn c1_controls_and_bidirectional_overrides_are_escaped() {
        assert_eq!(printable("a\u{9b}31mb"), "a\\u{9b}31mb");
        assert_eq!(printable("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(printable("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn an_escaped_value_holds_no_control_character() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let shown = cell(&format!("x{c}y"));
            assert!(!shown.chars().any(needs_escape), "{c:?} -> {shown:?}");
        }
    }
}
