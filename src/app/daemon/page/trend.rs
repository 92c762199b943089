//! The trend: the recent runs as a small inline SVG chart of errors and
//! warnings, and the table of runs with their loads.

use jiff::Timestamp;
use maud::{Markup, html};

use super::format::*;
use super::view::RunRecord;
use crate::pipeline::store::Snapshot;

pub(super) fn trend_section(now: Timestamp, runs: &[RunRecord]) -> Markup {
    html! {
        section #trend aria-labelledby="trend-h" {
            h2 #trend-h { "Trend" }
            @if runs.is_empty() {
                p { "There are no runs yet." }
            } @else {
                (chart(runs))
                div.table-wrap {
                    table {
                        caption { "Recent runs, newest first: " (runs.len()) }
                        thead {
                            tr {
                                th scope="col" { "Finished" }
                                th scope="col" { "Outcome" }
                                th scope="col" .num { "Seconds" }
                                th scope="col" .num { "Errors" }
                                th scope="col" .num { "Warnings" }
                                th scope="col" { "Load" }
                            }
                        }
                        tbody {
                            @for run in runs.iter().rev() {
                                (run_row(now, run))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The loads the store keeps, as `itsmid history` lists them, newest
/// first: a blocked load wrote no snapshot, so its block is in the runs.
pub(super) fn loads_section(now: Timestamp, loads: &[Snapshot]) -> Markup {
    html! {
        section #loads aria-labelledby="loads-h" {
            h2 #loads-h { "Loads" }
            @if loads.is_empty() {
                p { "No load is kept yet." }
            } @else {
                div.table-wrap {
                    table {
                        caption { "Loads kept in the store (itsmid history), newest first: " (loads.len()) }
                        thead {
                            tr {
                                th scope="col" { "Snapshot" }
                                th scope="col" { "Loaded" }
                                th scope="col" .num { "Users" }
                                th scope="col" .num { "Added" }
                                th scope="col" .num { "Removed" }
                                th scope="col" .num { "Changed" }
                                th scope="col" .num { "Unchanged" }
                            }
                        }
                        tbody {
                            @for load in loads.iter().rev() {
                                tr data-load=(load.id) {
                                    td { (load.id) }
                                    td { (when_text(now, &load.loaded_at)) }
                                    td.num { (load.users) }
                                    td.num { (load.added) }
                                    td.num { (load.removed) }
                                    td.num { (load.changed) }
                                    td.num { (load.unchanged) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn run_row(now: Timestamp, run: &RunRecord) -> Markup {
    html! {
        tr data-run=(run.finished_at) {
            td.nowrap { (when_text(now, &run.finished_at)) }
            td { (badge(outcome_tone(&run.outcome), &run.outcome)) }
            td.num { (format!("{:.1}", run.seconds)) }
            td.num { (run.errors) }
            td.num { (run.warnings) }
            td { (load_cell(run)) }
        }
    }
}

/// A blocked load wins over counts: it wrote nothing, whatever it counted.
pub(super) fn load_cell(run: &RunRecord) -> Markup {
    html! {
        @if let Some(reason) = &run.blocked {
            (badge(Tone::Warn, "blocked")) ": " (reason)
        } @else if let Some(load) = run.load {
            (load.users) " users: " (load.added) " added, " (load.removed) " removed, "
            (load.changed) " changed"
        } @else {
            span.rel { "not loaded" }
        }
    }
}

/// The chart's canvas, in SVG user units; it scales with the page.
pub(super) const WIDTH: f64 = 640.0;
pub(super) const HEIGHT: f64 = 220.0;
pub(super) const LEFT: f64 = 40.0;
pub(super) const RIGHT: f64 = 16.0;
pub(super) const TOP: f64 = 40.0;
pub(super) const BOTTOM: f64 = 32.0;
pub(super) const ERROR_COLOUR: &str = "#b3261e";
pub(super) const WARNING_COLOUR: &str = "#8a5300";
pub(super) const AXIS_COLOUR: &str = "#57606a";

/// Where each run sits on the chart; one run sits in the middle.
pub(super) struct Plot {
    count: usize,
    max: u64,
}

impl Plot {
    pub(super) fn new(runs: &[RunRecord]) -> Self {
        let max = runs
            .iter()
            .map(|run| run.errors.max(run.warnings))
            .max()
            .unwrap_or(0)
            .max(1);
        Plot {
            count: runs.len(),
            max,
        }
    }

    pub(super) fn x(&self, index: usize) -> f64 {
        let span = WIDTH - LEFT - RIGHT;
        if self.count < 2 {
            LEFT + span / 2.0
        } else {
            LEFT + span * index as f64 / (self.count - 1) as f64
        }
    }

    pub(super) fn y(&self, value: u64) -> f64 {
        let span = HEIGHT - TOP - BOTTOM;
        TOP + span - span * value as f64 / self.max as f64
    }

    pub(super) fn points(&self, values: impl Iterator<Item = u64>) -> String {
        values
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", self.x(i), self.y(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Errors as a solid line with circles, warnings as a dashed line with
/// squares, and a legend in words: the two series differ without colour.
pub(super) fn chart(runs: &[RunRecord]) -> Markup {
    let plot = Plot::new(runs);
    let Some(last) = runs.last() else {
        return html! {};
    };
    let label = format!(
        "Errors and warnings in the last {} runs, oldest first; the latest run had {} errors and {} warnings.",
        runs.len(),
        last.errors,
        last.warnings
    );
    let baseline = HEIGHT - BOTTOM;
    let first = runs.first().map_or("", |run| run.finished_at.as_str());
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) {
            title { (label) }
            (legend())
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(baseline) stroke=(AXIS_COLOUR) {}
            line x1=(LEFT) y1=(baseline) x2=(WIDTH - RIGHT) y2=(baseline) stroke=(AXIS_COLOUR) {}
            text x=(LEFT - 6.0) y=(TOP + 4.0) text-anchor="end" font-size="12" fill="currentColor" { (plot.max) }
            text x=(LEFT - 6.0) y=(baseline + 4.0) text-anchor="end" font-size="12" fill="currentColor" { "0" }
            text x=(LEFT) y=(HEIGHT - 10.0) font-size="12" fill="currentColor" { (short_time(first)) }
            @if runs.len() > 1 {
                text x=(WIDTH - RIGHT) y=(HEIGHT - 10.0) text-anchor="end" font-size="12" fill="currentColor" {
                    (short_time(&last.finished_at))
                }
            }
            polyline.series.errors points=(plot.points(runs.iter().map(|r| r.errors)))
                fill="none" stroke=(ERROR_COLOUR) stroke-width="2" {}
            polyline.series.warnings points=(plot.points(runs.iter().map(|r| r.warnings)))
                fill="none" stroke=(WARNING_COLOUR) stroke-width="2" stroke-dasharray="6 4" {}
            @for (i, run) in runs.iter().enumerate() {
                circle.pt.err cx=(format!("{:.1}", plot.x(i))) cy=(format!("{:.1}", plot.y(run.errors)))
                    r="4" fill=(ERROR_COLOUR) {
                    title { (run.finished_at) ": " (run.errors) " errors" }
                }
                rect.pt.warn x=(format!("{:.1}", plot.x(i) - 3.5)) y=(format!("{:.1}", plot.y(run.warnings) - 3.5))
                    width="7" height="7" fill=(WARNING_COLOUR) {
                    title { (run.finished_at) ": " (run.warnings) " warnings" }
                }
            }
        }
    }
}

pub(super) fn legend() -> Markup {
    html! {
        g.legend font-size="12" fill="currentColor" {
            line x1=(LEFT) y1="14" x2=(LEFT + 28.0) y2="14" stroke=(ERROR_COLOUR) stroke-width="2" {}
            circle cx=(LEFT + 14.0) cy="14" r="4" fill=(ERROR_COLOUR) {}
            text x=(LEFT + 34.0) y="18" { "errors (solid line, circles)" }
            line x1=(LEFT + 250.0) y1="14" x2=(LEFT + 278.0) y2="14" stroke=(WARNING_COLOUR)
                stroke-width="2" stroke-dasharray="6 4" {}
            rect x=(LEFT + 260.5) y="10.5" width="7" height="7" fill=(WARNING_COLOUR) {}
            text x=(LEFT + 284.0) y="18" { "warnings (dashed line, squares)" }
        }
    }
}
