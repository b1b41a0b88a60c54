//! Node-level registry credentials from a docker `config.json`, matched to images the way
//! kubelet matches them: registry host (with `*` globs inside one dot-separated label), equal
//! port, and the entry's path a prefix of the image's repository path. More specific entries
//! are tried first.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prepull_api::reference::ImageReference;
use serde::Deserialize;

/// Docker Hub's names; an entry for any of them matches `docker.io` images.
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A user name and password for one registry. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password (or token).
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a docker config could not be used. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum DockerConfigError {
    /// The file could not be read.
    #[error("reading the docker config {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a docker config.json (or legacy .dockercfg).
    #[error("the docker config is not valid JSON of the expected shape: {0}")]
    Parse(String),
    /// An entry's `auth` is not base64 of `user:password`.
    #[error("the docker config entry for {registry} has an invalid `auth` field")]
    BadAuth {
        /// The entry's key.
        registry: String,
    },
}

/// The credentials of a docker config, ready to match images.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    /// Sorted most specific first (kubelet sorts its schemeless keys in reverse order).
    entries: Vec<(RegistryPattern, Credential)>,
}

#[derive(Deserialize)]
struct ConfigJson {
    auths: Option<BTreeMap<String, AuthEntry>>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

impl DockerConfig {
    /// Reads `path` (a `config.json` with `auths`, or a legacy `.dockercfg` map).
    pub fn load(path: &Path) -> Result<DockerConfig, DockerConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| DockerConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        DockerConfig::parse(&text)
    }

    /// Parses a `config.json` (`{"auths": {...}}`) or legacy `.dockercfg` (the map itself).
    pub fn parse(text: &str) -> Result<DockerConfig, DockerConfigError> {
        // Errors from serde may quote input: report only where it failed.
        let location = |err: serde_json::Error| {
            DockerConfigError::Parse(format!("line {} column {}", err.line(), err.column()))
        };
        let config: ConfigJson = serde_json::from_str(text).map_err(location)?;
        let auths = match config.auths {
            Some(auths) => auths,
            None => serde_json::from_str(text).map_err(location)?,
        };
        let mut entries = Vec::new();
        for (key, entry) in auths {
            let credential = credential(&key, entry)?;
            let pattern = RegistryPattern::parse(&key);
            let order = format!("{}:{}/{}", pattern.host, pattern.port, pattern.path);
            entries.push((pattern, credential, order));
        }
        entries.sort_by(|a, b| b.2.cmp(&a.2));
        Ok(DockerConfig {
            entries: entries
                .into_iter()
                .map(|(pattern, credential, _)| (pattern, credential))
                .collect(),
        })
    }

    /// Every credential whose entry matches `image` (a name without tag or digest, e.g.
    /// `127.0.0.1:5000/team/app`), most specific first.
    pub fn matching(&self, image: &str) -> Vec<Credential> {
        let Some(target) = ImageLocation::parse(image) else {
            return Vec::new();
        };
        self.entries
            .iter()
            .filter(|(pattern, _)| pattern.matches(&target))
            .map(|(_, credential)| credential.clone())
            .collect()
    }

    /// Whether the config holds no credentials.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn credential(key: &str, entry: AuthEntry) -> Result<Credential, DockerConfigError> {
    if entry.auth.is_empty() {
        return Ok(Credential {
            username: entry.username,
            password: entry.password,
        });
    }
    let bad = || DockerConfigError::BadAuth {
        registry: key.to_owned(),
    };
    let decoded = STANDARD.decode(entry.auth.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (username, password) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Credential {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// Host, port and repository path of an image.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ImageLocation {
    host: String,
    port: String,
    path: String,
}

impl ImageLocation {
    /// `host[:port]`, the cache key of a Registry-scoped provider answer.
    pub(crate) fn registry(&self) -> String {
        if self.port.is_empty() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(crate) fn parse(image: &str) -> Option<ImageLocation> {
        let reference = ImageReference::parse(image).ok()?;
        let (host, port) = split_port(reference.domain());
        Some(ImageLocation {
            host: canonical_host(host),
            port: port.to_owned(),
            path: reference.path().to_owned(),
        })
    }
}

/// A docker config key: `[scheme://]host[:port][/path]`, the host possibly with `*` globs.
#[derive(Debug, Clone)]
pub(crate) struct RegistryPattern {
    host: String,
    port: String,
    path: String,
}

impl RegistryPattern {
    pub(crate) fn parse(key: &str) -> RegistryPattern {
        let key = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        let (host_port, path) = key.split_once('/').unwrap_or((key, ""));
        let (host, port) = split_port(host_port);
        let host = canonical_host(host);
        let mut path = path.trim_end_matches('/').to_owned();
        // `https://index.docker.io/v1/` is Docker Hub's classic key, not a repository path.
        if host == "docker.io" && path == "v1" {
            path.clear();
        }
        RegistryPattern {
            host,
            port: port.to_owned(),
            path,
        }
    }

    pub(crate) fn matches(&self, image: &ImageLocation) -> bool {
        host_matches(&self.host, &image.host)
            && self.port == image.port
            && image.path.starts_with(&self.path)
    }
}

fn split_port(host_port: &str) -> (&str, &str) {
    match host_port.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, port)
        }
        _ => (host_port, ""),
    }
}

fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    if DOCKER_HUB_HOSTS.contains(&host.as_str()) {
        "docker.io".to_owned()
    } else {
        host
    }
}

/// Host globs: the same number of dot-separated labels, `*` matching within one label.
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    let patterns: Vec<&str> = pattern.split('.').collect();
    let labels: Vec<&str> = host.split('.').collect();
    patterns.len() == labels.len()
        && patterns
            .iter()
            .zip(&labels)
            .all(|(pattern, label)| label_matches(pattern.as_bytes(), label.as_bytes()))
}

/// `*` matches any run of characters (dots never reach here); everything else itself.
fn label_matches(pattern: &[u8], label: &[u8]) -> bool {
    match pattern.split_first() {
        None => label.is_empty(),
        Some((b'*', rest)) => (0..=label.len()).any(|skip| label_matches(rest, &label[skip..])),
        Some((c, rest)) => label
            .split_first()
            .is_some_and(|(l, label_rest)| l == c && label_matches(rest, label_rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        DockerConfig::parse(json).expect("valid config")
    }

    #[test]
    fn an_auth_field_is_decoded_into_user_and_password() {
        let auth = STANDARD.encode("alice:s3cret");
        let config = config(&format!(
            r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#
        ));
        assert_eq!(
            config.matching("127.0.0.1:5000/team/app"),
            vec![Credential {
                username: "alice".into(),
                password: "s3cret".into()
            }]
        );
    }

    #[test]
    fn the_port_must_be_equal() {
        let config = config(r#"{"auths":{"127.0.0.1:5000":{"username":"a","password":"b"}}}"#);
        assert!(config.matching("127.0.0.1:5001/team/app").is_empty());
        assert!(config.matching("127.0.0.1/team/app").is_empty());
    }

    #[test]
    fn the_entry_path_is_a_prefix_of_the_repository() {
        let config = config(
            r#"{"auths":{"https://reg.example.com/team":{"username":"team","password":"p"},
                         "reg.example.com":{"username":"any","password":"p"}}}"#,
        );
        let users = |image: &str| -> Vec<String> {
            config
                .matching(image)
                .into_iter()
                .map(|c| c.username)
                .collect()
        };
        assert_eq!(users("reg.example.com/team/app"), ["team", "any"]);
        assert_eq!(users("reg.example.com/other/app"), ["any"]);
    }

    #[test]
    fn a_glob_matches_within_one_label_only() {
        let config = config(r#"{"auths":{"*.example.com":{"username":"u","password":"p"}}}"#);
        assert_eq!(config.matching("reg.example.com/app").len(), 1);
        assert!(config.matching("a.reg.example.com/app").is_empty());
        assert!(config.matching("example.com/app").is_empty());
    }

    #[test]
    fn docker_hub_keys_match_docker_hub_images() {
        let config =
            config(r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}"#);
        assert_eq!(config.matching("nginx").len(), 1);
        assert_eq!(config.matching("docker.io/library/nginx").len(), 1);
        assert!(config.matching("quay.io/nginx").is_empty());
    }

    #[test]
    fn a_legacy_dockercfg_map_is_read_too() {
        let config = config(r#"{"quay.io":{"username":"u","password":"p"}}"#);
        assert_eq!(config.matching("quay.io/org/app").len(), 1);
    }

    #[test]
    fn the_debug_form_hides_the_password() {
        let credential = Credential {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credential:?}").contains("hunter2"));
    }

    #[test]
    fn a_parse_error_does_not_quote_the_file() {
        let err = DockerConfig::parse(r#"{"auths": {"x": {"auth": 12345678}}}"#).unwrap_err();
        assert!(!err.to_string().contains("12345678"), "{err}");
    }
}
