//! Plays kubelet for one pod of a workload that a real install (Helm, kustomize) created on
//! the test kube-apiserver, so the install itself can be shown working end to end on a machine
//! with no kubelet and no container images.
//!
//! For workload `kind/name` it does what the controllers and the kubelet would: creates a Pod
//! from the template, bound to a node (so the API server issues it pod-bound service-account
//! tokens), and starts its one container as a process of this machine in a mount namespace of
//! its own (`unshare --mount`), where every volume is bind-mounted at its `mountPath`: Secrets
//! and ConfigMaps written out from the cluster, claims and emptyDirs as fresh directories,
//! hostPaths as the caller maps them, the service-account token at
//! `/var/run/secrets/kubernetes.io/serviceaccount`, and `/etc/hosts` with the cluster DNS names
//! the caller gives. Environment variables come from `env` (values, field refs, ConfigMap and
//! Secret keys) and `envFrom`, plus `KUBERNETES_SERVICE_HOST`/`PORT`; the program is the one the
//! caller names for the container's image (or its `command[0]`), given the container's own
//! `command` and `args`. What it does not do: images, cgroups, probes, restarts, networking
//! (the pod shares the host's network; its IP is [`host_ip`]), pod status.
//!
//! Needs root (mounts). Mount points that do not exist on the host are made in an overlay of
//! their top directory (`/etc`, `/run`, ...) inside the pod's namespace: the host's tree is
//! left as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::kubectl::Kubectl;
use crate::system::Process;

/// What this machine stands in for: programs for images, host paths, DNS names.
#[derive(Debug, Clone)]
pub struct PodRunner {
    /// The cluster admin.
    pub kubectl: Kubectl,
    /// `KUBERNETES_SERVICE_HOST` and `_PORT` as pods see them.
    pub kube_host: String,
    pub kube_port: u16,
    /// The cluster CA, the pods' `ca.crt`.
    pub cluster_ca_file: PathBuf,
    /// Where pods' volumes and logs are kept.
    pub dir: PathBuf,
    /// The program for an image repository (`registry.k8s.io/etcd`) or a command name
    /// (`etcd`).
    pub programs: BTreeMap<String, PathBuf>,
    /// Host paths as pods name them, and where they are on this machine.
    pub host_paths: BTreeMap<String, PathBuf>,
    /// Names the pods resolve to 127.0.0.1 (cluster DNS: `svc.ns.svc`).
    pub hosts: Vec<String>,
}

/// One pod started by [`PodRunner::run`]: its process, killed when dropped.
#[derive(Debug)]
pub struct RunningPod {
    pub namespace: String,
    pub name: String,
    pub process: Process,
}

impl RunningPod {
    /// Kills the process and deletes the Pod (forced: no kubelet will confirm it).
    pub async fn stop(mut self, kubectl: &Kubectl) -> anyhow::Result<()> {
        self.process.kill().await;
        kubectl
            .run(&[
                "delete",
                "pod",
                &self.name,
                "-n",
                &self.namespace,
                "--grace-period=0",
                "--force",
            ])
            .await?;
        Ok(())
    }
}

