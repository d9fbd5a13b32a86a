//! The typed environment contract (`agentbox.yaml`, `agentbox.dev/v1alpha1`, kind `Environment`).
//!
//! Every struct denies unknown fields: a typo in a contract is an error, never silently ignored.
//! Values that have a grammar of their own (quantities, durations, CIDRs, permission patterns)
//! are newtypes that can only hold valid values; see [`super::types`].

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::types::{Cidr, DnsLabel, EnvName, GoDuration, ImageRef, PermissionPattern, Quantity};

/// The one API version this crate reads and writes.
pub const API_VERSION: &str = "agentbox.dev/v1alpha1";
/// The one kind of document this crate reads and writes.
pub const KIND: &str = "Environment";

/// An environment contract: what an agent's workspace is, independent of the platform that runs it.
///
/// Obtain one with [`super::Contract::from_yaml`] or [`super::Contract::load`], which validate
/// the whole document and report every problem at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "agentbox environment contract")]
pub struct ContractDocument {
    /// Always `agentbox.dev/v1alpha1`.
    pub api_version: ApiVersion,
    /// Always `Environment`.
    pub kind: Kind,
    /// Name and agent profile of the environment.
    pub metadata: Metadata,
    /// What the workspace is.
    pub spec: EnvironmentSpec,
}

/// The contract's `apiVersion`; only `agentbox.dev/v1alpha1` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// The first, alpha version of the contract.
    #[serde(rename = "agentbox.dev/v1alpha1")]
    V1Alpha1,
}

/// The contract's `kind`; only `Environment` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// An environment contract.
    Environment,
}

/// `metadata`: identity of the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The environment's name, a DNS-1123 label (lower-case letters, digits, `-`; at most 63).
    pub name: DnsLabel,
    /// The agent profile; it scopes the generated `AGENTS.md`. Defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<DnsLabel>,
    /// Free-form labels copied onto every workspace made from this contract.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `spec`: the workspace itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Container image, ideally pinned by digest (`name:tag@sha256:…`).
    pub image: ImageRef,
    /// Absolute directory the agent works in; must lie under `storage.mountPath`.
    /// Defaults to `storage.mountPath` joined with the environment's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// CPU and memory requests and limits.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// Where the workspace's persistent files live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// Plain environment variables (never secrets: use `secrets`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = { "type": "string", "format": "env-name" }))]
    pub env: IndexMap<EnvName, String>,
    /// Environment variables whose values come from a secret store, by reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretEnv>,
    /// Dev Container Features to install into the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// Ports the workspace listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Named commands, in the order they are written.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = { "type": "string", "format": "dns1123-label" }))]
    pub commands: IndexMap<DnsLabel, Command>,
    /// Which commands run at which lifecycle point.
    #[serde(default, skip_serializing_if = "Lifecycle::is_empty")]
    pub lifecycle: Lifecycle,
    /// Editor settings for humans who open the workspace.
    #[serde(default, skip_serializing_if = "Editor::is_empty")]
    pub editor: Editor,
    /// Sandbox hardening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// Network policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Stop the workspace after this long without activity (Go duration, e.g. `15m`, `1h30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<GoDuration>,
    /// What the agent is told and allowed to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
}

/// `spec.resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU, in Kubernetes quantity form (`500m`, `2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<ResourceRange>,
    /// Memory, in Kubernetes quantity form (`512Mi`, `2Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ResourceRange>,
}

impl Resources {
    /// True when neither CPU nor memory is set.
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// A request/limit pair; the request may not exceed the limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRange {
    /// What the scheduler reserves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Quantity>,
    /// The hard cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Quantity>,
}

/// `spec.storage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    /// How storage is provisioned (the DevWorkspace Operator's storage types).
    #[serde(rename = "type")]
    pub kind: StorageKind,
    /// Size of the volume, a Kubernetes quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// Where the volume is mounted; defaults to `/projects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
}

/// Storage strategies, named as the DevWorkspace Operator names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StorageKind {
    /// One persistent volume per workspace.
    PerWorkspace,
    /// One persistent volume per user, shared by that user's workspaces.
    PerUser,
    /// Like per-user; the name older Che versions use.
    Common,
    /// Persistent volume synchronised asynchronously.
    Async,
    /// No persistence: files are lost when the workspace stops.
    Ephemeral,
}

/// An environment variable whose value comes from a secret, by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEnv {
    /// The variable's name inside the workspace.
    pub env: EnvName,
    /// Where the value comes from.
    pub from: SecretRef,
}

/// A reference to one key of one secret (a Kubernetes `Secret`, a Coder parameter, a local map).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name (DNS-1123).
    pub secret: DnsLabel,
    /// The key inside the secret.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// A Dev Container Feature (`ghcr.io/devcontainers/features/github-cli:1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Feature {
    /// The feature's OCI reference.
    pub id: String,
    /// The feature's options.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, serde_json::Value>,
}

