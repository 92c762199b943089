//! The status page (`GET /`): one server-rendered HTML page that says
//! whether ticketing is safe, from what the daemon already holds: its
//! health, the last report, and the run history kept in the store.
//!
//! Rendered with compile-time checked templates; no external asset, no
//! JavaScript framework: a few lines of inline script filter the entries,
//! and the page is complete without them. Inline script and style are
//! allowed by their hashes in the Content-Security-Policy, nothing else.

mod assets;
mod format;
mod report;
#[cfg(test)]
mod tests;
mod trend;
mod view;

use maud::{DOCTYPE, Markup, PreEscaped, html};

pub use self::assets::{SCRIPT, STYLE, content_security_policy};
use self::format::when;
use self::report::{entries_section, health_section, problems_section, systems_section};
use self::trend::{loads_section, trend_section};
pub use self::view::{LoadCounts, PageView, RunRecord};

/// The status page. Every value from the report or the store goes through
/// maud's escaping; only the two constants are inserted as they are.
pub fn render(view: &PageView) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "itsmid status" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    h1 { "itsmid status" }
                    p { "As of " (when(view.now, view.now)) }
                    @if let Some(csrf) = view.run_now {
                        (run_now_form(csrf))
                    }
                }
                main {
                    (health_section(view))
                    (systems_section(view.report))
                    (problems_section(view.report))
                    (entries_section(view.report))
                    (trend_section(view.now, view.runs))
                    (loads_section(view.now, view.loads))
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// Posts back to the daemon with the anti-forgery token; shown only to a
/// viewer who may start a run.
fn run_now_form(csrf: &str) -> Markup {
    html! {
        form.run-now method="post" action="/api/v1/runs" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Run now" }
        }
    }
}
