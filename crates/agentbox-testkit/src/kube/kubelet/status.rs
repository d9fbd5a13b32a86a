//! A pod's status as the kubelet reports it: phase, conditions and one status per container,
//! written as the JSON the `pods/status` subresource takes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// Timestamps as Kubernetes writes them (RFC 3339, seconds, `Z`).
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The state of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContainerState {
    /// Not running yet, or waiting to be restarted.
    Waiting {
        reason: String,
        message: Option<String>,
    },
    /// Running since `started_at`.
    Running { started_at: DateTime<Utc> },
    /// Ended.
    Terminated {
        exit_code: i32,
        reason: String,
        message: Option<String>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    },
}

impl ContainerState {
    /// A waiting state.
    pub fn waiting(reason: &str, message: Option<String>) -> Self {
        Self::Waiting {
            reason: reason.to_owned(),
            message,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Waiting { reason, message } => {
                let mut waiting = Map::new();
                waiting.insert("reason".into(), reason.as_str().into());
                if let Some(message) = message {
                    waiting.insert("message".into(), message.as_str().into());
                }
                json!({ "waiting": waiting })
            }
            Self::Running { started_at } => {
                json!({ "running": { "startedAt": timestamp(*started_at) } })
            }
            Self::Terminated {
                exit_code,
                reason,
                message,
                started_at,
                finished_at,
            } => {
                let mut terminated = Map::new();
                terminated.insert("exitCode".into(), (*exit_code).into());
                terminated.insert("reason".into(), reason.as_str().into());
                if let Some(message) = message {
                    terminated.insert("message".into(), message.as_str().into());
                }
                terminated.insert("startedAt".into(), timestamp(*started_at).into());
                terminated.insert("finishedAt".into(), timestamp(*finished_at).into());
                json!({ "terminated": terminated })
            }
        }
    }
}

/// The status of one container.
#[derive(Debug, Clone)]
pub(crate) struct ContainerStatus {
    pub name: String,
    pub image: String,
    pub state: ContainerState,
    pub last_state: Option<ContainerState>,
    pub restart_count: i32,
    pub container_id: Option<String>,
}

impl ContainerStatus {
    /// A container that has not started, waiting for `reason`.
    pub fn new(name: &str, image: &str, reason: &str) -> Self {
        Self {
            name: name.to_owned(),
            image: image.to_owned(),
            state: ContainerState::waiting(reason, None),
            last_state: None,
            restart_count: 0,
            container_id: None,
        }
    }

    /// Whether it runs (so `exec` can reach it).
    pub fn running(&self) -> bool {
        matches!(self.state, ContainerState::Running { .. })
    }

    fn to_json(&self) -> Value {
        let mut status = Map::new();
        status.insert("name".into(), self.name.as_str().into());
        status.insert("image".into(), self.image.as_str().into());
        status.insert("imageID".into(), "".into());
        if let Some(id) = &self.container_id {
            status.insert("containerID".into(), id.as_str().into());
        }
        status.insert("ready".into(), self.running().into());
        status.insert("started".into(), self.running().into());
        status.insert("restartCount".into(), self.restart_count.into());
        status.insert("state".into(), self.state.to_json());
        status.insert(
            "lastState".into(),
            self.last_state
                .as_ref()
                .map_or_else(|| json!({}), ContainerState::to_json),
        );
        Value::Object(status)
    }
}

/// The pod's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodPhase {
    Pending,
    Running,
}

impl PodPhase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
        }
    }
}

/// Everything the kubelet reports about a pod.
#[derive(Debug, Clone)]
pub(crate) struct PodStatus {
    pub started_at: DateTime<Utc>,
    pub host_ip: String,
    pub init: Vec<ContainerStatus>,
    pub main: Vec<ContainerStatus>,
    /// Condition type → (status, last transition).
    conditions: Vec<(&'static str, bool, DateTime<Utc>)>,
}

impl PodStatus {
    /// A pod just admitted: scheduled, nothing started.
    pub fn admitted(init: Vec<ContainerStatus>, main: Vec<ContainerStatus>, host_ip: &str) -> Self {
        let now = Utc::now();
        let mut status = Self {
            started_at: now,
            host_ip: host_ip.to_owned(),
            init,
            main,
            conditions: [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            ]
            .into_iter()
            .map(|kind| (kind, false, now))
            .collect(),
        };
        status.set_condition("PodScheduled", true);
        status
    }

