//! [`DevWorkspacePhase`]: `status.phase` of a DevWorkspace.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `status.phase` of a DevWorkspace: devfile/api's phases plus the two the DevWorkspace Operator
/// adds (`Failing`, `Terminating`); any other text is kept as [`DevWorkspacePhase::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DevWorkspacePhase {
    /// Being started.
    Starting,
    /// Every component is ready.
    Running,
    /// Being scaled down.
    Stopping,
    /// Scaled down; storage kept.
    Stopped,
    /// An unrecoverable error happened; the operator is stopping it (and sets `started: false`).
    Failing,
    /// Failed; `status.message` says why.
    Failed,
    /// An error while finalizing (deleting).
    Error,
    /// Deleted; waiting for finalizers.
    Terminating,
    /// A phase this crate does not know.
    Other(String),
}

impl DevWorkspacePhase {
    /// The phase's text as the operator writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Starting => "Starting",
            Self::Running => "Running",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Failing => "Failing",
            Self::Failed => "Failed",
            Self::Error => "Error",
            Self::Terminating => "Terminating",
            Self::Other(s) => s,
        }
    }

    /// The phase named by `text`.
    pub fn parse(text: &str) -> Self {
        match text {
            "Starting" => Self::Starting,
            "Running" => Self::Running,
            "Stopping" => Self::Stopping,
            "Stopped" => Self::Stopped,
            "Failing" => Self::Failing,
            "Failed" => Self::Failed,
            "Error" => Self::Error,
            "Terminating" => Self::Terminating,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for DevWorkspacePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DevWorkspacePhase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DevWorkspacePhase {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

impl JsonSchema for DevWorkspacePhase {
    fn schema_name() -> Cow<'static, str> {
        "DevWorkspacePhase".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_round_trip_and_unknown_text_is_kept() {
        for text in [
            "Starting",
            "Running",
            "Failing",
            "Terminating",
            "Hibernating",
        ] {
            let phase: DevWorkspacePhase = serde_json::from_value(text.into()).unwrap();
            assert_eq!(phase.as_str(), text);
            assert_eq!(serde_json::to_value(&phase).unwrap(), text);
        }
        assert_eq!(
            DevWorkspacePhase::parse("Hibernating"),
            DevWorkspacePhase::Other("Hibernating".into())
        );
    }
}
