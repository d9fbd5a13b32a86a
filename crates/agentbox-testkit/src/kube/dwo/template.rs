//! The workspace pod DWO's Deployment would create for a DevWorkspace: one container per
//! `container` component (named after it, with DWO's environment variables), the projects
//! volume on the workspace's storage, and the project-clone init container.

use std::collections::BTreeMap;

use ::kube::ResourceExt;
use ::kube::api::DynamicObject;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{CLAIM_PER_USER, LABEL_CREATOR, LABEL_ID, LABEL_NAME, STORAGE_TYPE_ATTRIBUTE};

/// The characters Kubernetes uses in generated names (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The default image of DWO's project-clone init container.
pub const PROJECT_CLONE_IMAGE: &str = "quay.io/devfile/project-clone:next";

/// The project-clone init container's program: clone each project (name, URL, revision as
/// positional arguments) under `$PROJECTS_ROOT` unless it is there already, as DWO's
/// project-clone does on every start.
const CLONE_SCRIPT: &str = r#"set -e
root="${PROJECTS_ROOT:-/projects}"
while [ "$#" -ge 3 ]; do
  target="$root/$1"
  if [ -e "$target" ]; then
    echo "Project '$1' is already cloned"
  else
    echo "Cloning project '$1' from $2"
    git clone --quiet -- "$2" "$target"
    if [ -n "$3" ]; then git -C "$target" checkout --quiet "$3" --; fi
  fi
  shift 3
done
"#;

/// How a workspace's volumes are backed (`controller.devfile.io/storage-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StorageType {
    /// One claim per namespace, a sub-path per workspace (`per-user`, alias `common`).
    PerUser,
    /// One claim per workspace, `storage-<id>`.
    PerWorkspace,
    /// `emptyDir` volumes: nothing survives a stop.
    Ephemeral,
}

impl StorageType {
    /// The storage type a DevWorkspace asks for; `Err` names an unknown one.
    pub fn of(dw: &DynamicObject) -> Result<Self, String> {
        let value = dw.data["spec"]["template"]["attributes"][STORAGE_TYPE_ATTRIBUTE]
            .as_str()
            .unwrap_or("per-user");
        match value {
            "per-user" | "common" | "async" => Ok(Self::PerUser),
            "per-workspace" => Ok(Self::PerWorkspace),
            "ephemeral" => Ok(Self::Ephemeral),
            other => Err(format!(
                "Error provisioning storage: unsupported storage type \"{other}\"; use per-user, per-workspace or ephemeral"
            )),
        }
    }

    /// The claim holding the workspace's data, and the sub-path of its own data in it.
    pub fn claim(self, id: &str) -> Option<(String, Option<String>)> {
        match self {
            Self::PerUser => Some((CLAIM_PER_USER.to_owned(), Some(id.to_owned()))),
            Self::PerWorkspace => Some((format!("storage-{id}"), None)),
            Self::Ephemeral => None,
        }
    }
}

/// What the pod is made from.
pub(crate) struct PodInput<'a> {
    pub dw: &'a DynamicObject,
    pub id: &'a str,
    pub creator: &'a str,
    pub node_name: &'a str,
    pub idle_timeout: &'a str,
    pub project_clone_image: &'a str,
}

/// A volume mount: volume name, mount path, sub-path.
type Mount = (String, String, Option<String>);

/// The workspace's storage: the pod's volumes and how a named volume is mounted.
struct Storage {
    kind: StorageType,
    id: String,
}

impl Storage {
    fn volumes(&self, names: &[String]) -> Vec<Value> {
        match self.kind.claim(&self.id) {
            Some((claim, _)) => {
                vec![json!({ "name": claim, "persistentVolumeClaim": { "claimName": claim } })]
            }
            None => names
                .iter()
                .map(|n| json!({ "name": n, "emptyDir": {} }))
                .collect(),
        }
    }