    /// The status of container `name` (init or main).
    pub fn container_mut(&mut self, name: &str) -> Option<&mut ContainerStatus> {
        self.init
            .iter_mut()
            .chain(self.main.iter_mut())
            .find(|c| c.name == name)
    }

    fn set_condition(&mut self, kind: &str, value: bool) {
        if let Some(condition) = self.conditions.iter_mut().find(|c| c.0 == kind)
            && condition.1 != value
        {
            condition.1 = value;
            condition.2 = Utc::now();
        }
    }

    fn initialized(&self) -> bool {
        self.init
            .iter()
            .all(|c| matches!(&c.state, ContainerState::Terminated { exit_code: 0, .. }))
    }

    fn phase(&self) -> PodPhase {
        if self.initialized() && self.main.iter().any(ContainerStatus::running) {
            PodPhase::Running
        } else {
            PodPhase::Pending
        }
    }

    /// The JSON body of a `pods/status` merge patch.
    pub fn status_patch(&mut self) -> Value {
        let sandbox_ready = self
            .init
            .iter()
            .chain(&self.main)
            .any(|c| c.container_id.is_some());
        let initialized = self.initialized();
        let ready = initialized && self.main.iter().all(ContainerStatus::running);
        self.set_condition("PodReadyToStartContainers", sandbox_ready);
        self.set_condition("Initialized", initialized);
        self.set_condition("ContainersReady", ready);
        self.set_condition("Ready", ready);
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|(kind, value, at)| {
                let mut condition = json!({
                    "type": kind,
                    "status": if *value { "True" } else { "False" },
                    "lastProbeTime": null,
                    "lastTransitionTime": timestamp(*at),
                });
                if !*value && matches!(*kind, "Ready" | "ContainersReady") {
                    condition["reason"] = "ContainersNotReady".into();
                    let waiting: Vec<&str> = self
                        .main
                        .iter()
                        .filter(|c| !c.running())
                        .map(|c| c.name.as_str())
                        .collect();
                    condition["message"] =
                        format!("containers with unready status: [{}]", waiting.join(" ")).into();
                }
                if !*value && *kind == "Initialized" {
                    condition["reason"] = "ContainersNotInitialized".into();
                }
                condition
            })
            .collect();
        let mut status = json!({
            "phase": self.phase().as_str(),
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{ "ip": self.host_ip }],
            "startTime": timestamp(self.started_at),
            "containerStatuses": self.main.iter().map(ContainerStatus::to_json).collect::<Vec<_>>(),
        });
        if !self.init.is_empty() {
            status["initContainerStatuses"] = self
                .init
                .iter()
                .map(ContainerStatus::to_json)
                .collect::<Vec<_>>()
                .into();
        }
        json!({ "status": status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_runs_once_its_init_containers_completed_and_a_container_runs() {
        let mut status = PodStatus::admitted(
            vec![ContainerStatus::new("clone", "git", "PodInitializing")],
            vec![ContainerStatus::new("tools", "img", "PodInitializing")],
            "127.0.0.1",
        );
        assert_eq!(status.status_patch()["status"]["phase"], "Pending");
        let now = Utc::now();
        status.container_mut("clone").unwrap().state = ContainerState::Terminated {
            exit_code: 0,
            reason: "Completed".into(),
            message: None,
            started_at: now,
            finished_at: now,
        };
        status.container_mut("tools").unwrap().state = ContainerState::Running { started_at: now };
        let patch = status.status_patch();
        assert_eq!(patch["status"]["phase"], "Running");
        assert_eq!(patch["status"]["containerStatuses"][0]["ready"], true);
        let ready = patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(ready["status"], "True");
    }

    #[test]
    fn waiting_containers_report_their_reason() {
        let mut status = PodStatus::admitted(
            Vec::new(),
            vec![ContainerStatus::new("tools", "bad", "ContainerCreating")],
            "127.0.0.1",
        );
        status.container_mut("tools").unwrap().state = ContainerState::waiting(
            "ImagePullBackOff",
            Some("Back-off pulling image \"bad\"".into()),
        );
        let patch = status.status_patch();
        let state = &patch["status"]["containerStatuses"][0]["state"]["waiting"];
        assert_eq!(state["reason"], "ImagePullBackOff");
        assert_eq!(patch["status"]["phase"], "Pending");
    }
}
