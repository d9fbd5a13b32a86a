//! The tools the orchestrator mode offers the model, and parsing a call's JSON arguments into a
//! [`ToolRequest`]. Malformed arguments become an error message for the model, never a crash.

use serde::Deserialize;
use serde_json::json;

use crate::model::ToolSpec;

/// `read_file`: a file's content.
pub const READ_FILE: &str = "read_file";
/// `write_file`: replace a file's content.
pub const WRITE_FILE: &str = "write_file";
/// `list_dir`: a directory's entries.
pub const LIST_DIR: &str = "list_dir";
/// `run_command`: run a program (argv array).
pub const RUN_COMMAND: &str = "run_command";
/// `run_tests`: run the contract's test command.
pub const RUN_TESTS: &str = "run_tests";
/// `finish`: the work is done.
pub const FINISH: &str = "finish";

/// One parsed tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolRequest {
    /// Read a file (path relative to the workdir, or absolute).
    ReadFile {
        /// The path.
        path: String,
    },
    /// Write a file, creating parent directories.
    WriteFile {
        /// The path.
        path: String,
        /// The whole new content.
        content: String,
    },
    /// List a directory (the workdir when `None`).
    ListDir {
        /// The path.
        path: Option<String>,
    },
    /// Run a program: an argv array, never a shell string.
    RunCommand {
        /// Program and arguments.
        argv: Vec<String>,
        /// Working directory (the workdir when `None`).
        cwd: Option<String>,
    },
    /// Run the contract's test command.
    RunTests,
    /// Declare the work done.
    Finish {
        /// What was done, for the record.
        summary: Option<String>,
    },
}

