use super::*;
use crate::common::resource::Resource;
use crate::common::stats::{register_exporter, ExporterStats};
use crate::logs::Severity;
use proptest::prelude::*;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "loupe-file-sink-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

struct Harness {
    resource: Resource,
    stats: Arc<ExporterStats>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            resource: Resource::default(),
            stats: register_exporter("file-unit-test", "logs"),
        }
    }

    fn cx(&self) -> SinkContext<'_> {
        SinkContext {
            resource: &self.resource,
            stats: &self.stats,
        }
    }
}

fn record(seq: usize, padding: usize) -> LogRecord {
    LogRecord::new(Severity::Info, format!("seq-{seq}-{}", "x".repeat(padding)))
}

fn seq_of(line: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not a whole JSON record ({e}): {line:?}"));
    let message = v["message"].as_str().unwrap();
    message.split('-').nth(1).unwrap().parse().unwrap()
}

fn read_maybe_gz(path: &Path) -> String {
    let raw = fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        #[cfg(feature = "http-export")]
        {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .unwrap();
            return text;
        }
    }
    let mut text = String::new();
    (&raw[..]).read_to_string(&mut text).unwrap();
    text
}

/// Every file of the sink, oldest first: the rotated ones from the highest number down,
/// then the live one; with the file names.
fn files_oldest_first(live: &Path) -> Vec<(PathBuf, String)> {
    let mut rotated = rotated_files(live).unwrap();
    rotated.sort_unstable_by(|a, b| b.cmp(a));
    let mut out: Vec<(PathBuf, String)> = rotated
        .into_iter()
        .map(|(n, gz)| {
            let p = rotated_path(live, n, gz);
            let text = read_maybe_gz(&p);
            (p, text)
        })
        .collect();
    if live.exists() {
        out.push((live.to_path_buf(), fs::read_to_string(live).unwrap()));
    }
    out
}

#[test]
fn rotated_names_append_the_number_to_the_whole_file_name() {
    let live = Path::new("/var/log/app.log");
    assert_eq!(
        rotated_path(live, 1, false),
        Path::new("/var/log/app.log.1")
    );
    assert_eq!(
        rotated_path(live, 12, true),
        Path::new("/var/log/app.log.12.gz")
    );
    assert_eq!(rotated_path(Path::new("app"), 2, false), Path::new("app.2"));
}

#[test]
fn only_canonical_rotation_numbers_are_recognised() {
    assert_eq!(rotated_index("app.log", "app.log.1"), Some((1, false)));
    assert_eq!(rotated_index("app.log", "app.log.1.gz"), Some((1, true)));
    assert_eq!(rotated_index("app.log", "app.log.25"), Some((25, false)));
    for other in [
        "app.log",
        "app.log.",
        "app.log.gz",
        "app.log.0",
        "app.log.01",
        "app.log.+1",
        "app.log.1.gz.tmp",
        "app.log.1.2",
        "app.log.x",
        "app.logs.1",
        "xapp.log.1",
        "app.log.99999999999999999999999",
    ] {
        assert_eq!(rotated_index("app.log", other), None, "{other}");
    }
}

#[test]
fn shifting_moves_files_up_and_deletes_beyond_the_limit() {
    let dir = TempDir::new();
    let live = dir.0.join("app.log");
    for (n, gz) in [(1, true), (2, false), (3, true), (4, true), (7, false)] {
        fs::write(rotated_path(&live, n, gz), format!("{n}")).unwrap();
    }
    fs::write(dir.0.join("app.log.01"), "unrelated").unwrap();
    shift_rotated(&live, 3).unwrap();
    let mut left = rotated_files(&live).unwrap();
    left.sort_unstable();
    assert_eq!(left, vec![(2, true), (3, false)]);
    assert_eq!(
        fs::read_to_string(rotated_path(&live, 2, true)).unwrap(),
        "1"
    );
    assert_eq!(
        fs::read_to_string(rotated_path(&live, 3, false)).unwrap(),
        "2"
    );
    assert!(dir.0.join("app.log.01").exists());
}

