//! The store's records as `codersdk` JSON, field for field as coderd writes them: Go's
//! `omitempty` fields are left out when empty, its nil pointers without `omitempty` are `null`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::store::{
    AgentLogRec, AgentRec, AgentStatus, BuildRec, JobStatus, LogRec, ResourceRec, Store,
    TemplateRec, WorkspaceRec,
};
use super::template::FakeParameter;

/// A time as Go's RFC 3339 with nanoseconds writes it.
pub(crate) fn ts(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `codersdk.BuildInfoResponse`.
pub(crate) fn build_info(version: &str, base_url: &str, deployment_id: Uuid) -> Value {
    json!({
        "external_url": "https://github.com/coder/coder",
        "version": version,
        "dashboard_url": base_url,
        "telemetry": false,
        "workspace_proxy": false,
        "agent_api_version": "1.0",
        "provisioner_api_version": "1.0",
        "upgrade_message": "",
        "deployment_id": deployment_id,
        "webpush_public_key": "",
    })
}

/// `codersdk.User` of the fake's one user, an owner.
pub(crate) fn user(store: &Store) -> Value {
    let u = &store.user;
    json!({
        "id": u.id,
        "username": u.username,
        "name": "",
        "email": u.email,
        "created_at": ts(u.created_at),
        "updated_at": ts(u.created_at),
        "last_seen_at": ts(Utc::now()),
        "status": "active",
        "login_type": "password",
        "theme_preference": "",
        "organization_ids": [store.org.id],
        "roles": [{ "name": "owner", "display_name": "Owner" }],
        "avatar_url": "",
        "is_service_account": false,
        "has_ai_seat": false,
    })
}

/// `codersdk.Organization`.
pub(crate) fn organization(store: &Store) -> Value {
    let o = &store.org;
    json!({
        "id": o.id,
        "name": o.name,
        "display_name": o.name,
        "description": "",
        "icon": "",
        "created_at": ts(o.created_at),
        "updated_at": ts(o.created_at),
        "is_default": true,
    })
}

/// `codersdk.Template`.
pub(crate) fn template(store: &Store, t: &TemplateRec) -> Value {
    let no_stats = json!({ "p50": null, "p95": null });
    json!({
        "id": t.id,
        "created_at": ts(t.created_at),
        "updated_at": ts(t.created_at),
        "organization_id": store.org.id,
        "organization_name": store.org.name,
        "organization_display_name": store.org.name,
        "organization_icon": "",
        "name": t.spec.name,
        "display_name": t.spec.display_name,
        "provisioner": "terraform",
        "active_version_id": t.version_id,
        "active_user_count": 0,
        "build_time_stats": { "start": no_stats, "stop": no_stats, "delete": no_stats },
        "description": t.spec.description,
        "deprecated": false,
        "deprecation_message": "",
        "deleted": false,
        "icon": "",
        "default_ttl_ms": 0,
        "activity_bump_ms": 3_600_000,
        "autostop_requirement": { "days_of_week": [], "weeks": 1 },
        "autostart_requirement": {
            "days_of_week": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        },
        "created_by_id": store.user.id,
        "created_by_name": store.user.username,
        "allow_user_autostart": true,
        "allow_user_autostop": true,
        "allow_user_cancel_workspace_jobs": false,
        "failure_ttl_ms": 0,
        "time_til_dormant_ms": 0,
        "time_til_dormant_autodelete_ms": 0,
        "require_active_version": false,
        "max_port_share_level": "owner",
        "cors_behavior": "simple",
        "use_classic_parameter_flow": false,
        "disable_module_cache": false,
    })
}

/// `codersdk.TemplateVersion` of a template's active version.
pub(crate) fn template_version(store: &Store, t: &TemplateRec) -> Value {
    let job = json!({
        "id": t.version_job_id,
        "created_at": ts(t.created_at),
        "started_at": ts(t.created_at),
        "completed_at": ts(t.created_at),
        "status": "succeeded",
        "file_id": Uuid::nil(),
        "tags": { "owner": "", "scope": "organization" },
        "queue_position": 0,
        "queue_size": 0,
        "organization_id": store.org.id,
        "initiator_id": store.user.id,
        "input": { "template_version_id": t.version_id },
        "type": "template_version_import",
        "metadata": {
            "template_version_name": t.version_name,
            "template_id": t.id,
            "template_name": t.spec.name,
            "template_display_name": t.spec.display_name,
            "template_icon": "",
        },
        "logs_overflowed": false,
    });
    json!({
        "id": t.version_id,
        "template_id": t.id,
        "organization_id": store.org.id,
        "created_at": ts(t.created_at),
        "updated_at": ts(t.created_at),
        "name": t.version_name,
        "message": "",
        "job": job,
        "readme": "",
        "created_by": { "id": store.user.id, "username": store.user.username, "avatar_url": "", "name": "" },
        "archived": false,
        "has_external_agent": false,
    })
}

/// `codersdk.TemplateVersionParameter`.
pub(crate) fn parameter(p: &FakeParameter) -> Value {
    let mut map = object(json!({
        "name": p.name,
        "display_name": p.display_name,
        "description": p.description,
        "description_plaintext": p.description,
        "type": p.kind.as_str(),
        "form_type": "",
        "mutable": p.mutable,
        "default_value": p.default_value,
        "icon": "",
        "options": p.options.iter().map(|(name, value)| json!({
            "name": name, "description": "", "value": value, "icon": ""
        })).collect::<Vec<_>>(),
        "validation_error": p.validation_error,
        "required": p.required,
        "ephemeral": false,
    }));
    insert_some(
        &mut map,
        "validation_regex",
        p.validation_regex.clone().map(Value::String),
    );
    insert_some(
        &mut map,
        "validation_min",
        p.validation_min.map(Value::from),
    );
    insert_some(
        &mut map,
        "validation_max",
        p.validation_max.map(Value::from),
    );
    Value::Object(map)
}

/// `codersdk.ProvisionerJobLog`.
pub(crate) fn log(l: &LogRec) -> Value {
    json!({
        "id": l.id,
        "created_at": ts(l.created_at),
        "log_source": l.source,
        "log_level": l.level,
        "stage": l.stage,
        "output": l.output,
    })
}

/// `codersdk.WorkspaceAgentLog`.
pub(crate) fn agent_log(a: &AgentRec, l: &AgentLogRec) -> Value {
    json!({
        "id": l.id,
        "created_at": ts(l.created_at),
        "output": l.output,
        "level": l.level,
        "source_id": a.log_source_id,
    })
}

/// `codersdk.Workspace`.
pub(crate) fn workspace(store: &Store, w: &WorkspaceRec) -> Value {
    let template = store.template(w.template_id);
    let latest = store.latest(w);
    let failing: Vec<Uuid> = latest
        .iter()
        .flat_map(|b| b.resources.iter())
        .filter_map(|r| r.agent.as_ref())
        .filter(|a| a.status != AgentStatus::Connected)
        .map(|a| a.id)
        .collect();
    let mut map = object(json!({
        "id": w.id,
        "created_at": ts(w.created_at),
        "updated_at": ts(w.updated_at),
        "owner_id": store.user.id,
        "owner_name": store.user.username,
        "owner_avatar_url": "",
        "organization_id": store.org.id,
        "organization_name": store.org.name,
        "template_id": w.template_id,
        "template_name": template.map(|t| t.spec.name.clone()),
        "template_display_name": template.map(|t| t.spec.display_name.clone()),
        "template_icon": "",
        "template_allow_user_cancel_workspace_jobs": false,
        "template_active_version_id": template.map(|t| t.version_id),
        "template_require_active_version": false,
        "template_use_classic_parameter_flow": false,
        "latest_build": latest.map(|b| build(store, w, b)),
        "latest_app_status": null,
        "outdated": latest.zip(template).is_some_and(|(b, t)| b.template_version_id != t.version_id),
        "name": w.name,
        "last_used_at": ts(w.updated_at),
        "deleting_at": null,
        "dormant_at": null,
        "health": { "healthy": failing.is_empty(), "failing_agents": failing },
        "automatic_updates": w.automatic_updates,
        "allow_renames": false,
        "favorite": false,
        "next_start_at": null,
        "is_prebuild": false,
        "task_id": null,
    }));
    insert_some(
        &mut map,
        "autostart_schedule",
        w.autostart.clone().map(Value::String),
    );
    insert_some(&mut map, "ttl_ms", w.ttl_ms.map(Value::from));
    Value::Object(map)
}

/// `codersdk.WorkspaceBuild`.
pub(crate) fn build(store: &Store, w: &WorkspaceRec, b: &BuildRec) -> Value {
    let template = store.template_by_version(b.template_version_id);
    json!({
        "id": b.id,
        "created_at": ts(b.created_at),
        "updated_at": ts(b.updated_at),
        "workspace_id": w.id,
        "workspace_name": w.name,
        "workspace_owner_id": store.user.id,
        "workspace_owner_name": store.user.username,
        "workspace_owner_avatar_url": "",
        "template_version_id": b.template_version_id,
        "template_version_name": template.map(|t| t.version_name.clone()),
        "build_number": b.number,
        "transition": b.transition.as_str(),
        "initiator_id": store.user.id,
        "initiator_name": store.user.username,
        "job": job(store, w, b),
        "reason": "initiator",
        "resources": b.resources.iter().map(|r| resource(b, r)).collect::<Vec<_>>(),
        "deadline": b.deadline.map(ts),
        "max_deadline": null,
        "status": b.status(),
        "daily_cost": 0,
        "template_version_preset_id": null,
    })
}

/// `codersdk.ProvisionerJob` of a build.
fn job(store: &Store, w: &WorkspaceRec, b: &BuildRec) -> Value {
    let j = &b.job;
    let template = store.template(w.template_id);
    let mut map = object(json!({
        "id": j.id,
        "created_at": ts(j.created_at),
        "status": j.status.as_str(),
        "file_id": j.file_id,
        "tags": { "owner": "", "scope": "organization" },
        "queue_position": 0,
        "queue_size": 0,
        "organization_id": store.org.id,
        "initiator_id": store.user.id,
        "input": { "workspace_build_id": b.id },
        "type": "workspace_build",
        "metadata": {
            "template_version_name": template.map(|t| t.version_name.clone()),
            "template_id": w.template_id,
            "template_name": template.map(|t| t.spec.name.clone()),
            "template_display_name": template.map(|t| t.spec.display_name.clone()),
            "template_icon": "",
            "workspace_id": w.id,
            "workspace_name": w.name,
            "workspace_build_transition": b.transition.as_str(),
        },
        "logs_overflowed": false,
    }));
    insert_some(&mut map, "started_at", j.started_at.map(ts));
    insert_some(&mut map, "completed_at", j.completed_at.map(ts));
    insert_some(&mut map, "canceled_at", j.canceled_at.map(ts));
    insert_some(&mut map, "error", j.error.clone().map(Value::String));
    if j.status != JobStatus::Pending {
        map.insert("worker_id".into(), json!(store.org.id));
        map.insert("worker_name".into(), json!("fake-provisioner"));
    }
    Value::Object(map)
}

/// `codersdk.WorkspaceResource`.
fn resource(b: &BuildRec, r: &ResourceRec) -> Value {
    let mut map = object(json!({
        "id": r.id,
        "created_at": ts(r.created_at),
        "job_id": b.job.id,
        "workspace_transition": b.transition.as_str(),
        "type": r.kind,
        "name": r.name,
        "hide": false,
        "icon": r.icon,
        "daily_cost": 0,
    }));
    if let Some(a) = &r.agent {
        map.insert("agents".into(), json!([agent(a, r.id)]));
    }
    Value::Object(map)
}

/// This host's architecture as Go names it (`GOARCH`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `codersdk.WorkspaceAgent`.
pub(crate) fn agent(a: &AgentRec, resource_id: Uuid) -> Value {
    let health = match a.status {
        AgentStatus::Connected => json!({ "healthy": true }),
        AgentStatus::Connecting => {
            json!({ "healthy": false, "reason": "agent has not yet connected" })
        }
    };
    let mut map = object(json!({
        "id": a.id,
        "parent_id": null,
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
        "status": a.status.as_str(),
        "lifecycle_state": a.lifecycle.as_str(),
        "name": a.name,
        "resource_id": resource_id,
        "architecture": go_arch(),
        "environment_variables": {},
        "operating_system": "linux",
        "logs_length": a.logs.iter().map(|l| l.output.len() + 1).sum::<usize>(),
        "logs_overflowed": false,
        "directory": a.directory,
        "expanded_directory": a.directory,
        "version": "v2.34.3",
        "api_version": "2.0",
        "apps": [],
        "connection_timeout_seconds": 120,
        "troubleshooting_url": "",
        "subsystems": [],
        "health": health,
        "display_apps": ["vscode", "web_terminal", "ssh_helper", "port_forwarding_helper"],
        "log_sources": [{
            "id": a.log_source_id,
            "workspace_agent_id": a.id,
            "created_at": ts(a.created_at),
            "display_name": "Startup Script",
            "icon": "/emojis/25b6.png",
        }],
        "scripts": [],
        "startup_script_behavior": "non-blocking",
    }));
    insert_some(&mut map, "first_connected_at", a.first_connected_at.map(ts));
    insert_some(&mut map, "last_connected_at", a.first_connected_at.map(ts));
    insert_some(&mut map, "started_at", a.started_at.map(ts));
    insert_some(&mut map, "ready_at", a.ready_at.map(ts));
    Value::Object(map)
}
