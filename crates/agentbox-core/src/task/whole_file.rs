//! Mode 3, whole files: for models without tool calling. The model is shown the project's
//! files and answers with complete new contents of the files it changes; the runner writes them
//! (through the permission gate), runs the tests and sends failures back.
//!
//! ## The answer format
//! Each file is a fenced code block whose info string holds `path=<path>` (relative to the
//! workdir, or absolute); the block's lines are the file's whole content. Text outside such
//! blocks, and blocks without `path=`, are ignored. A fence of more backticks can hold content
//! with ```` ``` ```` lines:
//!
//! ````text
//! Here is the fix.
//! ```python path=calc.py
//! def add(a, b):
//!     return a + b
//! ```
//! ````

use super::outcome::{Limit, TaskOutcome};
use super::work::Work;
use crate::Result;
use crate::contract::Action;
use crate::evidence::EvidenceSink;
use crate::exec::{ExecRequest, ExecutorExt};
use crate::model::{ChatMessage, ChatRequest, ModelClient};

/// How many bytes of the project's files go into the first prompt at most.
const CONTEXT_LIMIT: usize = 64 * 1024;
/// How many files are listed at most.
const LISTED_FILES: usize = 200;

/// One file in a model's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBlock {
    /// The path as given.
    pub path: String,
    /// The whole content.
    pub content: String,
}

/// The files in a model's answer, in order (see the [module docs](self) for the format).
pub fn parse_files(answer: &str) -> Vec<FileBlock> {
    let mut files = Vec::new();
    let mut lines = answer.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let trimmed = line.trim_end();
        let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
        if ticks < 3 || !trimmed.starts_with('`') {
            continue;
        }
        let fence = &trimmed[..ticks];
        let path = trimmed[ticks..]
            .split_whitespace()
            .find_map(|word| word.strip_prefix("path="))
            .map(str::to_owned);
        let mut content = String::new();
        for line in lines.by_ref() {
            if line.trim_end() == fence {
                break;
            }
            content.push_str(line);
        }
        if let Some(path) = path.filter(|p| !p.is_empty()) {
            files.push(FileBlock { path, content });
        }
    }
    files
}

/// The answer format, as told to the model.
const FORMAT: &str = "Answer with the complete new content of every file you change, each in a fenced code block whose info string holds path=<path>, for example:\n```python path=src/app.py\n<the whole file>\n```\nUse a longer fence (````) when the file contains ``` lines. Only files in such blocks are written.";

/// Run the whole-file loop until the tests pass or a limit is reached.
pub(crate) async fn run<M, E>(work: &mut Work<'_, M, E>, extra: Option<&str>) -> Result<TaskOutcome>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let (_, test) = work.task.test_command()?;
    let mut system = format!(
        "You are a coding agent. You cannot run tools: you change a project by giving whole files, and the tests (`{test}`) are run for you after each answer.\n{FORMAT}"
    );
    work.append_instructions(&mut system);
    let mut user = format!(
        "Task: {}\n\n{}",
        work.task.description,
        context(work).await?
    );
    if let Some(extra) = extra {
        user.push_str("\n\n");
        user.push_str(extra);
    }
    let mut messages = vec![ChatMessage::system(system), ChatMessage::user(user)];
    loop {
        if let Some(limit) = work.turn_limit() {
            return Ok(TaskOutcome::LimitReached { limit });
        }
        let response = work
            .chat(ChatRequest {
                messages: messages.clone(),
                ..ChatRequest::default()
            })
            .await?;
        let answer = response.message.content.clone().unwrap_or_default();
        messages.push(response.message);
        let files = parse_files(&answer);
        if files.is_empty() {
            messages.push(ChatMessage::user(format!(
                "Your answer held no file. {FORMAT}"
            )));
            continue;
        }
        let mut problems = Vec::new();
        for file in files {
            if let Some(problem) = write(work, file).await? {
                problems.push(problem);
            }
        }
        let tests = work.run_tests().await?;
        if tests.passed && problems.is_empty() {
            return Ok(TaskOutcome::Succeeded);
        }
        if !tests.passed && work.out_of_fix_attempts() {
            return Ok(TaskOutcome::LimitReached {
                limit: Limit::FixAttempts,
            });
        }
        let mut feedback = problems.join("\n");
        if !feedback.is_empty() {
            feedback.push_str("\n\n");
        }
        feedback.push_str(&tests.report);
        feedback.push_str("\n\nFix it. ");
        feedback.push_str(FORMAT);
        messages.push(ChatMessage::user(feedback));
    }
}