#[test]
fn an_existing_file_is_appended_to_and_counts_toward_the_size() {
    let dir = TempDir::new();
    let live = dir.0.join("nested/deeper/app.log");
    fs::create_dir_all(live.parent().unwrap()).unwrap();
    fs::write(&live, "previous line\n").unwrap();
    let h = Harness::new();
    let mut sink = FileSink::builder(&live)
        .with_rotation(
            RotationPolicy::default()
                .with_max_size(100)
                .with_compress(false),
        )
        .build()
        .unwrap();
    sink.emit(&record(0, 0), h.cx()).unwrap();
    sink.shutdown(h.cx()).unwrap();
    // 14 bytes and one record of about 90 bytes pass 100: the old content was rotated away whole.
    assert_eq!(
        fs::read_to_string(rotated_path(&live, 1, false)).unwrap(),
        "previous line\n"
    );
    assert_eq!(seq_of(fs::read_to_string(&live).unwrap().trim_end()), 0);
    assert_eq!(h.stats.exported.get(), 1);
}

#[test]
fn a_record_larger_than_max_size_gets_a_file_of_its_own() {
    let dir = TempDir::new();
    let live = dir.0.join("app.log");
    let h = Harness::new();
    let mut sink = FileSink::builder(&live)
        .with_rotation(
            RotationPolicy::default()
                .with_max_size(50)
                .with_compress(false),
        )
        .build()
        .unwrap();
    for seq in 0..3 {
        sink.emit(&record(seq, 200), h.cx()).unwrap();
    }
    sink.shutdown(h.cx()).unwrap();
    let files = files_oldest_first(&live);
    let per_file: Vec<Vec<usize>> = files
        .iter()
        .map(|(_, text)| text.lines().map(seq_of).collect())
        .collect();
    assert_eq!(per_file, vec![vec![0], vec![1], vec![2]]);
}

#[test]
fn keeping_no_rotated_files_starts_the_file_afresh() {
    let dir = TempDir::new();
    let live = dir.0.join("app.log");
    let h = Harness::new();
    let mut sink = FileSink::builder(&live)
        .with_rotation(
            RotationPolicy::default()
                .with_max_size(1)
                .with_max_files(0)
                .with_compress(false),
        )
        .build()
        .unwrap();
    for seq in 0..4 {
        sink.emit(&record(seq, 0), h.cx()).unwrap();
    }
    sink.shutdown(h.cx()).unwrap();
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    assert_eq!(seq_of(fs::read_to_string(&live).unwrap().trim_end()), 3);
}

#[test]
fn a_deleted_file_is_created_again() {
    let dir = TempDir::new();
    let live = dir.0.join("logs/app.log");
    let h = Harness::new();
    let mut sink = FileSink::new(&live).unwrap();
    sink.emit(&record(0, 0), h.cx()).unwrap();
    sink.flush(h.cx()).unwrap();
    fs::remove_dir_all(dir.0.join("logs")).unwrap();
    sink.emit(&record(1, 0), h.cx()).unwrap();
    sink.flush(h.cx()).unwrap();
    let lines: Vec<usize> = fs::read_to_string(&live)
        .unwrap()
        .lines()
        .map(seq_of)
        .collect();
    assert_eq!(lines, vec![1]);
    assert_eq!(h.stats.exported.get(), 2);
    assert_eq!(h.stats.failed.get(), 0);
}

#[cfg(unix)]
#[test]
fn a_failed_write_counts_the_records_and_names_the_file() {
    // Writing to a full device fails on every write, which is what a full disk does.
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let h = Harness::new();
    let mut sink = FileSink::new(full).unwrap();
    sink.emit(&record(0, 0), h.cx()).unwrap();
    sink.emit(&record(1, 0), h.cx()).unwrap();
    let err = sink.flush(h.cx()).unwrap_err();
    assert!(err.to_string().contains("/dev/full"), "{err}");
    assert_eq!(h.stats.failed.get(), 2);
    assert_eq!(h.stats.exported.get(), 0);
}

