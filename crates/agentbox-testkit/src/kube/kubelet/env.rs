//! A container's environment as the kubelet builds it: `envFrom` sources, then `env` entries
//! (literal values with `$(VAR)` references, `fieldRef`, `secretKeyRef`, `configMapKeyRef`).
//! Values that come from Secrets stay [`SecretString`]s.

use std::collections::BTreeMap;

use ::kube::Api;
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use secrecy::{ExposeSecret, SecretString};

/// One variable's value.
#[derive(Clone)]
enum Value {
    Plain(String),
    Secret(SecretString),
}

/// A container's environment, split into plain and secret variables.
#[derive(Default)]
pub(crate) struct ContainerEnv {
    pub plain: BTreeMap<String, String>,
    pub secret: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for ContainerEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerEnv")
            .field("plain", &self.plain)
            .field("secret", &self.secret.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Resolve `container`'s environment in `pod`. `Err` is the message of a
/// `CreateContainerConfigError`, as the kubelet reports a missing Secret or key.
pub(crate) async fn resolve(
    client: &::kube::Client,
    pod: &Pod,
    container: &Container,
) -> Result<ContainerEnv, String> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let sources = Sources {
        secrets: Api::namespaced(client.clone(), &namespace),
        config_maps: Api::namespaced(client.clone(), &namespace),
        namespace,
    };
    let mut vars: Vec<(String, Value)> = Vec::new();
    let set = |vars: &mut Vec<(String, Value)>, name: String, value: Value| {
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(source) = &from.secret_ref {
            let optional = source.optional.unwrap_or(false);
            if let Some(secret) = sources.secret(&source.name, optional).await? {
                for (key, value) in secret_entries(&secret) {
                    set(&mut vars, format!("{prefix}{key}"), Value::Secret(value));
                }
            }
        }
        if let Some(source) = &from.config_map_ref {
            let optional = source.optional.unwrap_or(false);
            if let Some(map) = sources.config_map(&source.name, optional).await? {
                for (key, value) in map.data.unwrap_or_default() {
                    set(&mut vars, format!("{prefix}{key}"), Value::Plain(value));
                }
            }
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = value_of(var, pod, &sources, &vars).await? {
            set(&mut vars, var.name.clone(), value);
        }
    }
    let mut env = ContainerEnv::default();
    for (name, value) in vars {
        match value {
            Value::Plain(v) => {
                env.plain.insert(name, v);
            }
            Value::Secret(v) => {
                env.secret.insert(name, v);
            }
        }
    }
    Ok(env)
}

/// Where `valueFrom` references are looked up.
struct Sources {
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    namespace: String,
}

impl Sources {
    async fn secret(&self, name: &str, optional: bool) -> Result<Option<Secret>, String> {
        match self.secrets.get_opt(name).await {
            Ok(Some(secret)) => Ok(Some(secret)),
            Ok(None) if optional => Ok(None),
            Ok(None) => Err(format!("secret \"{name}\" not found")),
            Err(e) => Err(format!("cannot read secret \"{name}\": {e}")),
        }
    }

    async fn config_map(&self, name: &str, optional: bool) -> Result<Option<ConfigMap>, String> {
        match self.config_maps.get_opt(name).await {
            Ok(Some(map)) => Ok(Some(map)),
            Ok(None) if optional => Ok(None),
            Ok(None) => Err(format!("configmap \"{name}\" not found")),
            Err(e) => Err(format!("cannot read configmap \"{name}\": {e}")),
        }
    }
}

/// A Secret's entries (`data`, and `stringData` should the server keep it).
fn secret_entries(secret: &Secret) -> Vec<(String, SecretString)> {
    let mut entries: BTreeMap<String, SecretString> = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        let text = String::from_utf8_lossy(&value.0).into_owned();
        entries.insert(key.clone(), SecretString::from(text));
    }
    for (key, value) in secret.string_data.iter().flatten() {
        entries.insert(key.clone(), SecretString::from(value.clone()));
    }
    entries.into_iter().collect()
}

/// The value of one `env` entry; `None` for an optional reference that is missing.
async fn value_of(
    var: &EnvVar,
    pod: &Pod,
    sources: &Sources,
    defined: &[(String, Value)],
) -> Result<Option<Value>, String> {
    let Some(from) = &var.value_from else {
        return Ok(Some(expand(
            var.value.as_deref().unwrap_or_default(),
            defined,
        )));
    };
    if let Some(field) = &from.field_ref {
        return field_value(pod, &field.field_path)
            .map(|v| Some(Value::Plain(v)))
            .ok_or_else(|| {
                format!(
                    "unsupported fieldPath \"{}\" in env {}; the fake kubelet resolves metadata.name, metadata.namespace, metadata.uid, metadata.labels['…'], metadata.annotations['…'], spec.nodeName, spec.serviceAccountName and status.hostIP",
                    field.field_path, var.name
                )
            });
    }
    if let Some(key_ref) = &from.secret_key_ref {
        let optional = key_ref.optional.unwrap_or(false);
        let Some(secret) = sources.secret(&key_ref.name, optional).await? else {
            return Ok(None);
        };
        return match secret_entries(&secret)
            .into_iter()
            .find(|(k, _)| *k == key_ref.key)
        {
            Some((_, value)) => Ok(Some(Value::Secret(value))),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {} in Secret {}/{}",
                key_ref.key, sources.namespace, key_ref.name
            )),
        };
    }
    if let Some(key_ref) = &from.config_map_key_ref {
        let optional = key_ref.optional.unwrap_or(false);
        let Some(map) = sources.config_map(&key_ref.name, optional).await? else {
            return Ok(None);
        };
        return match map.data.unwrap_or_default().remove(&key_ref.key) {
            Some(value) => Ok(Some(Value::Plain(value))),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {} in ConfigMap {}/{}",
                key_ref.key, sources.namespace, key_ref.name
            )),
        };
    }
    Err(format!(
        "env {} uses a valueFrom source the fake kubelet does not resolve (resourceFieldRef or fileKeyRef)",
        var.name
    ))
}

