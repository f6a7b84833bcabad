//! A rotating file sink keeps exactly the newest records, each whole on its own line: the
//! rotated files are read back through the system's `gzip -dc`, an independent
//! decompressor, and every line is parsed as JSON.

use loupe::log_info;
use loupe::logs::{FileSink, LogFormat, LoggerProvider, RotationPolicy};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// An empty directory of this test's own under Cargo's scratch directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gunzip(path: &Path) -> String {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gzip: {e}"));
    assert!(
        out.status.success(),
        "gzip -dc {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("decompressed log is UTF-8")
}

fn seq_of(line: &str) -> usize {
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not a whole JSON record ({e}): {line:?}"));
    v["fields"]["seq"].as_str().unwrap().parse().unwrap()
}

#[test]
fn rotated_files_keep_exactly_the_newest_whole_records() {
    const RECORDS: usize = 400;
    const MAX_SIZE: u64 = 4096;
    const MAX_FILES: usize = 3;
    let dir = fresh_dir("log-files-rotate");
    let live = dir.join("app.log");
    let sink = FileSink::builder(&live)
        .with_rotation(RotationPolicy {
            max_size: MAX_SIZE,
            max_files: MAX_FILES,
            compress: true,
        })
        .build()
        .unwrap();
    let provider = LoggerProvider::builder()
        .with_sink(sink)
        .with_queue_size(RECORDS * 2)
        .build()
        .unwrap();
    let logger = provider.logger("rotation");
    for seq in 0..RECORDS {
        // A fixed-width sequence number makes every line the same length, so which
        // records survive can be worked out exactly.
        log_info!(logger, "request handled", seq: format!("{seq:06}"), path: "/api/users");
    }
    provider.shutdown(WAIT).unwrap();

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["app.log", "app.log.1.gz", "app.log.2.gz", "app.log.3.gz"],
        "the live file and exactly max_files compressed ones"
    );

    // Oldest first.
    let files: Vec<(String, String)> = ["app.log.3.gz", "app.log.2.gz", "app.log.1.gz"]
        .iter()
        .map(|n| (n.to_string(), gunzip(&dir.join(n))))
        .chain([(
            "app.log".to_string(),
            std::fs::read_to_string(&live).unwrap(),
        )])
        .collect();
    let line_len = files[0].1.lines().next().unwrap().len() + 1;
    for (name, text) in &files {
        assert!(text.ends_with('\n'), "{name} ends mid-record");
        assert!(
            text.len() as u64 <= MAX_SIZE,
            "{name} holds {} bytes",
            text.len()
        );
        for line in text.lines() {
            assert_eq!(line.len() + 1, line_len, "{name}: {line:?}");
        }
    }

    // Each file holds as many whole lines as fit; the oldest files were deleted.
    let per_file = MAX_SIZE as usize / line_len;
    let rotations = (RECORDS - 1) / per_file;
    assert!(
        rotations > MAX_FILES,
        "the test must make rotation delete files"
    );
    let first_kept = (rotations - MAX_FILES) * per_file;
    let mut expected_start = first_kept;
    for (i, (name, text)) in files.iter().enumerate() {
        let seqs: Vec<usize> = text.lines().map(seq_of).collect();
        let count = if i + 1 < files.len() {
            per_file
        } else {
            RECORDS - rotations * per_file
        };
        let expected: Vec<usize> = (expected_start..expected_start + count).collect();
        assert_eq!(seqs, expected, "{name}");
        expected_start += count;
    }
    assert_eq!(expected_start, RECORDS);

    // The records read back are the JSON format's, with the fields logged.
    let last: Value = serde_json::from_str(files[3].1.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "INFO");
    assert_eq!(last["target"], "rotation");
    assert_eq!(last["message"], "request handled");
    assert_eq!(last["fields"]["path"], "/api/users");
}

#[test]
fn an_existing_file_is_appended_to_and_a_deleted_one_is_created_again() {
    let dir = fresh_dir("log-files-reopen");
    let live = dir.join("logs/app.log");
    std::fs::create_dir_all(live.parent().unwrap()).unwrap();
    std::fs::write(&live, "earlier run\n").unwrap();
    let provider = LoggerProvider::builder()
        .with_sink(
            FileSink::builder(&live)
                .with_format(LogFormat::Logfmt)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let logger = provider.logger("reopen");
    log_info!(logger, "first", n: 1);
    provider.force_flush(WAIT).unwrap();
    let text = std::fs::read_to_string(&live).unwrap();
    assert!(text.starts_with("earlier run\n"), "{text}");
    assert!(text.contains("message=first n=1"), "{text}");

    // Deleted from under the sink, directory and all (as a careless cleanup would).
    std::fs::remove_dir_all(live.parent().unwrap()).unwrap();
    log_info!(logger, "second", n: 2);
    provider.shutdown(WAIT).unwrap();
    let text = std::fs::read_to_string(&live).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("message=second n=2"), "{text}");
}

#[test]
fn a_path_that_cannot_be_a_log_file_is_named_in_the_error() {
    let dir = fresh_dir("log-files-bad-path");
    std::fs::write(dir.join("plain-file"), "").unwrap();
    let bad = dir.join("plain-file/app.log");
    let err = FileSink::new(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains(&*dir.join("plain-file").to_string_lossy()),
        "{err}"
    );
}