impl ToolRequest {
    /// The tool's name.
    pub fn name(&self) -> &'static str {
        match self {
            ToolRequest::ReadFile { .. } => READ_FILE,
            ToolRequest::WriteFile { .. } => WRITE_FILE,
            ToolRequest::ListDir { .. } => LIST_DIR,
            ToolRequest::RunCommand { .. } => RUN_COMMAND,
            ToolRequest::RunTests => RUN_TESTS,
            ToolRequest::Finish { .. } => FINISH,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathArgs {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandArgs {
    argv: Vec<String>,
    #[serde(default)]
    cwd: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishArgs {
    #[serde(default)]
    summary: Option<String>,
}

/// Parse a call of tool `name` with JSON `arguments` (empty text counts as `{}`). The error is
/// worded for the model: what was wrong and what the tool expects.
pub fn parse(name: &str, arguments: &str) -> Result<ToolRequest, String> {
    let arguments = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    fn args<T: for<'de> Deserialize<'de>>(
        name: &str,
        arguments: &str,
        expected: &str,
    ) -> Result<T, String> {
        serde_json::from_str(arguments).map_err(|e| {
            format!(
                "the arguments of `{name}` are not valid: {e}; expected a JSON object {expected}"
            )
        })
    }
    match name {
        READ_FILE => {
            let a: PathArgs = args(name, arguments, r#"{"path": "<file>"}"#)?;
            Ok(ToolRequest::ReadFile { path: a.path })
        }
        WRITE_FILE => {
            let a: WriteArgs = args(
                name,
                arguments,
                r#"{"path": "<file>", "content": "<whole new content>"}"#,
            )?;
            Ok(ToolRequest::WriteFile {
                path: a.path,
                content: a.content,
            })
        }
        LIST_DIR => {
            let a: ListArgs = args(
                name,
                arguments,
                r#"{"path": "<directory>"} (path optional)"#,
            )?;
            Ok(ToolRequest::ListDir { path: a.path })
        }
        RUN_COMMAND => {
            let expected = r#"{"argv": ["program", "arg", ...], "cwd": "<directory>"} (cwd optional; argv is an array, not a shell string)"#;
            let a: CommandArgs = args(name, arguments, expected)?;
            match a.argv.first() {
                Some(program) if !program.is_empty() => Ok(ToolRequest::RunCommand {
                    argv: a.argv,
                    cwd: a.cwd,
                }),
                _ => Err(format!(
                    "the arguments of `{name}` are not valid: argv must name a program; expected {expected}"
                )),
            }
        }
        RUN_TESTS => {
            let _: NoArgs = args(name, arguments, "{}")?;
            Ok(ToolRequest::RunTests)
        }
        FINISH => {
            let a: FinishArgs = args(name, arguments, r#"{"summary": "<what was done>"}"#)?;
            Ok(ToolRequest::Finish { summary: a.summary })
        }
        other => Err(format!(
            "there is no tool `{other}`; the tools are {READ_FILE}, {WRITE_FILE}, {LIST_DIR}, {RUN_COMMAND}, {RUN_TESTS} and {FINISH}"
        )),
    }
}

/// The tools offered to the model, with JSON Schemas of their arguments.
pub fn specs() -> Vec<ToolSpec> {
    let spec = |name: &str, description: &str, parameters: serde_json::Value| ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters,
    };
    vec![
        spec(
            READ_FILE,
            "Read a text file in the workspace. Relative paths start at the working directory.",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}),
        ),
        spec(
            WRITE_FILE,
            "Replace a file's whole content (creating it and its directories if needed).",
            json!({"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}, "required": ["path", "content"], "additionalProperties": false}),
        ),
        spec(
            LIST_DIR,
            "List a directory's entries (directories end with /). Defaults to the working directory.",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "additionalProperties": false}),
        ),
        spec(
            RUN_COMMAND,
            "Run a program with arguments (no shell: argv is an array). Returns the exit status and output.",
            json!({"type": "object", "properties": {"argv": {"type": "array", "items": {"type": "string"}, "minItems": 1}, "cwd": {"type": "string"}}, "required": ["argv"], "additionalProperties": false}),
        ),
        spec(
            RUN_TESTS,
            "Run the project's tests. Returns whether they passed and their output.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        spec(
            FINISH,
            "Declare the task done. Only accepted when the tests pass.",
            json!({"type": "object", "properties": {"summary": {"type": "string"}}, "additionalProperties": false}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_calls_parse() {
        assert_eq!(
            parse(RUN_COMMAND, r#"{"argv": ["git", "status"], "cwd": "sub"}"#),
            Ok(ToolRequest::RunCommand {
                argv: vec!["git".into(), "status".into()],
                cwd: Some("sub".into())
            })
        );
        assert_eq!(
            parse(WRITE_FILE, r#"{"path": "a.txt", "content": "x\n"}"#),
            Ok(ToolRequest::WriteFile {
                path: "a.txt".into(),
                content: "x\n".into()
            })
        );
        assert_eq!(parse(RUN_TESTS, ""), Ok(ToolRequest::RunTests));
        assert_eq!(
            parse(LIST_DIR, "{}"),
            Ok(ToolRequest::ListDir { path: None })
        );
        assert_eq!(
            parse(FINISH, "{}"),
            Ok(ToolRequest::Finish { summary: None })
        );
    }

    #[test]
    fn malformed_json_is_an_error_for_the_model() {
        let err = parse(READ_FILE, r#"{"path": "a.txt""#).unwrap_err();
        assert!(err.contains("`read_file` are not valid"), "{err}");
        assert!(err.contains(r#"{"path": "<file>"}"#), "{err}");
    }

    #[test]
    fn a_shell_string_is_refused_in_favour_of_an_argv() {
        let err = parse(RUN_COMMAND, r#"{"argv": "rm -rf /"}"#).unwrap_err();
        assert!(err.contains("argv is an array"), "{err}");
        let err = parse(RUN_COMMAND, r#"{"argv": []}"#).unwrap_err();
        assert!(err.contains("argv must name a program"), "{err}");
    }

    #[test]
    fn unknown_tools_and_fields_are_refused() {
        let err = parse("delete_everything", "{}").unwrap_err();
        assert!(err.contains("no tool `delete_everything`"), "{err}");
        let err = parse(READ_FILE, r#"{"path": "a", "mode": "rw"}"#).unwrap_err();
        assert!(err.contains("unknown field `mode`"), "{err}");
        assert!(parse(RUN_TESTS, r#"{"only": "x"}"#).is_err());
    }

    #[test]
    fn every_tool_has_a_spec() {
        let names: Vec<String> = specs().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                READ_FILE,
                WRITE_FILE,
                LIST_DIR,
                RUN_COMMAND,
                RUN_TESTS,
                FINISH
            ]
        );
    }
}
