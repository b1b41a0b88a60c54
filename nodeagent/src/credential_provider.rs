//! kubelet credential-provider exec plugins (`CredentialProviderConfig`,
//! `kubelet.config.k8s.io/v1`): for an image matching a provider's `matchImages`, the plugin
//! binary gets a `CredentialProviderRequest` on stdin and answers a
//! `CredentialProviderResponse` on stdout within one minute; answers are cached per
//! `cacheKeyType` (Image, Registry or Global) for `cacheDuration` (else the provider's
//! `defaultCacheDuration`). Credentials never reach the logs.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::docker_config::{Credential, ImageLocation, RegistryPattern};

/// How long a plugin may run.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the provider config is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ProviderConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a CredentialProviderConfig.
    #[error("parsing the credential provider config: {0}")]
    Parse(String),
    /// A duration field is not a Go duration such as `1m30s`.
    #[error("provider {provider}: {value:?} is not a duration")]
    Duration {
        /// The provider.
        provider: String,
        /// The value.
        value: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    providers: Vec<ProviderSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderSpec {
    name: String,
    #[serde(default)]
    match_images: Vec<String>,
    #[serde(default)]
    default_cache_duration: Option<String>,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<EnvVar>,
}

#[derive(Debug, Clone, Deserialize)]
struct EnvVar {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    cache_key_type: String,
    #[serde(default)]
    cache_duration: Option<String>,
    #[serde(default)]
    auth: BTreeMap<String, ResponseAuth>,
}

#[derive(Deserialize)]
struct ResponseAuth {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Debug)]
struct CachedAnswer {
    key: String,
    expires: Instant,
    auth: Vec<(RegistryPattern, Credential)>,
}

#[derive(Debug)]
struct Provider {
    spec: ProviderSpec,
    patterns: Vec<RegistryPattern>,
    default_cache: Duration,
    cache: Mutex<Vec<CachedAnswer>>,
}

/// The configured plugins.
#[derive(Debug, Default)]
pub struct CredentialProviders {
    bin_dir: PathBuf,
    providers: Vec<Provider>,
}

impl CredentialProviders {
    /// Loads `config` (YAML or JSON); plugin binaries are looked up in `bin_dir`.
    pub fn load(config: &Path, bin_dir: &Path) -> Result<CredentialProviders, ProviderConfigError> {
        let text = std::fs::read_to_string(config).map_err(|source| ProviderConfigError::Read {
            path: config.display().to_string(),
            source,
        })?;
        let file: ConfigFile = serde_norway::from_str(&text)
            .map_err(|err| ProviderConfigError::Parse(err.to_string()))?;
        let mut providers = Vec::new();
        for spec in file.providers {
            let default_cache = match &spec.default_cache_duration {
                Some(value) => go_duration(value).ok_or_else(|| ProviderConfigError::Duration {
                    provider: spec.name.clone(),
                    value: value.clone(),
                })?,
                None => Duration::ZERO,
            };
            providers.push(Provider {
                patterns: spec
                    .match_images
                    .iter()
                    .map(|m| RegistryPattern::parse(m))
                    .collect(),
                spec,
                default_cache,
                cache: Mutex::new(Vec::new()),
            });
        }
        Ok(CredentialProviders {
            bin_dir: bin_dir.to_path_buf(),
            providers,
        })
    }

    /// Credentials the matching plugins give for `reference` (a full image reference), in
    /// provider order. A failing plugin is logged (never its output) and skipped.
    pub async fn credentials(&self, reference: &str) -> Vec<Credential> {
        let Some(location) = ImageLocation::parse(reference) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for provider in &self.providers {
            if !provider.patterns.iter().any(|p| p.matches(&location)) {
                continue;
            }
            match provider.answer(&self.bin_dir, reference, &location).await {
                Ok(auth) => found.extend(
                    auth.into_iter()
                        .filter(|(pattern, _)| pattern.matches(&location))
                        .map(|(_, credential)| credential),
                ),
                Err(err) => {
                    tracing::warn!(provider = %provider.spec.name, err, "credential provider failed");
                }
            }
        }
        found
    }
}

impl Provider {
    async fn answer(
        &self,
        bin_dir: &Path,
        reference: &str,
        location: &ImageLocation,
    ) -> Result<Vec<(RegistryPattern, Credential)>, String> {
        let now = Instant::now();
        {
            let mut cache = self.cache.lock();
            cache.retain(|answer| answer.expires > now);
            let keys = [reference.to_owned(), location.registry(), String::new()];
            if let Some(answer) = cache.iter().find(|answer| keys.contains(&answer.key)) {
                return Ok(answer.auth.clone());
            }
        }
        let response = self.exec(bin_dir, reference).await?;
        let auth: Vec<_> = response
            .auth
            .into_iter()
            .map(|(key, auth)| {
                (
                    RegistryPattern::parse(&key),
                    Credential {
                        username: auth.username,
                        password: auth.password,
                    },
                )
            })
            .collect();
        let duration = match &response.cache_duration {
            Some(value) => go_duration(value).ok_or("invalid cacheDuration in the response")?,
            None => self.default_cache,
        };
        let key = match response.cache_key_type.as_str() {
            "Image" => reference.to_owned(),
            "Registry" => location.registry(),
            "Global" => String::new(),
            other => return Err(format!("unknown cacheKeyType {other:?}")),
        };
        if !duration.is_zero() {
            self.cache.lock().push(CachedAnswer {
                key,
                expires: now + duration,
                auth: auth.clone(),
            });
        }
        Ok(auth)
    }

    async fn exec(&self, bin_dir: &Path, reference: &str) -> Result<Response, String> {
        let request = serde_json::json!({
            "kind": "CredentialProviderRequest",
            "apiVersion": self.spec.api_version,
            "image": reference,
        });
        let mut child = tokio::process::Command::new(bin_dir.join(&self.spec.name))
            .args(&self.spec.args)
            .envs(self.spec.env.iter().map(|e| (&e.name, &e.value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("starting the plugin: {err}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let run = async move {
            stdin
                .write_all(request.to_string().as_bytes())
                .await
                .map_err(|err| format!("writing the request: {err}"))?;
            drop(stdin);
            child
                .wait_with_output()
                .await
                .map_err(|err| format!("running the plugin: {err}"))
        };
        let output = tokio::time::timeout(EXEC_TIMEOUT, run)
            .await
            .map_err(|_| format!("the plugin did not answer within {EXEC_TIMEOUT:?}"))??;
        if !output.status.success() {
            return Err(format!("the plugin exited with {}", output.status));
        }
        // Never quote the output: it holds the secret.
        serde_json::from_slice(&output.stdout)
            .map_err(|err| format!("invalid response at column {}", err.column()))
    }
}

/// A Go duration such as `1h2m3s`, `5m`, `10s`, `500ms` or `0`.
fn go_duration(value: &str) -> Option<Duration> {
    if value == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = value;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += Duration::from_secs_f64(number * seconds);
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(go_duration("0"), Some(Duration::ZERO));
        assert_eq!(go_duration("5 minutes"), None);
    }
}
