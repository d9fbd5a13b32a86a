//! What the task runner's end-to-end tests share: a local provider (bubblewrap), the fake model
//! server behind an OpenAI-compatible client, an evidence directory, and a tiny project whose
//! test wants `answer.sh` to print 42.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agentbox::contract::{Contract, LoadOptions};
use agentbox::copilot::OpenAiCompatibleClient;
use agentbox::evidence::{EvidenceEvent, FsEvidenceSink, RecordedEvent, RunInfo};
use agentbox::local::{Isolation, LocalProvider};
use agentbox::progress::{Progress, ProgressEvent};
use agentbox::task::{Task, TaskRunner, TaskStep};
use agentbox_testkit::model_server::FakeModelServer;

/// The contract: workdir `/projects/demo`, tests `sh check.sh`, and an agent that may run `sh`,
/// `cat` and `sleep`, write under the workdir and read the projects, but never force-push.
pub const CONTRACT: &str = r#"
apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata: { name: demo }
spec:
  image: alpine:3.20
  workdir: /projects/demo
  commands:
    test: { run: sh check.sh, group: test }
  agent:
    instructions: Keep it small.
    permissions:
      allow: ["shell(sh:*)", "shell(cat:*)", "shell(sleep:*)", "write(/projects/demo/**)", "read(/projects/**)"]
      deny: ["shell(git push --force:*)"]
"#;

/// The project's test: passes when `sh answer.sh` prints 42.
pub const CHECK: &str = r#"got=$(sh answer.sh)
if [ "$got" = 42 ]; then echo "ok: 42"; else echo "expected 42, got $got"; exit 1; fi
"#;

pub struct Fixture {
    pub state: tempfile::TempDir,
    pub evidence_dir: tempfile::TempDir,
    pub provider: Arc<LocalProvider>,
    pub server: FakeModelServer,
    pub steps: Arc<Mutex<Vec<TaskStep>>>,
}

pub async fn fixture() -> Fixture {
    let state = tempfile::tempdir().unwrap();
    let provider = LocalProvider::builder()
        .root(state.path())
        .isolation(Isolation::Bubblewrap)
        .build()
        .unwrap();
    Fixture {
        state,
        evidence_dir: tempfile::tempdir().unwrap(),
        provider: Arc::new(provider),
        server: FakeModelServer::start().await.unwrap(),
        steps: Arc::default(),
    }
}

impl Fixture {
    /// A runner over the local provider and the fake server, recording task steps.
    pub fn runner(&self) -> TaskRunner<LocalProvider, OpenAiCompatibleClient> {
        self.runner_with(Progress::new(Arc::new({
            let steps = self.steps.clone();
            move |e: &ProgressEvent| {
                if let ProgressEvent::Task { step, .. } = e {
                    steps.lock().unwrap().push(step.clone());
                }
            }
        })))
    }

    pub fn runner_with(
        &self,
        progress: Progress,
    ) -> TaskRunner<LocalProvider, OpenAiCompatibleClient> {
        let model = OpenAiCompatibleClient::builder(self.server.base_url(), "fake-model")
            .build()
            .unwrap();
        TaskRunner::new(self.provider.clone(), Arc::new(model)).progress(progress)
    }

    /// A new evidence run.
    pub async fn evidence(&self, id: &str) -> Arc<FsEvidenceSink> {
        Arc::new(
            FsEvidenceSink::create(self.evidence_dir.path(), RunInfo::with_id(id))
                .await
                .unwrap(),
        )
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.evidence_dir.path().join(id)
    }

    /// The events of run `id`, as stored.
    pub fn events(&self, id: &str) -> Vec<EvidenceEvent> {
        std::fs::read_to_string(self.run_dir(id).join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<RecordedEvent>(l).unwrap().event)
            .collect()
    }

    pub fn junit(&self, id: &str) -> String {
        std::fs::read_to_string(self.run_dir(id).join("junit.xml")).unwrap()
    }

    /// The content of the tool (or user) messages in chat request `n` (from 0).
    pub fn messages(&self, n: usize) -> Vec<serde_json::Value> {
        self.server.chat_requests()[n].body["messages"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The text of the last message of chat request `n`.
    pub fn last_message(&self, n: usize) -> String {
        self.messages(n).last().unwrap()["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn steps(&self) -> Vec<TaskStep> {
        self.steps.lock().unwrap().clone()
    }
}

/// The task: make `answer.sh` print 42; it starts out printing 41.
pub fn task() -> Task {
    let contract = Contract::from_yaml(CONTRACT, &LoadOptions::default()).unwrap();
    Task::new("Make answer.sh print 42", contract)
        .file("check.sh", CHECK)
        .file("answer.sh", "echo 41\n")
}

/// JSON arguments of `write_file` setting `answer.sh` to print `n`.
pub fn write_answer(n: u32) -> String {
    serde_json::json!({"path": "answer.sh", "content": format!("echo {n}\n")}).to_string()
}
