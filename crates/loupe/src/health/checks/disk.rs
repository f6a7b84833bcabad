//! A disk-space check.

use crate::common::error::ConfigError;
use crate::health::check::{CheckFuture, CheckResult, HealthCheck};
use std::path::{Path, PathBuf};

/// Healthy while the file system holding a path has at least a minimum of free space, in
/// bytes, in percent of its size, or both (what 002's `check-disk-space --threshold 90`
/// script does, without a script).
///
/// Free space is what an unprivileged process may still use (`f_bavail`), so the blocks
/// reserved for root count as used.
///
/// ```
/// use loupe::health::DiskSpaceCheck;
///
/// let check = DiskSpaceCheck::builder("/var/lib/clusterdb")
///     .min_free_percent(10.0)
///     .min_free_bytes(5 << 30)
///     .build()?;
/// # let _ = check;
/// # Ok::<(), loupe::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DiskSpaceCheck {
    path: PathBuf,
    min_free_bytes: Option<u64>,
    min_free_percent: Option<f64>,
}

/// Builds a [`DiskSpaceCheck`].
#[derive(Clone, Debug)]
#[must_use]
pub struct DiskSpaceCheckBuilder {
    path: PathBuf,
    min_free_bytes: Option<u64>,
    min_free_percent: Option<f64>,
}

impl DiskSpaceCheck {
    /// A check of the file system that holds `path`. Without a threshold, at least 10 %
    /// must be free.
    pub fn builder(path: impl Into<PathBuf>) -> DiskSpaceCheckBuilder {
        DiskSpaceCheckBuilder {
            path: path.into(),
            min_free_bytes: None,
            min_free_percent: None,
        }
    }
}

impl DiskSpaceCheckBuilder {
    /// Unhealthy when fewer bytes than this are free.
    pub fn min_free_bytes(mut self, bytes: u64) -> Self {
        self.min_free_bytes = Some(bytes);
        self
    }

    /// Unhealthy when less than this percentage (0 to 100) of the file system is free.
    pub fn min_free_percent(mut self, percent: f64) -> Self {
        self.min_free_percent = Some(percent);
        self
    }

    /// Checks the settings and builds the check.
    pub fn build(self) -> Result<DiskSpaceCheck, ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::new(
                "path",
                "\"\"",
                "a path on the file system to check",
            ));
        }
        if let Some(percent) = self.min_free_percent {
            if !(0.0..=100.0).contains(&percent) {
                return Err(ConfigError::new(
                    "min_free_percent",
                    percent,
                    "a number from 0 to 100",
                ));
            }
        }
        let min_free_percent = match (self.min_free_bytes, self.min_free_percent) {
            (None, None) => Some(10.0),
            (_, percent) => percent,
        };
        Ok(DiskSpaceCheck {
            path: self.path,
            min_free_bytes: self.min_free_bytes,
            min_free_percent,
        })
    }
}

/// A file system's size and free space.
#[derive(Clone, Copy, Debug)]
struct Space {
    total: u64,
    available: u64,
}

impl DiskSpaceCheck {
    fn judge(&self, space: Space) -> CheckResult {
        let percent = if space.total == 0 {
            0.0
        } else {
            space.available as f64 * 100.0 / space.total as f64
        };
        let summary = format!(
            "{}: {} free of {} ({percent:.1}%)",
            self.path.display(),
            human_bytes(space.available),
            human_bytes(space.total)
        );
        if let Some(min) = self.min_free_bytes {
            if space.available < min {
                return CheckResult::unhealthy(format!(
                    "{summary}, below the minimum of {}",
                    human_bytes(min)
                ));
            }
        }
        if let Some(min) = self.min_free_percent {
            if percent < min {
                return CheckResult::unhealthy(format!("{summary}, below the minimum of {min}%"));
            }
        }
        CheckResult::healthy().with_message(summary)
    }
}

impl HealthCheck for DiskSpaceCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            // statvfs can block on a network file system: keep it off the I/O thread.
            let path = self.path.clone();
            match tokio::task::spawn_blocking(move || space(&path)).await {
                Ok(Ok(space)) => self.judge(space),
                Ok(Err(e)) => CheckResult::unhealthy(format!(
                    "cannot read the free space of {}: {e}",
                    self.path.display()
                )),
                Err(_) => CheckResult::unhealthy("the disk-space probe panicked"),
            }
        })
    }
}

#[cfg(unix)]
// The statvfs field types differ between platforms (u32 on some, u64 on others).
#[allow(clippy::useless_conversion)]
fn space(path: &Path) -> std::io::Result<Space> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: statvfs only writes into `stats`, a plain C struct for which all-zero bytes
    // are valid, and reads the NUL-terminated path, which outlives the call.
    let stats = unsafe {
        let mut stats: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut stats) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stats
    };
    let fragment = u64::from(stats.f_frsize);
    Ok(Space {
        total: u64::from(stats.f_blocks).saturating_mul(fragment),
        available: u64::from(stats.f_bavail).saturating_mul(fragment),
    })
}

#[cfg(not(unix))]
fn space(_path: &Path) -> std::io::Result<Space> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "disk-space checks need statvfs, which only Unix systems have",
    ))
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `12.3 GiB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
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

    #[test]
    fn thresholds_in_bytes_and_percent_are_both_applied() {
        let space = Space {
            total: 100 << 30,
            available: 8 << 30,
        };
        let percent = DiskSpaceCheck::builder("/data").build().unwrap();
        let result = percent.judge(space);
        assert!(!result.is_healthy());
        assert_eq!(
            result.message(),
            Some("/data: 8.0 GiB free of 100.0 GiB (8.0%), below the minimum of 10%")
        );
        let bytes = DiskSpaceCheck::builder("/data")
            .min_free_bytes(5 << 30)
            .build()
            .unwrap();
        assert!(bytes.judge(space).is_healthy());
        let both = DiskSpaceCheck::builder("/data")
            .min_free_bytes(10 << 30)
            .min_free_percent(5.0)
            .build()
            .unwrap();
        assert!(both.judge(space).message().unwrap().contains("10.0 GiB"));
    }

    #[test]
    fn bad_thresholds_name_the_field() {
        for bad in [-1.0, 100.5, f64::NAN] {
            let err = DiskSpaceCheck::builder("/")
                .min_free_percent(bad)
                .build()
                .unwrap_err();
            assert_eq!(err.field, "min_free_percent");
        }
        assert_eq!(
            DiskSpaceCheck::builder("").build().unwrap_err().field,
            "path"
        );
    }

    #[test]
    fn sizes_read_like_df_h() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }

    #[cfg(unix)]
    #[test]
    fn the_root_file_system_has_a_size() {
        let root = space(Path::new("/")).unwrap();
        assert!(root.total > 0 && root.available <= root.total);
        assert!(space(Path::new("/no/such/dir")).is_err());
    }
}