/// Write one file through the gate; a problem for the model when it could not be.
async fn write<M, E>(work: &Work<'_, M, E>, file: FileBlock) -> Result<Option<String>>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let path = match work.gate.resolve_for_agent(&file.path) {
        Ok(path) => path,
        Err(message) => return Ok(Some(format!("{} was not written: {message}", file.path))),
    };
    if let Err(denial) = work
        .gate
        .check(&Action::Write(&path), work.evidence)
        .await?
    {
        return Ok(Some(format!("{path} was not written: {denial}")));
    }
    match work
        .write_recorded(&path, file.content.into_bytes())
        .await?
    {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(format!("{path} was not written: {e}"))),
    }
}

/// The project's files for the first prompt: a listing, and the content of the text files the
/// gate lets the agent read, up to [`CONTEXT_LIMIT`] bytes.
async fn context<M, E>(work: &Work<'_, M, E>) -> Result<String>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let workdir = work.gate.workdir().to_owned();
    if work
        .gate
        .check(&Action::Read(&workdir), work.evidence)
        .await?
        .is_err()
    {
        return Ok("(the project's files may not be read)".to_owned());
    }
    let out = work
        .run_recorded(ExecRequest::new([
            "find", ".", "-path", "./.git", "-prune", "-o", "-type", "f", "-print",
        ]))
        .await?;
    let mut paths: Vec<String> = out
        .stdout_text()
        .lines()
        .map(|l| l.trim_start_matches("./").to_owned())
        .collect();
    paths.sort();
    paths.truncate(LISTED_FILES);
    let mut text = format!("Files in {workdir}:\n{}\n", paths.join("\n"));
    let mut budget = CONTEXT_LIMIT;
    for relative in paths {
        let Ok(path) = work.gate.resolve(&relative) else {
            continue;
        };
        if work
            .gate
            .check(&Action::Read(&path), work.evidence)
            .await?
            .is_err()
        {
            continue;
        }
        let Ok(bytes) = work.exec.read_bytes(&path).await else {
            continue;
        };
        let Ok(content) = String::from_utf8(bytes) else {
            continue;
        };
        if content.len() > budget {
            break;
        }
        budget -= content.len();
        let fence = if content.contains("```") {
            "````"
        } else {
            "```"
        };
        text.push_str(&format!("\n{fence} path={relative}\n{content}"));
        if !content.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(fence);
        text.push('\n');
    }
    Ok(work.evidence.redactor().redact(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_with_a_path_are_files_and_the_rest_is_ignored() {
        let answer = "Here you go.\n```python path=calc.py\ndef f():\n    return 42\n```\nAnd a note:\n```\nnot a file\n```\n```sh path=run.sh title=x\necho hi\n```\n";
        assert_eq!(
            parse_files(answer),
            [
                FileBlock {
                    path: "calc.py".into(),
                    content: "def f():\n    return 42\n".into()
                },
                FileBlock {
                    path: "run.sh".into(),
                    content: "echo hi\n".into()
                },
            ]
        );
    }

    #[test]
    fn a_longer_fence_holds_backticks() {
        let answer = "````md path=README.md\n```sh\nmake\n```\n````\n";
        assert_eq!(parse_files(answer)[0].content, "```sh\nmake\n```\n");
    }

    #[test]
    fn an_unclosed_block_runs_to_the_end() {
        assert_eq!(parse_files("```path=a.txt\nx")[0].content, "x");
        assert!(parse_files("no blocks here").is_empty());
    }
}
