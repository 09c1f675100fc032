//! What a person sees while the doctor runs: one line per check on
//! standard error, and a spinner for the slow steps (only on a terminal, so
//! logs and pipes get clean lines).

use crate::check::{Check, Verdict};
use crate::run::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Prints checks to standard error as they are made.
pub struct Console {
    spinner: Option<ProgressBar>,
    terminal: bool,
}

impl Console {
    pub fn new() -> Console {
        Console {
            spinner: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn clear(&mut self) {
        if let Some(s) = self.spinner.take() {
            s.finish_and_clear();
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

/// The one line shown for a check.
pub fn line(c: &Check) -> String {
    let tag = match c.verdict {
        Verdict::Ok => "  ok     ",
        Verdict::Warning => "  WARNING",
        Verdict::Fault => "  FAULT  ",
        Verdict::Skipped => "  skipped",
    };
    format!("{tag}  {}", c.title)
}

impl Progress for Console {
    fn begin(&mut self, what: &str) {
        self.clear();
        if !self.terminal {
            return;
        }
        let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("  {spinner} {msg}…") {
            s.set_style(style);
        }
        s.set_message(what.to_string());
        s.enable_steady_tick(Duration::from_millis(100));
        self.spinner = Some(s);
    }

    fn check(&mut self, c: &Check) {
        let text = line(c);
        match &self.spinner {
            Some(s) => s.println(text),
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.clear();
    }
}
