//! The `--docker-config` file, re-read when it changes: new credentials apply from the next
//! pull on, without restarting the agent (kubelet's `config.json` is rewritten in place by
//! node tooling).
//!
//! Before each pull the file's modification time, size and inode are compared with those of
//! the last read; when any differs the file is read again. A file that became unreadable or
//! invalid keeps the last good credentials (and says so in the log, once per change).

use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::docker_config::{Credential, DockerConfig, DockerConfigError};

/// What identifies one version of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode: metadata.ino(),
    })
}

#[derive(Debug)]
struct Loaded {
    stamp: Option<Stamp>,
    config: DockerConfig,
}

/// Node-level credentials, from a file that may change (or none at all).
#[derive(Debug)]
pub struct DockerConfigFile {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
}

impl DockerConfigFile {
    /// Reads `path` now (an unusable file at startup is a configuration error).
    pub fn load(path: &Path) -> Result<DockerConfigFile, DockerConfigError> {
        let stamp = stamp(path);
        let config = DockerConfig::load(path)?;
        Ok(DockerConfigFile {
            path: Some(path.to_owned()),
            loaded: Mutex::new(Loaded { stamp, config }),
        })
    }

    /// No file: no node-level credentials.
    pub fn none() -> DockerConfigFile {
        DockerConfigFile {
            path: None,
            loaded: Mutex::new(Loaded {
                stamp: None,
                config: DockerConfig::default(),
            }),
        }
    }

    /// The credentials matching `image` (see [`DockerConfig::matching`]) in the file as it is
    /// now, reading it again first if it changed.
    pub fn matching(&self, image: &str) -> Vec<Credential> {
        let mut loaded = self.loaded.lock();
        if let Some(path) = &self.path {
            let now = stamp(path);
            if now != loaded.stamp {
                loaded.stamp = now;
                match DockerConfig::load(path) {
                    Ok(config) => {
                        tracing::info!(path = %path.display(), "docker config changed; reloaded");
                        loaded.config = config;
                    }
                    Err(err) => tracing::warn!(
                        path = %path.display(), %err,
                        "docker config changed but cannot be used; keeping the previous credentials"
                    ),
                }
            }
        }
        loaded.config.matching(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "reg.example:5000/app";

    fn write(path: &Path, user: &str) {
        let text = format!(
            r#"{{"auths": {{"reg.example:5000": {{"username": "{user}", "password": "pw"}}}}}}"#
        );
        // Through a rename, as tools that rewrite config files do (a new inode).
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, text).expect("write");
        std::fs::rename(&temp, path).expect("rename");
    }

    fn users(file: &DockerConfigFile) -> Vec<String> {
        file.matching(IMAGE)
            .into_iter()
            .map(|c| c.username)
            .collect()
    }

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_good_credentials() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.json");
        write(&path, "first");
        let file = DockerConfigFile::load(&path).expect("valid");
        assert_eq!(users(&file), ["first"]);
        write(&path, "second");
        assert_eq!(users(&file), ["second"]);
        std::fs::write(&path, "{not json").expect("write");
        assert_eq!(users(&file), ["second"]);
    }

    #[test]
    fn without_a_file_nothing_matches() {
        assert!(DockerConfigFile::none().matching(IMAGE).is_empty());
    }
}
