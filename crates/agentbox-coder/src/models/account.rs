//! The deployment and who uses it: build info, users, organizations.

use serde::Deserialize;
use uuid::Uuid;

/// `codersdk.BuildInfoResponse`: the server's version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuildInfo {
    /// The server's version, e.g. `v2.34.3` or `v2.34.3-devel+4653f32e`.
    #[serde(default)]
    pub version: String,
    /// The URL people reach the deployment at.
    #[serde(default)]
    pub external_url: String,
}

/// `codersdk.User`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The user's name.
    pub username: String,
    /// The organizations the user belongs to.
    #[serde(default)]
    pub organization_ids: Vec<Uuid>,
}

/// `codersdk.Organization`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Organization {
    /// The organization's id.
    pub id: Uuid,
    /// Its unique name.
    #[serde(default)]
    pub name: String,
    /// Whether it is the deployment's default organization.
    #[serde(default)]
    pub is_default: bool,
}