impl PodRunner {
    /// Starts a pod of workload `kind/name` (Deployment, DaemonSet, StatefulSet) in
    /// `namespace` on node `node`, named `<name>-<node>`.
    pub async fn run(
        &self,
        namespace: &str,
        workload: &str,
        node: &str,
    ) -> anyhow::Result<RunningPod> {
        let object = self.get_json(&["get", workload, "-n", namespace]).await?;
        let name = object["metadata"]["name"]
            .as_str()
            .context("the workload's name")?;
        let template = &object["spec"]["template"];
        let claims: Vec<&str> = object["spec"]["volumeClaimTemplates"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|c| c["metadata"]["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let pod_name = format!("{name}-{node}");
        let mut spec = template["spec"].clone();
        spec["nodeName"] = json!(node);
        // The StatefulSet controller's part: a volume per claim template.
        for claim in &claims {
            let volume = json!({"name": claim, "persistentVolumeClaim": {"claimName": format!("{claim}-{pod_name}")}});
            match spec["volumes"].as_array_mut() {
                Some(volumes) => volumes.push(volume),
                None => spec["volumes"] = json!([volume]),
            }
        }
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": namespace, "labels": template["metadata"]["labels"]},
            "spec": spec,
        });
        let created = self
            .kubectl
            .run_with_stdin(&["create", "-f", "-", "-o", "json"], Some(&pod.to_string()))
            .await
            .with_context(|| format!("creating pod {pod_name}"))?;
        let pod: Value = serde_json::from_str(&created)?;
        let dir = self.dir.join(&pod_name);
        std::fs::create_dir_all(&dir)?;
        let process = self
            .start(namespace, &pod, &dir)
            .await
            .with_context(|| format!("starting pod {pod_name}"))?;
        Ok(RunningPod {
            namespace: namespace.to_owned(),
            name: pod_name,
            process,
        })
    }

    async fn start(&self, namespace: &str, pod: &Value, dir: &Path) -> anyhow::Result<Process> {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let spec = &pod["spec"];
        let containers = spec["containers"].as_array().context("containers")?;
        let [container] = containers.as_slice() else {
            bail!(
                "pods of one container only (this one has {})",
                containers.len()
            );
        };
        // Volumes, materialized as directories of this machine.
        let mut volumes = BTreeMap::new();
        for volume in spec["volumes"].as_array().into_iter().flatten() {
            let volume_name = volume["name"].as_str().context("a volume's name")?;
            let path = self
                .volume(
                    namespace,
                    pod,
                    volume,
                    &dir.join("volumes").join(volume_name),
                )
                .await
                .with_context(|| format!("volume {volume_name}"))?;
            volumes.insert(volume_name.to_owned(), path);
        }
        let mut mounts = Vec::new();
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume = mount["name"].as_str().context("a mount's volume")?;
            let source = volumes
                .get(volume)
                .with_context(|| format!("mount of unknown volume {volume}"))?;
            let target = mount["mountPath"].as_str().context("mountPath")?;
            mounts.push((source.clone(), target.to_owned()));
        }
        let hosts = dir.join("hosts");
        let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for host in &self.hosts {
            text.push_str(&format!("127.0.0.1 {host}\n"));
        }
        std::fs::write(&hosts, text)?;
        mounts.push((hosts, "/etc/hosts".into()));

        // The program and its arguments.
        let mut argv: Vec<String> = strings(&container["command"]);
        let program = if argv.is_empty() {
            let image = container["image"].as_str().context("image")?;
            self.program(repository(image))?
        } else {
            let command = argv.remove(0);
            self.program(&command)?
        };
        argv.extend(strings(&container["args"]));