    fn mount(&self, volume: &str, path: &str) -> Mount {
        match self.kind {
            StorageType::PerUser => (
                CLAIM_PER_USER.to_owned(),
                path.to_owned(),
                Some(format!("{}/{volume}", self.id)),
            ),
            StorageType::PerWorkspace => (
                format!("storage-{}", self.id),
                path.to_owned(),
                Some(volume.to_owned()),
            ),
            StorageType::Ephemeral => (volume.to_owned(), path.to_owned(), None),
        }
    }
}

fn mount_json((name, path, sub_path): &Mount) -> Value {
    let mut mount = json!({ "name": name, "mountPath": path });
    if let Some(sub) = sub_path {
        mount["subPath"] = sub.as_str().into();
    }
    mount
}

/// A project to clone: name (its directory under the projects root), URL, revision.
fn projects(dw: &DynamicObject) -> Result<Vec<(String, String, String)>, String> {
    let mut found = Vec::new();
    for project in dw.data["spec"]["template"]["projects"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = project["name"].as_str().unwrap_or_default();
        let dir = project["clonePath"].as_str().unwrap_or(name);
        let Some(git) = project["git"].as_object() else {
            return Err(format!(
                "Error provisioning projects: project {name} has no git source; the simulated operator clones git projects only"
            ));
        };
        let remotes = git.get("remotes").and_then(Value::as_object);
        let checkout = git.get("checkoutFrom");
        let wanted = checkout.and_then(|c| c["remote"].as_str());
        let url = match (remotes, wanted) {
            (Some(r), Some(remote)) => r.get(remote).and_then(Value::as_str),
            (Some(r), None) => r.values().find_map(Value::as_str),
            (None, _) => None,
        };
        let Some(url) = url else {
            return Err(format!(
                "Error provisioning projects: project {name} has no usable git remote"
            ));
        };
        let revision = checkout
            .and_then(|c| c["revision"].as_str())
            .unwrap_or_default();
        found.push((dir.to_owned(), url.to_owned(), revision.to_owned()));
    }
    Ok(found)
}

