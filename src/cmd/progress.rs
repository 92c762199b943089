//! The progress line of a long `check`, `resolve` or `load`: on stderr,
//! redrawn in place every 250 ms once the run has taken two seconds, from
//! the domain's [`Progress`] counters.
//!
//! Drawn only when stdout and stderr are both terminals, so a pipe, a file,
//! a log collector or a CI log never receives it; never with `-q` (errors
//! only), `-v` (log lines would cut it) or `--log-format json`. The daemon
//! and the demo never start one. The line is erased before the command's
//! output is written.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Args, LogFormat};
use crate::progress::{Counts, Progress};

/// A run shorter than this shows no line at all.
const DELAY: Duration = Duration::from_secs(2);
/// How often the line is redrawn.
const EVERY: Duration = Duration::from_millis(250);
/// Erases the line the cursor is on and returns to its start.
const ERASE: &str = "\r\x1b[K";

/// Which run the line describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Check,
    Resolve,
    Load,
}

impl Run {
    fn as_str(self) -> &'static str {
        match self {
            Run::Check => "check",
            Run::Resolve => "resolve",
            Run::Load => "load",
        }
    }
}

/// The line's text (without the escape codes that place it).
pub fn render(run: Run, counts: Counts, elapsed: Duration) -> String {
    let mut line = format!(
        "{}: {} of {} systems done, {} of {} entries judged",
        run.as_str(),
        grouped(counts.systems_done),
        grouped(counts.systems_total),
        grouped(counts.entries_judged),
        grouped(counts.entries_total),
    );
    if run == Run::Load {
        line.push_str(&format!(", {} rows read", grouped(counts.rows_read)));
    }
    line.push_str(&format!(" ({}s)", elapsed.as_secs()));
    line
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the ticker and the line's owner share: the writer, whether a line
/// is on screen, and whether the line was taken down.
struct Screen {
    out: Box<dyn Write + Send>,
    drawn: bool,
    stopped: bool,
}

/// A progress line for one run; dropping it (or [`ProgressLine::finish`])
/// stops the ticker and erases the line, synchronously, so the command's
/// output never follows a half line.
pub struct ProgressLine {
    progress: Arc<Progress>,
    screen: Option<Arc<Mutex<Screen>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressLine {
    /// Counters for the run, and a ticker drawing them on stderr when
    /// stdout and stderr are terminals and the flags allow it.
    pub fn start(args: &Args, run: Run) -> ProgressLine {
        let wanted = args.verbose == 0 && !args.quiet && args.log_format == LogFormat::Text;
        if wanted && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            ProgressLine::drawing(run, Box::new(std::io::stderr()))
        } else {
            ProgressLine::silent()
        }
    }

    /// Counters only: nothing is drawn.
    pub fn silent() -> ProgressLine {
        ProgressLine {
            progress: Arc::new(Progress::new()),
            screen: None,
            task: None,
        }
    }

    /// A ticker drawing on `out`.
    fn drawing(run: Run, out: Box<dyn Write + Send>) -> ProgressLine {
        let progress = Arc::new(Progress::new());
        let screen = Arc::new(Mutex::new(Screen {
            out,
            drawn: false,
            stopped: false,
        }));
        let task = tokio::spawn(tick(run, Arc::clone(&progress), Arc::clone(&screen)));
        ProgressLine {
            progress,
            screen: Some(screen),
            task: Some(task),
        }
    }

    /// The counters the run increments.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Stops the ticker and erases the line.
    pub fn finish(self) {}
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(screen) = self.screen.take()
            && let Ok(mut screen) = screen.lock()
        {
            screen.stopped = true;
            if screen.drawn {
                let _ = screen.out.write_all(ERASE.as_bytes());
                let _ = screen.out.flush();
            }
        }
    }
}

/// Waits out [`DELAY`], then redraws the line every [`EVERY`] until the
/// line's owner stops it.
async fn tick(run: Run, progress: Arc<Progress>, screen: Arc<Mutex<Screen>>) {
    let started = tokio::time::Instant::now();
    let mut every = tokio::time::interval_at(started + DELAY, EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let line = render(run, progress.counts(), started.elapsed());
        let Ok(mut screen) = screen.lock() else {
            return;
        };
        if screen.stopped {
            return;
        }
        let _ = write!(screen.out, "{ERASE}{line}");
        let _ = screen.out.flush();
        screen.drawn = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("the sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("the sink")).into_owned()
        }
    }

    fn counts() -> Counts {
        Counts {
            systems_total: 5,
            systems_done: 2,
            entries_total: 12_000,
            entries_judged: 3_400,
            rows_read: 1_234_567,
        }
    }

    #[test]
    fn the_line_says_systems_entries_and_for_a_load_rows() {
        let secs = Duration::from_millis(3_600);
        assert_eq!(
            render(Run::Check, counts(), secs),
            "check: 2 of 5 systems done, 3,400 of 12,000 entries judged (3s)"
        );
        assert_eq!(
            render(Run::Resolve, counts(), secs),
            "resolve: 2 of 5 systems done, 3,400 of 12,000 entries judged (3s)"
        );
        assert_eq!(
            render(Run::Load, counts(), secs),
            "load: 2 of 5 systems done, 3,400 of 12,000 entries judged, 1,234,567 rows read (3s)"
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_drawn_in_the_first_two_seconds_then_the_line_is_redrawn_and_erased() {
        let sink = Sink::default();
        let line = ProgressLine::drawing(Run::Check, Box::new(sink.clone()));
        line.progress().check_started(2, 10);
        tokio::time::sleep(Duration::from_millis(1_900)).await;
        assert_eq!(sink.text(), "", "a short run shows nothing");

        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            sink.text(),
            "\r\x1b[Kcheck: 0 of 2 systems done, 0 of 10 entries judged (2s)"
        );

        line.progress().system_done(4);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(
            sink.text()
                .ends_with("\r\x1b[Kcheck: 1 of 2 systems done, 4 of 10 entries judged (2s)"),
            "{:?}",
            sink.text()
        );

        line.finish();
        assert!(sink.text().ends_with(ERASE), "the line is erased");
        let before = sink.text();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(sink.text(), before, "nothing is drawn after the end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_ends_within_two_seconds_leaves_nothing_on_the_screen() {
        let sink = Sink::default();
        let line = ProgressLine::drawing(Run::Load, Box::new(sink.clone()));
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        line.finish();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(sink.text(), "");
    }

    #[test]
    fn a_silent_line_still_counts() {
        let line = ProgressLine::silent();
        line.progress().row_read();
        assert_eq!(line.progress().counts().rows_read, 1);
    }
}
