//! A log sink that writes to a file, rotating it by size. How rotation behaves is
//! documented on [`FileSink`], where users see it.

use super::format::LogFormat;
use super::sink::{LogSink, SinkContext};
use super::LogRecord;
use crate::common::error::{ConfigError, ExportError};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Bytes buffered before a flush is forced in the middle of a batch.
const BUFFER_LIMIT: usize = 64 * 1024;

/// When and how a [`FileSink`] rotates its file (the seed's `RotationPolicy`).
///
/// The defaults are the seed's: rotate at 100 MiB, keep 5 rotated files, gzip them.
///
/// ```
/// use loupe::logs::RotationPolicy;
///
/// let policy = RotationPolicy::default()
///     .with_max_size(10 * 1024 * 1024)
///     .with_max_files(3)
///     .with_compress(false);
/// assert_eq!(policy.max_files, 3);
/// assert_eq!(RotationPolicy::default().max_size, 100 * 1024 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationPolicy {
    /// The most bytes the live file may hold before it is rotated (at least 1). A single
    /// record larger than this still gets written, alone in its file.
    pub max_size: u64,
    /// Rotated files kept (`app.log.1` … `app.log.N`); older ones are deleted. 0 keeps
    /// none: rotating then just starts the file afresh.
    pub max_files: usize,
    /// Gzip rotated files (`app.log.1.gz`). Needs the `http-export` feature (on by
    /// default), which brings the gzip encoder; without it, building a sink that asks for
    /// compression fails with [`FileSinkError::CompressionUnavailable`].
    pub compress: bool,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            max_size: 100 * 1024 * 1024,
            max_files: 5,
            compress: true,
        }
    }
}

impl RotationPolicy {
    /// Sets [`max_size`](RotationPolicy::max_size), in bytes.
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Sets [`max_files`](RotationPolicy::max_files).
    #[must_use]
    pub fn with_max_files(mut self, n: usize) -> Self {
        self.max_files = n;
        self
    }

    /// Sets [`compress`](RotationPolicy::compress).
    #[must_use]
    pub fn with_compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }
}

/// Why a [`FileSink`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum FileSinkError {
    /// A rotation setting is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The directory the file goes in could not be created.
    #[error("cannot create the log directory {}: {source}; check the path and its permissions", .path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file could not be opened for appending.
    #[error("cannot open the log file {} for appending: {source}; check the path and its permissions", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Compression was asked for, but this build has no gzip encoder.
    #[error("cannot compress the rotated files of {}: this build of loupe lacks the `http-export` feature, which brings the gzip encoder; enable it or set `RotationPolicy::compress` to false", .path.display())]
    CompressionUnavailable {
        /// The file.
        path: PathBuf,
    },
}

/// Configures a [`FileSink`]; see [`FileSink::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct FileSinkBuilder {
    path: PathBuf,
    format: LogFormat,
    rotation: Option<RotationPolicy>,
}

impl FileSinkBuilder {
    /// The format records are written in; default [`LogFormat::Json`]. A pretty format is
    /// written without colours unless `color` is set.
    pub fn with_format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// Rotates the file by size; default: no rotation, the file grows without bound.
    pub fn with_rotation(mut self, policy: RotationPolicy) -> Self {
        self.rotation = Some(policy);
        self
    }

