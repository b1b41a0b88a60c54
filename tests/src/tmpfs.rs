//! A small tmpfs of the test's own, to fill a disk for real: a store's data directory on it
//! meets `ENOSPC` exactly as on a full production disk. Mounting needs root (the tests run as
//! root here and in CI). Unmounted when dropped, also when the test panics.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

/// A mounted tmpfs of a fixed size.
#[derive(Debug)]
pub struct Tmpfs {
    // Dropped after the unmount in `Drop`, removing the (then empty) mount point.
    dir: TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_bytes` on a new temp dir.
    pub fn mount(size_bytes: u64) -> Result<Tmpfs> {
        let dir = tempfile::tempdir().context("mount point")?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_bytes}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .context("running mount")?;
        if !output.status.success() {
            bail!(
                "mount -t tmpfs failed (the disk-full tests need root): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Tmpfs { dir })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Changes the size of the mounted filesystem (growing it frees space without deleting
    /// anything).
    pub fn resize(&self, size_bytes: u64) -> Result<()> {
        let output = Command::new("mount")
            .args(["-o", &format!("remount,size={size_bytes}")])
            .arg(self.path())
            .output()
            .context("running mount -o remount")?;
        if !output.status.success() {
            bail!(
                "remounting the tmpfs failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Writes the file `name` until the filesystem is full. Returns its path and how many bytes
    /// it holds; removing it frees them.
    pub fn fill(&self, name: &str) -> Result<(PathBuf, u64)> {
        let path = self.path().join(name);
        let mut file = File::create(&path).with_context(|| format!("creating {name}"))?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(err) if err.kind() == ErrorKind::StorageFull => break,
                Err(err) => return Err(err).context("filling the tmpfs"),
            }
        }
        // A partial last page: write byte by byte until the very end of the space.
        while let Ok(1) = file.write(&chunk[..1]) {
            written += 1;
        }
        Ok((path, written))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            // Something still has a file open there (a test that failed half way): detach it
            // now, the kernel frees it when the last file closes.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}