        let mut script = String::from("set -e\n");
        // Mount points missing on the host are made in an overlay of their top directory, so
        // the host's own tree stays as it was.
        let mut overlaid = Vec::new();
        for (_, target) in &mounts {
            let Some(top) = top_to_overlay(Path::new(target)) else {
                continue;
            };
            if overlaid.contains(&top) {
                continue;
            }
            let layer = dir.join("overlay").join(overlaid.len().to_string());
            let (upper, work) = (layer.join("upper"), layer.join("work"));
            std::fs::create_dir_all(&upper)?;
            std::fs::create_dir_all(&work)?;
            script.push_str(&format!(
                "mount -t overlay overlay -o {} {}\n",
                quote(&format!(
                    "lowerdir={},upperdir={},workdir={}",
                    top.display(),
                    upper.display(),
                    work.display()
                ))?,
                quote(&top.display().to_string())?
            ));
            overlaid.push(top);
        }
        for (source, target) in &mounts {
            let (source, target) = (quote(&source.display().to_string())?, quote(target)?);
            if target != "'/etc/hosts'" {
                script.push_str(&format!("mkdir -p {target}\n"));
            }
            script.push_str(&format!("mount --bind {source} {target}\n"));
        }
        script.push_str(&format!("exec {}", quote(&program.display().to_string())?));
        for arg in &argv {
            script.push(' ');
            script.push_str(&quote(arg)?);
        }
        script.push('\n');
        let script_path = dir.join("start.sh");
        std::fs::write(&script_path, script)?;

        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "/bin/sh"])
            .arg(&script_path)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOSTNAME", name)
            .env("KUBERNETES_SERVICE_HOST", &self.kube_host)
            .env("KUBERNETES_SERVICE_PORT", self.kube_port.to_string());
        for (key, value) in self.environment(namespace, pod, container).await? {
            command.env(key, value);
        }
        Process::spawn(command, dir.join("log"))
    }

    /// The directory holding `volume`'s files.
    async fn volume(
        &self,
        namespace: &str,
        pod: &Value,
        volume: &Value,
        path: &Path,
    ) -> anyhow::Result<PathBuf> {
        if let Some(host) = volume["hostPath"]["path"].as_str() {
            return self
                .host_paths
                .get(host)
                .cloned()
                .with_context(|| format!("hostPath {host} is not mapped on this machine"));
        }
        std::fs::create_dir_all(path)?;
        if let Some(secret) = volume["secret"]["secretName"].as_str() {
            for (key, value) in self.secret(namespace, secret).await? {
                std::fs::write(path.join(key), value)?;
            }
        } else if let Some(config_map) = volume["configMap"]["name"].as_str() {
            for (key, value) in self.config_map(namespace, config_map).await? {
                std::fs::write(path.join(key), value)?;
            }
        } else if volume["projected"].is_object() {
            // The service-account volume admission adds: token, ca.crt, namespace.
            let token = self.token(namespace, pod).await?;
            std::fs::write(path.join("token"), token)?;
            std::fs::copy(&self.cluster_ca_file, path.join("ca.crt"))?;
            std::fs::write(path.join("namespace"), namespace)?;
        } else if volume["emptyDir"].is_null() && volume["persistentVolumeClaim"].is_null() {
            bail!("volume kind not supported: {volume}");
        }
        Ok(path.to_path_buf())
    }

    /// The container's environment: `envFrom` first, then `env` (which wins).
    async fn environment(
        &self,
        namespace: &str,
        pod: &Value,
        container: &Value,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let mut env = Vec::new();
        for from in container["envFrom"].as_array().into_iter().flatten() {
            if let Some(name) = from["configMapRef"]["name"].as_str() {
                env.extend(self.config_map(namespace, name).await?);
            } else if let Some(name) = from["secretRef"]["name"].as_str() {
                for (key, value) in self.secret(namespace, name).await? {
                    env.push((key, String::from_utf8(value)?));
                }
            }
        }
        for var in container["env"].as_array().into_iter().flatten() {
            let key = var["name"].as_str().context("env name")?.to_owned();
            let from = &var["valueFrom"];
            let value = if let Some(field) = from["fieldRef"]["fieldPath"].as_str() {
                match field {
                    "spec.nodeName" => pod["spec"]["nodeName"].as_str().unwrap_or("").to_owned(),
                    "metadata.name" => pod["metadata"]["name"].as_str().unwrap_or("").to_owned(),
                    "metadata.namespace" => namespace.to_owned(),
                    "status.podIP" | "status.hostIP" => host_ip().await?,
                    other => bail!("fieldRef {other} not supported"),
                }
            } else if let Some(name) = from["configMapKeyRef"]["name"].as_str() {
                let wanted = from["configMapKeyRef"]["key"].as_str().unwrap_or_default();
                self.config_map(namespace, name)
                    .await?
                    .into_iter()
                    .find(|(k, _)| k == wanted)
                    .map(|(_, v)| v)
                    .with_context(|| format!("configMap {name} has no key {wanted}"))?
            } else if let Some(name) = from["secretKeyRef"]["name"].as_str() {
                let wanted = from["secretKeyRef"]["key"].as_str().unwrap_or_default();
                let value = self
                    .secret(namespace, name)
                    .await?
                    .into_iter()
                    .find(|(k, _)| k == wanted)
                    .map(|(_, v)| v)
                    .with_context(|| format!("secret {name} has no key {wanted}"))?;
                String::from_utf8(value)?
            } else {
                var["value"].as_str().unwrap_or_default().to_owned()
            };
            env.push((key, value));
        }
        Ok(env)
    }

    /// A token for the pod's service account, bound to the pod (and so to its node).
    async fn token(&self, namespace: &str, pod: &Value) -> anyhow::Result<String> {
        let account = pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default");
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
        let token = self
            .kubectl
            .run(&[
                "create",
                "token",
                account,
                "-n",
                namespace,
                "--bound-object-kind=Pod",
                &format!("--bound-object-name={name}"),
                &format!("--bound-object-uid={uid}"),
                "--duration=1h",
            ])
            .await?;
        Ok(token.trim().to_owned())
    }

    async fn secret(&self, namespace: &str, name: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let secret = self
            .get_json(&["get", "secret", name, "-n", namespace])
            .await?;
        let mut out = Vec::new();
        for (key, value) in secret["data"].as_object().into_iter().flatten() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.as_str().unwrap_or_default())
                .with_context(|| format!("secret {name} key {key}"))?;
            out.push((key.clone(), bytes));
        }
        Ok(out)
    }

    async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let map = self
            .get_json(&["get", "configmap", name, "-n", namespace])
            .await?;
        Ok(map["data"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect())
    }

    async fn get_json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        Ok(serde_json::from_str(&self.kubectl.run(&args).await?)?)
    }

    fn program(&self, name: &str) -> anyhow::Result<PathBuf> {
        self.programs
            .get(name)
            .cloned()
            .with_context(|| format!("no program on this machine stands for {name}"))
    }
}

