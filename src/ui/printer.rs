//! The one place that writes to the terminal.
//!
//! Results go to stdout (text or JSON); progress goes to stderr, as live indicatif bars on a
//! terminal in text mode, as plain lines otherwise, and not at all with `--quiet`. Every
//! suggested `irlab ...` command it prints carries the user's connection (see `hint`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Error;
use crate::ui::progress::{Progress, Reporter};
use crate::ui::{hint, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub struct Printer {
    pub format: OutputFormat,
    pub quiet: bool,
    pub verbose: bool,
    /// The connection options repeated in suggested commands.
    connection: Vec<String>,
    bars: Option<MultiProgress>,
    tasks: Mutex<HashMap<String, ProgressBar>>,
    /// A JSON result went to stdout: an error after it (a failed check) is already in it, and
    /// stdout stays one JSON document.
    printed_json: std::sync::atomic::AtomicBool,
    /// Where a terminal shows the lines, long prose is broken at spaces to its width.
    stdout_tty: bool,
    stderr_tty: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, quiet: bool, verbose: bool, connection: Vec<String>) -> Self {
        let live = format == OutputFormat::Text && !quiet && std::io::stderr().is_terminal();
        let bars = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Printer {
            format,
            quiet,
            verbose,
            connection,
            bars,
            tasks: Mutex::new(HashMap::new()),
            printed_json: std::sync::atomic::AtomicBool::new(false),
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    fn text(&self, line: &str) -> String {
        hint::rewrite(line, &self.connection)
    }

    /// A line for stdout: on a terminal, prose longer than the terminal is broken at spaces.
    fn for_stdout(&self, line: &str, indent: usize) -> String {
        let line = self.text(line);
        if self.stdout_tty { text::hang(&line, text::stdout_width(), indent) } else { line }
    }

    fn for_stderr(&self, line: &str, indent: usize) -> String {
        let line = self.text(line);
        if self.stderr_tty { text::hang(&line, text::stderr_width(), indent) } else { line }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// A result line for the user (stdout, text mode only).
    pub fn out(&self, line: impl AsRef<str>) {
        if self.format == OutputFormat::Text {
            self.suspend(|| println!("{}", self.for_stdout(line.as_ref(), 2)));
        }
    }

    /// A verdict word for a result line: PASS in green, FAIL in red on a terminal that takes
    /// colour (not with NO_COLOR, not piped). The word carries the meaning; colour repeats it.
    pub fn verdict(passed: bool, pass: &str, fail: &str) -> String {
        if passed {
            console::style(pass).green().bold().to_string()
        } else {
            console::style(fail).red().bold().to_string()
        }
    }

    /// An indented item of a list for the user (a plan's step; stdout, text mode only): on a
    /// terminal it is broken to the width under its own indent, where `out` keeps an indented
    /// line whole (a command to copy).
    pub fn out_item(&self, line: impl AsRef<str>) {
        if self.format == OutputFormat::Text {
            let line = self.text(line.as_ref());
            let line = if self.stdout_tty { text::hang_item(&line, text::stdout_width()) } else { line };
            self.suspend(|| println!("{line}"));
        }
    }

    /// The command's result as JSON (stdout, JSON mode only).
    pub fn json(&self, value: &serde_json::Value) {
        if self.is_json() {
            self.printed_json.store(true, std::sync::atomic::Ordering::Relaxed);
            println!("{}", serde_json::to_string_pretty(value).expect("JSON values serialize"));
        }
    }

    /// A progress or status line (stderr), unless quiet.
    pub fn info(&self, line: impl AsRef<str>) {
        if !self.quiet {
            self.suspend(|| eprintln!("{}", self.for_stderr(line.as_ref(), 2)));
        }
    }

    /// The error for a person (stderr; `error:` and `hint:` in colour on a terminal, words
    /// first so colour never carries the meaning alone), and with `--output json` also as data
    /// on stdout: `{"error": ..., "hint": ..., "exit": N}`, unless the command's result is
    /// already there.
    pub fn error(&self, err: &Error) {
        if self.is_json() && !self.printed_json.load(std::sync::atomic::Ordering::Relaxed) {
            let value = serde_json::json!({
                "error": self.text(&err.to_string()),
                "hint": err.hint.as_deref().map(|h| self.text(h)),
                "exit": err.exit_code(),
            });
            println!("{}", serde_json::to_string_pretty(&value).expect("JSON values serialize"));
        }
        self.suspend(|| {
            let mut stderr = std::io::stderr().lock();
            let label = console::style("error:").red().bold().for_stderr();
            let _ = writeln!(stderr, "{}", self.for_stderr(&format!("{label} {err}"), 7));
            if self.verbose {
                for cause in err.chain() {
                    let _ = writeln!(stderr, "  caused by: {cause}");
                }
            }
            if let Some(hint) = &err.hint {
                let label = console::style("hint:").cyan().bold().for_stderr();
                let _ = writeln!(stderr, "{}", self.for_stderr(&format!("{label} {hint}"), 6));
            }
        });
    }

    /// Ends the live area: a task still showing (started, never finished) leaves its last
    /// message as a plain line. Called before a command's closing lines.
    pub fn settle(&self) {
        let open: Vec<(String, ProgressBar)> = self.tasks.lock().expect("progress lock").drain().collect();
        for (task, bar) in open {
            let last = bar.message();
            bar.finish_and_clear();
            self.info(format!("{task}: {last}"));
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bars {
            Some(bars) => bars.suspend(f),
            None => f(),
        }
    }

    fn bar(&self, task: &str) -> Option<ProgressBar> {
        let bars = self.bars.as_ref()?;
        let mut tasks = self.tasks.lock().expect("progress lock");
        Some(
            tasks
                .entry(task.to_string())
                .or_insert_with(|| {
                    let bar = bars.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:.dim}")
                            .expect("valid template"),
                    );
                    bar.set_prefix(task.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                })
                .clone(),
        )
    }
}

impl Reporter for Printer {
    fn report(&self, event: Progress) {
        if self.quiet {
            return;
        }
        match event {
            Progress::Started { task, what } => match self.bar(&task) {
                Some(bar) => bar.set_message(what),
                None => self.info(format!("{task}: {what}")),
            },
            Progress::Resource { task, logical_id, resource_type, status, reason } => {
                let reason = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                let line = format!("{status:<20} {logical_id} [{resource_type}]{reason}");
                match self.bar(&task) {
                    Some(bar) => {
                        if status.ends_with("FAILED") {
                            bar.println(format!("  {task}: {line}"));
                        }
                        bar.set_message(line);
                    }
                    None => self.info(format!("{task}: {line}")),
                }
            }
            // A finished task leaves the live area as a plain line, in the order tasks end, so
            // what is printed after the work (down's proof) comes after every task's last line.
            Progress::Finished { task, what } | Progress::Failed { task, what } => {
                let bar = self.tasks.lock().expect("progress lock").remove(&task);
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                self.info(format!("{task}: {what}"));
            }
            Progress::Tick { task, what } => {
                if let Some(bar) = self.bar(&task) {
                    bar.set_message(what);
                }
            }
            Progress::Skipped { what, why } => self.info(format!("skipped {what}: {why}")),
            Progress::Note(line) => self.info(line),
        }
    }
}
