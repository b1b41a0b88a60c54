//! Space available on the data directory's filesystem: after a full disk, what decides that
//! writes are worth trying again.

use std::path::Path;

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`; `None` when
/// the filesystem cannot say.
pub(super) fn available_bytes(dir: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_directory_reports_some_space() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available_bytes(dir.path()).is_some_and(|bytes| bytes > 0));
        assert_eq!(available_bytes(&dir.path().join("missing")), None);
    }
}
