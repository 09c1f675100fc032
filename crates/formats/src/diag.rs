//! One problem found on one line of an input. Shared by every reader.

use std::fmt;

/// Something wrong on one line. The reader skipped what it could not use and
/// went on; the caller adds the source name when it reports this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line number in the input; 0 when the problem is not about
    /// a line (an entry of a JSON list, named in the message).
    pub line: u64,
    /// What is wrong, in plain words, starting lower-case.
    pub message: String,
}

impl Diagnostic {
    pub fn new(line: u64, message: impl Into<String>) -> Self {
        Diagnostic {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for Diagnostic {}