/// The pod of a DevWorkspace, or the message of why it cannot be made.
pub(crate) fn pod(input: &PodInput<'_>) -> Result<Value, String> {
    let dw = input.dw;
    let namespace = dw.namespace().unwrap_or_default();
    let name = dw.name_any();
    let storage = Storage {
        kind: StorageType::of(dw)?,
        id: input.id.to_owned(),
    };
    let components: Vec<&Value> = dw.data["spec"]["template"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let volume_names: Vec<String> = std::iter::once("projects".to_owned())
        .chain(
            components
                .iter()
                .filter(|c| c.get("volume").is_some())
                .filter_map(|c| c["name"].as_str())
                .filter(|n| *n != "projects")
                .map(str::to_owned),
        )
        .collect();
    let projects = projects(dw)?;
    let clone_disabled =
        dw.data["spec"]["template"]["attributes"]["controller.devfile.io/project-clone"].as_str()
            == Some("disable");
    let dwo_env = |component: &str| -> Vec<Value> {
        [
            ("DEVWORKSPACE_ID", input.id.to_owned()),
            ("DEVWORKSPACE_NAME", name.clone()),
            ("DEVWORKSPACE_NAMESPACE", namespace.clone()),
            ("DEVWORKSPACE_CREATOR", input.creator.to_owned()),
            ("DEVWORKSPACE_IDLE_TIMEOUT", input.idle_timeout.to_owned()),
            ("DEVWORKSPACE_COMPONENT_NAME", component.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect()
    };
    let project_env = |root: &str| -> Vec<Value> {
        let source = projects.first().map_or_else(
            || root.to_owned(),
            |(dir, _, _)| format!("{}/{dir}", root.trim_end_matches('/')),
        );
        vec![
            json!({ "name": "PROJECTS_ROOT", "value": root }),
            json!({ "name": "PROJECT_SOURCE", "value": source }),
        ]
    };

    let mut containers = Vec::new();
    for component in &components {
        let Some(container) = component.get("container") else {
            continue;
        };
        let component_name = component["name"].as_str().unwrap_or_default();
        let mut env: Vec<Value> = container["env"].as_array().cloned().unwrap_or_default();
        env.extend(dwo_env(component_name));
        let mut mounts = Vec::new();
        if container["mountSources"].as_bool().unwrap_or(true) {
            let root = container["sourceMapping"].as_str().unwrap_or("/projects");
            mounts.push(mount_json(&storage.mount("projects", root)));
            env.extend(project_env(root));
        }
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume = mount["name"].as_str().unwrap_or_default();
            let path = mount["path"]
                .as_str()
                .map_or_else(|| format!("/{volume}"), str::to_owned);
            mounts.push(mount_json(&storage.mount(volume, &path)));
        }
        let quantities = |fields: [(&str, &'static str); 2]| -> BTreeMap<&'static str, String> {
            fields
                .into_iter()
                .filter_map(|(field, key)| Some((key, container[field].as_str()?.to_owned())))
                .collect()
        };
        let limits = quantities([("memoryLimit", "memory"), ("cpuLimit", "cpu")]);
        let requests = quantities([("memoryRequest", "memory"), ("cpuRequest", "cpu")]);
        let ports: Vec<Value> = container["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let port = e["targetPort"].as_u64()?;
                let name: String = e["name"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(15)
                    .collect();
                Some(json!({ "name": name, "containerPort": port, "protocol": "TCP" }))
            })
            .collect();
        let mut spec = json!({
            "name": component_name,
            "image": container["image"],
            "env": env,
            "volumeMounts": mounts,
            "resources": { "limits": limits, "requests": requests },
            "imagePullPolicy": "Always",
            "terminationMessagePolicy": "FallbackToLogsOnError",
        });
        for field in ["command", "args"] {
            if let Some(list) = container[field].as_array() {
                spec[field] = Value::Array(list.clone());
            }
        }
        if !ports.is_empty() {
            spec["ports"] = ports.into();
        }
        containers.push(spec);
    }
    if containers.is_empty() {
        return Err(
            "DevWorkspace spec is invalid: the DevWorkspace has no container components".into(),
        );
    }

    let mut init_containers = Vec::new();
    if !projects.is_empty() && !clone_disabled {
        let root = "/projects";
        let mut env = dwo_env("project-clone");
        env.extend(project_env(root));
        let args: Vec<&str> = projects
            .iter()
            .flat_map(|(dir, url, rev)| [dir.as_str(), url.as_str(), rev.as_str()])
            .collect();
        init_containers.push(json!({
            "name": "project-clone",
            "image": input.project_clone_image,
            "command": ["/bin/sh", "-c", CLONE_SCRIPT, "project-clone"],
            "args": args,
            "env": env,
            "volumeMounts": [mount_json(&storage.mount("projects", root))],
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }));
    }

    let mut spec = json!({
        "nodeName": input.node_name,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 10,
        "containers": containers,
        "volumes": storage.volumes(&volume_names),
    });
    if !init_containers.is_empty() {
        spec["initContainers"] = init_containers.into();
    }
    let hash = template_hash(&spec);
    let pod_name = format!("{}-{hash}-{}", input.id, random_suffix());
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": namespace,
            "labels": {
                LABEL_ID: input.id,
                LABEL_NAME: name,
                LABEL_CREATOR: input.creator,
                "pod-template-hash": hash,
            },
            "annotations": { "controller.devfile.io/devworkspace-started": "true" },
            "ownerReferences": [{
                "apiVersion": "workspace.devfile.io/v1alpha2",
                "kind": "DevWorkspace",
                "name": name,
                "uid": dw.uid().unwrap_or_default(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

/// A pod-template hash in the style of a ReplicaSet's: 10 characters of the alphabet.
fn template_hash(spec: &Value) -> String {
    let digest = Sha256::digest(spec.to_string().as_bytes());
    digest
        .iter()
        .take(10)
        .map(|b| NAME_ALPHABET[usize::from(*b) % NAME_ALPHABET.len()] as char)
        .collect()
}

/// Five random characters, as a ReplicaSet appends to a pod's name.
fn random_suffix() -> String {
    let random = uuid::Uuid::new_v4();
    random
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| NAME_ALPHABET[usize::from(*b) % NAME_ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devworkspace(template: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "workspace.devfile.io/v1alpha2",
            "kind": "DevWorkspace",
            "metadata": { "name": "demo", "namespace": "ns", "uid": "1a2b3c4d-5e6f-7a8b-9c0d-112233445566" },
            "spec": { "started": true, "template": template },
        }))
        .unwrap()
    }

    fn input(dw: &DynamicObject) -> PodInput<'_> {
        PodInput {
            dw,
            id: "workspace1a2b3c4d5e6f7a8b",
            creator: "creator-uid",
            node_name: "node",
            idle_timeout: "15m",
            project_clone_image: PROJECT_CLONE_IMAGE,
        }
    }

    #[test]
    fn containers_get_dwo_env_labels_and_the_projects_volume() {
        let dw = devworkspace(json!({
            "components": [
                { "name": "tools", "container": { "image": "golang:1.23", "args": ["tail", "-f", "/dev/null"],
                  "env": [{ "name": "GOFLAGS", "value": "-mod=readonly" }], "memoryLimit": "8Gi",
                  "endpoints": [{ "name": "api", "targetPort": 8080 }] } },
                { "name": "projects", "volume": { "size": "1Gi" } }
            ],
            "projects": [{ "name": "app", "git": { "remotes": { "origin": "file:///srv/app.git" } } }]
        }));
        let pod = pod(&input(&dw)).unwrap();
        assert!(
            pod["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("workspace1a2b3c4d5e6f7a8b-")
        );
        assert_eq!(
            pod["metadata"]["labels"][LABEL_ID],
            "workspace1a2b3c4d5e6f7a8b"
        );
        assert_eq!(pod["metadata"]["labels"][LABEL_NAME], "demo");
        let tools = &pod["spec"]["containers"][0];
        assert_eq!(tools["name"], "tools");
        let env: BTreeMap<&str, &str> = tools["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
            .collect();
        assert_eq!(env["DEVWORKSPACE_ID"], "workspace1a2b3c4d5e6f7a8b");
        assert_eq!(env["PROJECT_SOURCE"], "/projects/app");
        assert_eq!(env["GOFLAGS"], "-mod=readonly");
        assert_eq!(
            tools["volumeMounts"][0],
            json!({ "name": CLAIM_PER_USER, "mountPath": "/projects", "subPath": "workspace1a2b3c4d5e6f7a8b/projects" })
        );
        assert_eq!(tools["resources"]["limits"]["memory"], "8Gi");
        assert_eq!(
            pod["spec"]["initContainers"][0]["args"],
            json!(["app", "file:///srv/app.git", ""])
        );
    }

    #[test]
    fn a_devworkspace_without_containers_is_refused() {
        let dw = devworkspace(json!({ "components": [{ "name": "projects", "volume": {} }] }));
        assert!(
            pod(&input(&dw))
                .unwrap_err()
                .contains("no container components")
        );
    }

    #[test]
    fn ephemeral_storage_uses_empty_dirs() {
        let dw = devworkspace(json!({
            "attributes": { STORAGE_TYPE_ATTRIBUTE: "ephemeral" },
            "components": [{ "name": "tools", "container": { "image": "alpine:3.20" } }]
        }));
        let pod = pod(&input(&dw)).unwrap();
        assert_eq!(
            pod["spec"]["volumes"],
            json!([{ "name": "projects", "emptyDir": {} }])
        );
        assert!(pod["spec"].get("initContainers").is_none());
    }
}