    /// Creates the file's directory if needed and opens the file for appending (an
    /// existing file is kept and appended to).
    pub fn build(self) -> Result<FileSink, FileSinkError> {
        if self.path.file_name().is_none() {
            return Err(ConfigError::new(
                "path",
                self.path.display(),
                "the path of a file, such as /var/log/app.log",
            )
            .into());
        }
        if let Some(policy) = &self.rotation {
            if policy.max_size == 0 {
                return Err(ConfigError::new(
                    "rotation.max_size",
                    0,
                    "a size in bytes above zero, such as 104857600 (100 MiB)",
                )
                .into());
            }
            if policy.compress && !cfg!(feature = "http-export") {
                return Err(FileSinkError::CompressionUnavailable { path: self.path });
            }
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| FileSinkError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let file = open_append(&self.path).map_err(|source| FileSinkError::Open {
            path: self.path.clone(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileSink {
            path: self.path,
            format: self.format,
            rotation: self.rotation,
            file: Some(file),
            size,
            buf: Vec::with_capacity(BUFFER_LIMIT),
            line: Vec::with_capacity(512),
            pending: 0,
            compressor: None,
        })
    }
}

/// Writes records to a file, one per line, optionally rotating it by size (the seed's
/// `LogSink::File`).
///
/// Records are formatted (JSON by default, one object per line), buffered, and appended to
/// the file each time the sink's thread has drained a batch; an existing file is appended
/// to. With a [`RotationPolicy`], a record that would take the file past `max_size` first
/// rotates it: `app.log` becomes `app.log.1` (gzip-compressed to `app.log.1.gz` when
/// `compress` is set), older files shift up one number, and the file that would become
/// number `max_files + 1` is deleted. A record is never split across two files; one record
/// larger than `max_size` gets a file of its own.
///
/// Compression runs on a helper thread so writing goes on meanwhile; the uncompressed
/// `app.log.1` exists until it finishes, and the next rotation (or shutdown) waits for it.
/// If the file is deleted or moved away while the sink runs (by hand, or by an external
/// `logrotate`), the next flush creates it again at its path.
///
/// Nothing here panics: a failed write counts its records in the sink's
/// `loupe.sdk.exporter.failed` (`exporter="file"`, `signal="logs"`), removes any partial
/// line it left, and is reported once on stderr; the next flush opens the file again.
///
/// ```
/// use loupe::logs::{FileSink, LoggerProvider, RotationPolicy};
/// use std::time::Duration;
///
/// let path = std::env::temp_dir().join(format!("loupe-doc-{}/app.log", std::process::id()));
/// let sink = FileSink::builder(&path)
///     .with_rotation(RotationPolicy::default().with_max_size(10 * 1024 * 1024))
///     .build()?;
/// let provider = LoggerProvider::builder().with_sink(sink).build()?;
/// loupe::log_info!(provider.logger("app"), "started", port: 8080);
/// provider.shutdown(Duration::from_secs(5))?;
/// assert!(std::fs::read_to_string(&path)?.contains("\"port\":8080"));
/// # std::fs::remove_dir_all(path.parent().unwrap())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    format: LogFormat,
    rotation: Option<RotationPolicy>,
    /// `None` after a failed write: the next flush opens the file again.
    file: Option<File>,
    /// Bytes in the file on disk (as far as this sink knows).
    size: u64,
    /// Formatted records not yet written.
    buf: Vec<u8>,
    /// The record being formatted.
    line: Vec<u8>,
    /// Records in `buf`.
    pending: u64,
    /// The helper thread compressing the last rotated file, if one runs.
    compressor: Option<Compressing>,
}

impl FileSink {
    /// Appends JSON lines to `path`, without rotation; the directory is created if needed.
    pub fn new(path: impl Into<PathBuf>) -> Result<FileSink, FileSinkError> {
        FileSink::builder(path).build()
    }

    /// Starts configuring a sink writing to `path`: JSON lines, no rotation.
    pub fn builder(path: impl Into<PathBuf>) -> FileSinkBuilder {
        FileSinkBuilder {
            path: path.into(),
            format: LogFormat::Json,
            rotation: None,
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotation policy, if the file rotates.
    pub fn rotation(&self) -> Option<&RotationPolicy> {
        self.rotation.as_ref()
    }

    /// Writes the buffer to the file, reopening it if it was deleted or replaced.
    fn write_buffer(&mut self) -> io::Result<()> {
        let mut file = match self.file.take().filter(|f| still_at(f, &self.path)) {
            Some(file) => file,
            None => reopen(&self.path)?,
        };
        let before = file.metadata().map(|m| m.len()).ok();
        if let Err(e) = file.write_all(&self.buf) {
            // Do not leave half a record behind (a full disk, say); the file handle is
            // dropped so the next flush starts from a fresh open.
            if let Some(len) = before {
                let _ = file.set_len(len);
            }
            return Err(e);
        }
        self.size = before.unwrap_or(self.size) + self.buf.len() as u64;
        self.file = Some(file);
        Ok(())
    }

    /// Waits for the compression of the previous rotation.
    fn join_compressor(&mut self) -> Result<(), ExportError> {
        let result = match self.compressor.take() {
            None => return Ok(()),
            Some(Compressing::Finished(result)) => result,
            Some(Compressing::Thread(handle)) => handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the compressing thread panicked"))),
        };
        result.map_err(|e| {
            ExportError::from_source(
                format!(
                    "compressing {} (it is kept uncompressed)",
                    rotated_path(&self.path, 1, false).display()
                ),
                e,
            )
        })
    }

    /// Moves the live file to `.1` (shifting older ones, deleting beyond `max_files`) and
    /// starts a new one. The buffer must have been written.
    fn rotate(&mut self, policy: RotationPolicy) -> Result<(), ExportError> {
        let compressed = self.join_compressor();
        // Close first: some systems cannot rename an open file.
        self.file = None;
        // A `.1` that could not move up would be overwritten: then do not rotate at all.
        let moved = shift_rotated(&self.path, policy.max_files).and_then(|()| {
            if policy.max_files == 0 {
                remove_if_exists(&self.path)
            } else {
                fs::rename(&self.path, rotated_path(&self.path, 1, false)).or_else(not_found_ok)
            }
        });
        // Count from zero either way: after a failure the next attempt comes only after
        // another `max_size` bytes rather than on every record.
        self.size = 0;
        if let Err(e) = moved {
            return Err(ExportError::from_source(
                format!("rotating {}: the file keeps growing", self.path.display()),
                e,
            ));
        }
        let rotated = rotated_path(&self.path, 1, false);
        // Nothing moved if the live file had been deleted from under the sink.
        if policy.compress && policy.max_files > 0 && rotated.exists() {
            self.compressor = Some(start_compression(rotated));
        }
        compressed
    }
}

/// The compression of the last rotated file.
#[derive(Debug)]
enum Compressing {
    /// Running on a helper thread.
    Thread(JoinHandle<io::Result<()>>),
    /// Done on the sink's thread (no helper thread could be started).
    Finished(io::Result<()>),
}

impl LogSink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn emit(&mut self, record: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError> {
        self.line.clear();
        self.format.write(record, &mut self.line);
        let mut result = Ok(());
        if let Some(policy) = self.rotation {
            let size = self.size + self.buf.len() as u64;
            if size > 0 && size + self.line.len() as u64 > policy.max_size {
                result = self.flush(cx);
                // A failed write dropped the buffer; rotating is still right, since the
                // file may be the very problem (too large for the file system, say).
                let rotated = self.rotate(policy);
                result = result.and(rotated);
            }
        }
        self.buf.extend_from_slice(&self.line);
        self.pending += 1;
        if self.buf.len() >= BUFFER_LIMIT {
            let flushed = self.flush(cx);
            result = result.and(flushed);
        }
        result
    }

    fn flush(&mut self, cx: SinkContext<'_>) -> Result<(), ExportError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending);
        let written = self.write_buffer();
        self.buf.clear();
        match written {
            Ok(()) => {
                cx.stats.exported.add(records);
                Ok(())
            }
            Err(e) => {
                cx.stats.failed.add(records);
                Err(ExportError::from_source(
                    format!("writing {records} log records to {}", self.path.display()),
                    e,
                ))
            }
        }
    }

    fn shutdown(&mut self, cx: SinkContext<'_>) -> Result<(), ExportError> {
        let flushed = self.flush(cx);
        let compressed = self.join_compressor();
        if let Some(file) = self.file.take() {
            let _ = file.sync_data();
        }
        flushed.and(compressed)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Opens the file again after it disappeared, recreating its directory if that went too.
fn reopen(path: &Path) -> io::Result<File> {
    match open_append(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir)?;
            }
            open_append(path)
        }
        other => other,
    }
}

/// Whether `file` is still the file at `path` (not deleted, moved or replaced).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Whether `file` is still the file at `path` (not deleted).
#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

fn not_found_ok(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    fs::remove_file(path).or_else(not_found_ok)
}

/// `app.log` → `app.log.3` or `app.log.3.gz`.
pub(crate) fn rotated_path(live: &Path, index: usize, gz: bool) -> PathBuf {
    let mut name = live.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{index}"));
    if gz {
        name.push(".gz");
    }
    live.with_file_name(name)
}

/// The rotation number of `candidate` if it is a rotated file of `base`: `app.log.3` →
/// `(3, false)`, `app.log.3.gz` → `(3, true)`. Numbers are canonical (no sign, no leading
/// zero, at least 1) so unrelated files such as `app.log.01` are never touched.
pub(crate) fn rotated_index(base: &str, candidate: &str) -> Option<(usize, bool)> {
    let rest = candidate.strip_prefix(base)?.strip_prefix('.')?;
    let (digits, gz) = match rest.strip_suffix(".gz") {
        Some(digits) => (digits, true),
        None => (rest, false),
    };
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !canonical {
        return None;
    }
    digits.parse().ok().map(|n| (n, gz))
}

/// The rotated files of `live` found in its directory, by number.
fn rotated_files(live: &Path) -> io::Result<Vec<(usize, bool)>> {
    let Some(base) = live.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match live.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(hit) = entry
            .file_name()
            .to_str()
            .and_then(|n| rotated_index(base, n))
        {
            found.push(hit);
        }
    }
    Ok(found)
}

/// Makes room for a new `.1`: deletes the files numbered `max_files` and above (they would
/// pass the limit) and renames the others one number up, highest first.
fn shift_rotated(live: &Path, max_files: usize) -> io::Result<()> {
    let mut found = rotated_files(live)?;
    found.sort_unstable_by(|a, b| b.cmp(a));
    let mut result = Ok(());
    for (n, gz) in found {
        let from = rotated_path(live, n, gz);
        let step = if n >= max_files {
            remove_if_exists(&from)
        } else {
            fs::rename(&from, rotated_path(live, n + 1, gz)).or_else(not_found_ok)
        };
        // Keep going: one stuck file should not stop the others from moving.
        if result.is_ok() {
            result = step;
        }
    }
    result
}

/// Compresses `path` to `path.gz` on a helper thread (or right here if no thread can be
/// started); the uncompressed file is removed once the compressed one is complete.
fn start_compression(path: PathBuf) -> Compressing {
    let spawn = std::thread::Builder::new()
        .name("loupe-log-gzip".into())
        .spawn({
            let path = path.clone();
            move || gzip_file(&path)
        });
    match spawn {
        Ok(handle) => Compressing::Thread(handle),
        Err(_) => Compressing::Finished(gzip_file(&path)),
    }
}

#[cfg(feature = "http-export")]
fn gzip_file(path: &Path) -> io::Result<()> {
    let mut gz_name = path.as_os_str().to_os_string();
    gz_name.push(".gz");
    let gz_path = PathBuf::from(gz_name);
    let mut tmp_name = gz_path.as_os_str().to_os_string();
    tmp_name.push(".tmp");
    let tmp_path = PathBuf::from(tmp_name);
    let compress = || -> io::Result<()> {
        let mut input = File::open(path)?;
        let out = io::BufWriter::new(File::create(&tmp_path)?);
        let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut input, &mut encoder)?;
        let out = encoder.finish()?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        // Only a complete archive takes the final name.
        fs::rename(&tmp_path, &gz_path)
    };
    if let Err(e) = compress() {
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    fs::remove_file(path)
}

#[cfg(not(feature = "http-export"))]
fn gzip_file(_path: &Path) -> io::Result<()> {
    // Unreachable: building a sink that compresses fails without the feature.
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "gzip needs the `http-export` feature",
    ))
}

#[cfg(test)]
mod tests;