#[test]
fn building_reports_the_path_it_cannot_use() {
    let dir = TempDir::new();
    let blocker = dir.0.join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    let err = FileSink::new(blocker.join("app.log")).unwrap_err();
    assert!(matches!(err, FileSinkError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");

    let err = FileSink::new(&dir.0).unwrap_err();
    assert!(matches!(err, FileSinkError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains(&*dir.0.to_string_lossy()), "{err}");

    let err = FileSink::builder(dir.0.join("a.log"))
        .with_rotation(RotationPolicy::default().with_max_size(0))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("rotation.max_size"), "{err}");
}

#[cfg(not(feature = "http-export"))]
#[test]
fn compression_without_the_gzip_encoder_is_refused() {
    let dir = TempDir::new();
    let err = FileSink::builder(dir.0.join("a.log"))
        .with_rotation(RotationPolicy::default())
        .build()
        .unwrap_err();
    assert!(matches!(err, FileSinkError::CompressionUnavailable { .. }));
}

/// What the rotation rule predicts: the records of each file, oldest file first, given
/// each record's line length (a file that is not empty rotates before a record that would
/// take it past `max_size`).
fn predicted_files(lengths: &[usize], max_size: u64) -> Vec<Vec<usize>> {
    let mut files = vec![Vec::new()];
    let mut size = 0u64;
    for (seq, &len) in lengths.iter().enumerate() {
        if size > 0 && size + len as u64 > max_size {
            files.push(Vec::new());
            size = 0;
        }
        files.last_mut().unwrap().push(seq);
        size += len as u64;
    }
    files
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn rotation_never_loses_or_splits_a_record(
        paddings in prop::collection::vec(0usize..400, 1..80),
        max_size in 64u64..1500,
        max_files in 0usize..4,
        compress in any::<bool>(),
        flush_every in 1usize..10,
    ) {
        let compress = compress && cfg!(feature = "http-export");
        let dir = TempDir::new();
        let live = dir.0.join("app.log");
        let h = Harness::new();
        let policy = RotationPolicy { max_size, max_files, compress };
        let mut sink = FileSink::builder(&live).with_rotation(policy).build().unwrap();
        let records: Vec<LogRecord> =
            paddings.iter().enumerate().map(|(seq, &p)| record(seq, p)).collect();
        for (seq, r) in records.iter().enumerate() {
            sink.emit(r, h.cx()).unwrap();
            if seq % flush_every == 0 {
                sink.flush(h.cx()).unwrap();
            }
        }
        sink.shutdown(h.cx()).unwrap();

        let lengths: Vec<usize> =
            records.iter().map(|r| LogFormat::Json.to_string(r).len() + 1).collect();
        let predicted = predicted_files(&lengths, max_size);
        let kept = &predicted[predicted.len().saturating_sub(max_files + 1)..];

        let files = files_oldest_first(&live);
        let rotated: Vec<_> = files.iter().filter(|(p, _)| p != &live).collect();
        prop_assert!(rotated.len() <= max_files);
        for (path, _) in &rotated {
            let gz = path.extension().is_some_and(|e| e == "gz");
            prop_assert_eq!(gz, compress, "{}", path.display());
        }
        let actual: Vec<Vec<usize>> = files
            .iter()
            .map(|(path, text)| {
                assert!(text.is_empty() || text.ends_with('\n'), "{} ends mid-record", path.display());
                text.lines().map(seq_of).collect()
            })
            .collect();
        prop_assert_eq!(&actual[..], kept);
        for (path, text) in &files {
            let lines = text.lines().count();
            prop_assert!(
                text.len() as u64 <= max_size || lines == 1,
                "{} holds {} bytes in {} records", path.display(), text.len(), lines
            );
        }
        prop_assert_eq!(h.stats.exported.get(), records.len() as u64);
        prop_assert_eq!(h.stats.failed.get(), 0);
    }
}
