//! How values read on the page: times in UTC with the relative time,
//! statuses as a word and a symbol as well as a colour, report fields.

use jiff::Timestamp;
use maud::{Markup, html};
use serde_json::Value;

/// A compact UTC label for the chart's axis.
pub(super) fn short_time(rfc3339: &str) -> String {
    rfc3339.parse::<Timestamp>().map_or_else(
        |_| rfc3339.to_owned(),
        |at| at.strftime("%m-%d %H:%M").to_string(),
    )
}

/// A time in UTC with how long ago (or how soon) it is, so a reader in any
/// time zone can tell both the moment and its age.
pub(super) fn when(now: Timestamp, at: Timestamp) -> Markup {
    let at = Timestamp::from_second(at.as_second()).unwrap_or(at);
    html! {
        time datetime=(at) { (at.strftime("%Y-%m-%d %H:%M:%S UTC")) }
        " " span.rel { "(" (relative(now, at)) ")" }
    }
}

/// As [`when`], for a time the report or the store gives as text; text that
/// is not a time is shown as it is.
pub(super) fn when_text(now: Timestamp, rfc3339: &str) -> Markup {
    match rfc3339.parse::<Timestamp>() {
        Ok(at) => when(now, at),
        Err(_) => html! { (rfc3339) },
    }
}

/// "3 minutes ago", "in 12 minutes", "just now": rounded to the nearest
/// unit, the way a reader would say it.
pub(super) fn relative(now: Timestamp, at: Timestamp) -> String {
    let delta = at.as_second() - now.as_second();
    let distance = delta.unsigned_abs();
    if distance < 45 {
        return "just now".to_owned();
    }
    let (amount, unit) = if distance < 3570 {
        (((distance + 30) / 60).max(1), "minute")
    } else if distance < 84_600 {
        ((distance + 1800) / 3600, "hour")
    } else {
        ((distance + 43_200) / 86_400, "day")
    };
    let plural = if amount == 1 { "" } else { "s" };
    if delta < 0 {
        format!("{amount} {unit}{plural} ago")
    } else {
        format!("in {amount} {unit}{plural}")
    }
}

pub(super) fn seconds(value: f64) -> String {
    format!("{value:.1} s")
}

pub(super) fn dash_if_empty(value: &str) -> &str {
    if value.is_empty() { "—" } else { value }
}

/// A status's colour, which always comes with a symbol and a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Good,
    Warn,
    Bad,
    Info,
    Quiet,
}

impl Tone {
    pub(super) fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Info => "info",
            Tone::Quiet => "quiet",
        }
    }

    pub(super) fn symbol(self) -> &'static str {
        match self {
            Tone::Good => "✔",
            Tone::Warn => "⚠",
            Tone::Bad => "✖",
            Tone::Info => "ℹ",
            Tone::Quiet => "–",
        }
    }
}

/// A value as a reader says it (`not_found` as "not found"), with its
/// symbol.
pub(super) fn badge(tone: Tone, word: &str) -> Markup {
    html! {
        span class={ "badge " (tone.class()) } { (tone.symbol()) " " (word.replace('_', " ")) }
    }
}

pub(super) fn system_tone(status: &str) -> Tone {
    match status {
        "ok" => Tone::Good,
        "unavailable" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

pub(super) fn credential_tone(check: &str) -> Tone {
    match check {
        "ok" => Tone::Good,
        "mismatch" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

pub(super) fn readiness_tone(readiness: &str) -> Tone {
    match readiness {
        "ok" => Tone::Good,
        "problems" | "unavailable" => Tone::Warn,
        _ => Tone::Quiet,
    }
}

pub(super) fn entry_tone(status: &str) -> Tone {
    match status {
        "verified" => Tone::Good,
        "duplicate" => Tone::Warn,
        "unchecked" => Tone::Quiet,
        _ => Tone::Bad,
    }
}

pub(super) fn outcome_tone(outcome: &str) -> Tone {
    match outcome {
        "ok" => Tone::Good,
        "problems" => Tone::Warn,
        "refused" | "failed" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

/// A string field; null and empty read as absent, since the report uses
/// null for "does not apply".
pub(super) fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

pub(super) fn count(value: &Value, key: &str) -> Option<u64> {
    value.get(key)?.as_u64()
}

/// A string or a number, shown as it is (the quota fields are strings
/// today; a number would mean the same).
pub(super) fn scalar(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn list<'v>(value: Option<&'v Value>, key: &str) -> &'v [Value] {
    value
        .and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}