/// A port the workspace listens on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// Endpoint name (DNS-1123, at most 15 characters as for a container port name).
    #[schemars(extend("maxLength" = 15))]
    pub name: DnsLabel,
    /// Port number, 1–65535.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Who may reach it. Defaults to `public`.
    #[serde(default)]
    pub exposure: Exposure,
    /// Protocol. Defaults to `http`.
    #[serde(default)]
    pub protocol: PortProtocol,
    /// Path opened by default, e.g. `/health`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Endpoint exposure, as in Devfile 2.x.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// Reachable from outside the cluster through the platform's router.
    #[default]
    Public,
    /// Reachable inside the cluster only.
    Internal,
    /// Reachable inside the workspace only.
    None,
}

/// Endpoint protocol, as in Devfile 2.x.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    /// HTTP.
    #[default]
    Http,
    /// HTTPS.
    Https,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
    /// Raw TCP.
    Tcp,
    /// Raw UDP.
    Udp,
}

/// A named command. `run` is a shell command line written by the contract's author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Command {
    /// The command line, run by `sh -c` in `workdir`.
    #[schemars(length(min = 1))]
    pub run: String,
    /// The Devfile command group it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<CommandGroup>,
    /// Directory to run in; defaults to `spec.workdir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

/// Devfile command groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandGroup {
    /// Builds or installs dependencies.
    Build,
    /// Runs the application.
    Run,
    /// Runs the tests.
    Test,
    /// Runs the application under a debugger.
    Debug,
    /// Deploys the application.
    Deploy,
}

/// `spec.lifecycle`: command names to run at each point, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lifecycle {
    /// Once, after the workspace is first created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_create: Vec<DnsLabel>,
    /// Every time the workspace starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<DnsLabel>,
    /// Before the workspace stops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<DnsLabel>,
}

impl Lifecycle {
    /// True when no lifecycle command is set.
    pub fn is_empty(&self) -> bool {
        self.post_create.is_empty() && self.post_start.is_empty() && self.pre_stop.is_empty()
    }
}

/// `spec.editor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Editor {
    /// VS Code extension ids (`publisher.name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

impl Editor {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.extensions.is_empty()
    }
}

/// `spec.isolation`: sandbox hardening.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Isolation {
    /// Kubernetes `RuntimeClass` (e.g. a Kata microVM class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class: Option<DnsLabel>,
    /// Refuse to run as root.
    #[serde(default)]
    pub run_as_non_root: bool,
    /// Mount the root filesystem read-only.
    #[serde(default)]
    pub read_only_root_filesystem: bool,
    /// Absolute paths that stay writable when the root filesystem is read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable_paths: Vec<String>,
}

/// `spec.network`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    /// Outbound traffic policy.
    #[serde(default)]
    pub egress: Egress,
}

/// Outbound traffic policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Egress {
    /// What happens to traffic no rule allows. Defaults to `deny`.
    #[serde(default)]
    pub default: Verdict,
    /// Traffic allowed in spite of the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<EgressRule>,
}

impl Egress {
    /// True when some outbound traffic (beyond nothing) is allowed.
    pub fn allows_any(&self) -> bool {
        self.default == Verdict::Allow || !self.allow.is_empty()
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Allowed.
    Allow,
    /// Denied (the default everywhere).
    #[default]
    Deny,
}

/// One egress allow rule: exactly one of `dns`, `host`, `cidr`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EgressRule {
    /// Allow DNS lookups (UDP and TCP port 53 to the cluster's resolver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<bool>,
    /// A host name (FQDN), optionally with a leading `*.` wildcard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// An IPv4 or IPv6 network in CIDR form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Cidr>,
    /// TCP ports allowed; empty means all ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(range(min = 1, max = 65535)))]
    pub ports: Vec<u16>,
}

/// What a rule targets, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressTarget<'a> {
    /// DNS resolution.
    Dns,
    /// A host name.
    Host(&'a str),
    /// A network.
    Cidr(&'a Cidr),
}

impl EgressRule {
    /// The rule's single target. A validated contract always has exactly one.
    pub fn target(&self) -> Option<EgressTarget<'_>> {
        match (self.dns, self.host.as_deref(), self.cidr.as_ref()) {
            (Some(true), None, None) => Some(EgressTarget::Dns),
            (None | Some(false), Some(host), None) => Some(EgressTarget::Host(host)),
            (None | Some(false), None, Some(cidr)) => Some(EgressTarget::Cidr(cidr)),
            _ => None,
        }
    }
}

/// `spec.agent`: what the agent is told and may do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Agent {
    /// Instructions placed in `AGENTS.md` and given to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The permission gate's rules.
    #[serde(default)]
    pub permissions: Permissions,
}

/// The permission gate's rules: deny rules win, then allow rules, then `default`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permissions {
    /// Verdict for a tool call no rule matches. Defaults to `deny`.
    #[serde(default)]
    pub default: Verdict,
    /// Patterns that allow a tool call, e.g. `shell(git:*)`, `write(/projects/app/**)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<PermissionPattern>,
    /// Patterns that deny a tool call; they win over `allow`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<PermissionPattern>,
}
