//! Disk safety: a pull is not started, or is cancelled, when the image filesystem is (or would
//! go) below a reserve of free space, so pre-pulls never push a node into kubelet's
//! disk-pressure eviction. The tag fails with a message that says so (`image filesystem
//! /var/lib/... has 1.2 GiB free, below the 15% reserve`), the failure is counted in
//! `/metrics`, and it is not retried (retrying into a full disk only fills it further).
//!
//! The image filesystem is the one the runtime names in CRI `ImageFsInfo` (containerd: its
//! snapshotter's directory); the agent reads its free space with `statvfs`, so the agent must
//! see that path (in a pod: a hostPath mount at the same path). When it cannot (the runtime
//! names none, or the path is not visible), the check is skipped with a warning.
//!
//! Before a pull: free space below the reserve refuses it. While a pull runs (containerd only,
//! every 0.5 s with the byte progress): free space minus the bytes its downloads still expect
//! below the reserve cancels it, which keeps the filesystem above the reserve for the
//! downloads themselves (unpacking needs more, which the next pull's check sees).
//!
//! The reserve is `--disk-reserve-percent` (default 15, as kubelet's `imagefs.available`
//! eviction threshold; 0 turns the check off).

use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use crate::image_runtime::ImageRuntime;

/// The reserve when the flag does not say otherwise, in percent of the filesystem's size.
pub const DEFAULT_RESERVE_PERCENT: u8 = 15;

/// The image filesystem is, or would go, below the reserve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BelowReserve {
    /// Below the reserve now.
    #[error("image filesystem {} has {} free, below the {percent}% reserve", .path.display(), human(*.free))]
    Now {
        /// The filesystem's mountpoint.
        path: PathBuf,
        /// Bytes available.
        free: u64,
        /// The reserve.
        percent: u8,
    },
    /// The pull's downloads would take it below the reserve.
    #[error(
        "image filesystem {} has {} free and this pull's downloads need {} more, which would go below the {percent}% reserve",
        .path.display(), human(*.free), human(*.pending)
    )]
    WouldCross {
        /// The filesystem's mountpoint.
        path: PathBuf,
        /// Bytes available.
        free: u64,
        /// Bytes the downloads still expect.
        pending: u64,
        /// The reserve.
        percent: u8,
    },
}

/// Free and total bytes of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
    /// The filesystem's size.
    pub total: u64,
}

/// The space of the filesystem holding `path`; `None` when it cannot be read.
pub fn space(path: &Path) -> Option<Space> {
    let stats = rustix::fs::statvfs(path).ok()?;
    Some(Space {
        free: stats.f_bavail.saturating_mul(stats.f_frsize),
        total: stats.f_blocks.saturating_mul(stats.f_frsize),
    })
}

/// Whether `space` keeps `percent` free after `pending` more bytes.
pub fn check(path: &Path, space: Space, pending: u64, percent: u8) -> Result<(), BelowReserve> {
    let reserve = u128::from(space.total) * u128::from(percent) / 100;
    let free = u128::from(space.free);
    if free < reserve {
        return Err(BelowReserve::Now {
            path: path.to_owned(),
            free: space.free,
            percent,
        });
    }
    if free.saturating_sub(u128::from(pending)) < reserve {
        return Err(BelowReserve::WouldCross {
            path: path.to_owned(),
            free: space.free,
            pending,
            percent,
        });
    }
    Ok(())
}

/// The reserve of one node's image filesystem.
#[derive(Debug)]
pub struct DiskReserve {
    percent: u8,
    /// The mountpoint, once the runtime named one (`None` inside: it names none).
    filesystem: OnceCell<Option<PathBuf>>,
}

impl DiskReserve {
    /// A reserve of `percent` (0: no check).
    pub fn new(percent: u8) -> DiskReserve {
        DiskReserve {
            percent,
            filesystem: OnceCell::new(),
        }
    }

    /// Looks the image filesystem up (once) and checks it before a pull. `Ok` also when it
    /// cannot be checked.
    pub async fn before_pull(&self, runtime: &ImageRuntime) -> Result<(), BelowReserve> {
        if self.percent == 0 {
            return Ok(());
        }
        let filesystem = self
            .filesystem
            .get_or_try_init(|| async {
                let found = runtime.image_filesystem().await;
                if let Ok(None) = &found {
                    tracing::warn!("the runtime names no image filesystem; no disk reserve check");
                }
                found.map(|mountpoint| mountpoint.map(PathBuf::from))
            })
            .await;
        match filesystem {
            Ok(Some(_)) => self.during_pull(0),
            Ok(None) => Ok(()),
            Err(err) => {
                tracing::warn!(%err, "ImageFsInfo failed; pulling without a disk reserve check");
                Ok(())
            }
        }
    }

    /// Checks the image filesystem (as [`DiskReserve::before_pull`] found it) with `pending`
    /// bytes still to arrive.
    pub fn during_pull(&self, pending: u64) -> Result<(), BelowReserve> {
        let Some(Some(path)) = self.filesystem.get() else {
            return Ok(());
        };
        if self.percent == 0 {
            return Ok(());
        }
        match space(path) {
            Some(space) => check(path, space, pending, self.percent),
            None => {
                tracing::warn!(path = %path.display(), "cannot read the image filesystem's free space");
                Ok(())
            }
        }
    }
}

/// `bytes` in binary units with one decimal (`1.2 GiB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn below_the_reserve_the_message_names_the_filesystem_its_free_space_and_the_reserve() {
        let space = Space {
            free: GIB + GIB / 5,
            total: 20 * GIB,
        };
        let err = check(Path::new("/var/lib/containerd"), space, 0, 15).expect_err("below");
        assert_eq!(
            err.to_string(),
            "image filesystem /var/lib/containerd has 1.2 GiB free, below the 15% reserve"
        );
    }

    #[test]
    fn downloads_that_would_cross_the_reserve_are_refused_and_those_that_fit_are_not() {
        let space = Space {
            free: 4 * GIB,
            total: 20 * GIB,
        };
        let path = Path::new("/d");
        assert_eq!(check(path, space, GIB, 15), Ok(()));
        let err = check(path, space, 2 * GIB, 15).expect_err("would cross");
        assert!(matches!(err, BelowReserve::WouldCross { .. }), "{err}");
        assert!(err.to_string().contains("need 2.0 GiB more"), "{err}");
        assert_eq!(check(path, space, 100 * GIB, 0), Ok(()));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn a_real_directory_has_space_and_a_missing_one_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(space(dir.path()).is_some_and(|s| s.total >= s.free && s.total > 0));
        assert_eq!(space(&dir.path().join("missing")), None);
    }
}