/// For a mount point that does not exist on the host: the top directory (after symlinks,
/// e.g. `/run` for `/var/run/secrets/...`) of its deepest existing ancestor, where an overlay
/// takes the directories made for it.
fn top_to_overlay(target: &Path) -> Option<PathBuf> {
    if target.exists() {
        return None;
    }
    let existing = target.ancestors().find(|a| a.exists())?;
    let real = existing.canonicalize().ok()?;
    let mut components = real.components();
    let root = components.next()?;
    let first = components.next()?;
    Some(Path::new(root.as_os_str()).join(first.as_os_str()))
}

/// This machine's first global IPv4 address (`ip -4 -o addr show scope global`): the pods'
/// IP, since Kubernetes refuses loopback addresses in endpoints.
pub async fn host_ip() -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .await
        .context("running `ip` (Debian iproute2)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|word| *word != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .map(str::to_owned)
        .context("this machine has no global IPv4 address for the pods")
}

/// `registry.k8s.io/etcd` of `registry.k8s.io/etcd:3.5.21-0` (or of `...@sha256:...`).
fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `text` in single quotes for sh.
fn quote(text: &str) -> anyhow::Result<String> {
    if text.contains('\'') {
        bail!("{text:?} contains a single quote");
    }
    Ok(format!("'{text}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_mount_points_get_an_overlay_of_their_real_top_directory() {
        assert_eq!(top_to_overlay(Path::new("/tmp")), None);
        assert_eq!(
            top_to_overlay(Path::new("/etc/prepull-test-missing/tls")),
            Some(PathBuf::from("/etc"))
        );
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        assert_eq!(
            top_to_overlay(&link.join("prepull-test-missing")),
            Some(PathBuf::from("/etc"))
        );
    }

    #[test]
    fn the_repository_drops_the_tag_or_digest_not_a_port() {
        assert_eq!(
            repository("registry.k8s.io/etcd:3.5.21-0"),
            "registry.k8s.io/etcd"
        );
        assert_eq!(repository("localhost:5000/a/b"), "localhost:5000/a/b");
        assert_eq!(repository("localhost:5000/a/b:v1"), "localhost:5000/a/b");
        assert_eq!(repository("ghcr.io/x/y@sha256:00"), "ghcr.io/x/y");
    }
}
