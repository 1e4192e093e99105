//! What paddy says on stderr besides its progress: warnings, notices and the final error. As
//! plain lines (`paddy: warning: …`, `paddy: error: …`) or, once [`set_json`] was called
//! (`paddy run --log-format json`), as one JSON object per line with its `level` and `message`
//! (and, for an error, the file, band or setting it concerns and the exit code), so a script
//! reading stderr parses every line.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Map, Value};

use crate::error::Error;

static JSON: AtomicBool = AtomicBool::new(false);

/// Say everything as JSON lines from now on (`true`), or as plain text.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// Whether lines are JSON.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// A line of `level` (`error`, `warning`, `info`) saying `message`, with `fields` in JSON.
pub fn line(level: &str, message: &str, fields: Map<String, Value>) -> String {
    if json() {
        let mut object = Map::new();
        object.insert("level".into(), json!(level));
        object.insert("message".into(), json!(message));
        object.extend(fields);
        Value::Object(object).to_string()
    } else if level == "info" {
        format!("paddy: {message}")
    } else {
        format!("paddy: {level}: {message}")
    }
}

/// Say a warning.
pub fn warning(message: &str) {
    eprintln!("{}", line("warning", message, Map::new()));
}

/// Say something a person may want to know (a wait, temporaries swept).
pub fn notice(message: &str) {
    eprintln!("{}", line("info", message, Map::new()));
}

/// The line of an error: its message and, in JSON, the things it names and its exit code.
pub fn error_line(e: &Error) -> String {
    let mut fields = e.fields();
    fields.insert("exit_code".into(), json!(e.exit_code()));
    line("error", &e.to_string(), fields)
}

/// Say the error paddy ends with.
pub fn error(e: &Error) {
    eprintln!("{}", error_line(e));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both forms of one error, in one test: the form is process-wide.
    #[test]
    fn an_error_is_a_line_of_text_or_a_json_object_naming_its_file() {
        let e = Error::Config {
            path: "runs/nightly.toml".into(),
            message: "TOML parse error at line 3, column 1\n  |\n3 | x = \n".into(),
        };
        set_json(false);
        assert_eq!(
            error_line(&e),
            format!(
                "paddy: error: runs/nightly.toml: {}",
                "TOML parse error at line 3, column 1\n  |\n3 | x = \n"
            )
        );
        assert_eq!(line("info", "waiting", Map::new()), "paddy: waiting");
        set_json(true);
        let text = error_line(&e);
        set_json(false);
        assert!(!text.contains('\n'), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["message"], e.to_string());
        assert_eq!(v["kind"], "config");
        assert_eq!(v["path"], "runs/nightly.toml");
        assert_eq!(v["exit_code"], 2);
    }
}