/// The value of a `fieldRef` path.
fn field_value(pod: &Pod, path: &str) -> Option<String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.nodeName" => Some(spec.and_then(|s| s.node_name.clone()).unwrap_or_default()),
        "spec.serviceAccountName" => Some(
            spec.and_then(|s| s.service_account_name.clone())
                .unwrap_or_else(|| "default".into()),
        ),
        "status.hostIP" => Some(super::HOST_IP.to_owned()),
        _ => keyed("metadata.labels['", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref())),
    }
}

/// Expand `$(NAME)` references to variables defined before, as the kubelet does: `$$` is a
/// literal `$`, and a reference to an undefined name stays as written. A value that takes in
/// a secret becomes secret.
fn expand(input: &str, defined: &[(String, Value)]) -> Value {
    let mut out = String::with_capacity(input.len());
    let mut secret = false;
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match defined.iter().rev().find(|(n, _)| n == name) {
                Some((_, Value::Plain(v))) => out.push_str(v),
                Some((_, Value::Secret(v))) => {
                    secret = true;
                    out.push_str(v.expose_secret());
                }
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    if secret {
        Value::Secret(SecretString::from(out))
    } else {
        Value::Plain(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: Value) -> String {
        match v {
            Value::Plain(s) => s,
            Value::Secret(_) => panic!("expected a plain value"),
        }
    }

    #[test]
    fn references_expand_like_the_kubelet() {
        let defined = vec![
            ("ROOT".to_owned(), Value::Plain("/projects".to_owned())),
            (
                "TOKEN".to_owned(),
                Value::Secret(SecretString::from("s3cret")),
            ),
        ];
        assert_eq!(plain(expand("$(ROOT)/app", &defined)), "/projects/app");
        assert_eq!(
            plain(expand("$$(ROOT) $(MISSING) $x", &defined)),
            "$(ROOT) $(MISSING) $x"
        );
        match expand("Bearer $(TOKEN)", &defined) {
            Value::Secret(s) => assert_eq!(s.expose_secret(), "Bearer s3cret"),
            Value::Plain(_) => panic!("a value built from a secret must stay secret"),
        }
    }

    #[test]
    fn field_refs_read_the_pod() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "p", "namespace": "ns", "labels": { "app": "x" } },
            "spec": { "containers": [], "nodeName": "node-1" }
        }))
        .unwrap();
        assert_eq!(field_value(&pod, "metadata.name").as_deref(), Some("p"));
        assert_eq!(
            field_value(&pod, "metadata.labels['app']").as_deref(),
            Some("x")
        );
        assert_eq!(
            field_value(&pod, "spec.nodeName").as_deref(),
            Some("node-1")
        );
        assert_eq!(field_value(&pod, "status.podIPs"), None);
    }
}
