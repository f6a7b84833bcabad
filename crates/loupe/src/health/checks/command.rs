//! A command (script) check.

use crate::common::error::ConfigError;
use crate::health::check::{truncate, CheckFuture, CheckResult, HealthCheck};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most of a command's output kept for its message (the end of it, where the
/// verdict usually is).
const OUTPUT_TAIL: usize = 512;
/// How long output may keep arriving after the command exited (a background process it
/// started may hold the pipe open forever).
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// Healthy when a program exits with the success code (0 unless configured) within the
/// timeout (002's `Check::Script`).
///
/// The program runs with no standard input; the end of its output becomes the check's
/// message. A run past its timeout is killed with `SIGKILL` — on Unix together with every
/// process it started, since it runs in a process group of its own — and reported as a
/// timeout. When the registry cancels a run first, the same happens.
///
/// ```
/// use loupe::health::CommandCheck;
/// use std::time::Duration;
///
/// let check = CommandCheck::from_argv(["check-disk-space", "--threshold", "90"])?
///     .with_timeout(Duration::from_secs(30));
/// # let _ = check;
/// # Ok::<(), loupe::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CommandCheck {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    success_code: i32,
    timeout: Duration,
}

impl CommandCheck {
    /// Runs `program` (looked up in `PATH` when it has no `/`), with a 30 s timeout and
    /// exit code 0 as success.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        CommandCheck {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            success_code: 0,
            timeout: Duration::from_secs(30),
        }
    }

    /// Runs a program given as 002's `command` list: the program, then its arguments.
    pub fn from_argv<I, S>(argv: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut argv = argv.into_iter();
        let program = argv
            .next()
            .filter(|p| !p.as_ref().is_empty())
            .ok_or_else(|| {
                ConfigError::new("command", "[]", "a program followed by its arguments")
            })?;
        Ok(CommandCheck::new(program).args(argv))
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the program (it inherits the rest).
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the program in `dir`. Default: the service's working directory.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// The exit code that means healthy. Default 0.
    #[must_use]
    pub fn with_success_code(mut self, code: i32) -> Self {
        self.success_code = code;
        self
    }

    /// How long the program may run before it is killed. Default 30 s (002); the
    /// registry's timeout bounds it too, so set both.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command line, for messages.
    fn display(&self) -> String {
        let mut text = self.program.to_string_lossy().into_owned();
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        truncate(text, 200)
    }

    async fn run(&self) -> CheckResult {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        // A group of its own, so a timeout kills what the script started too.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return CheckResult::unhealthy(format!("cannot run `{}`: {e}", self.display()))
            }
        };
        let mut group = ProcessGroup(child.id());
        let stdout = Tail::read(child.stdout.take());
        let stderr = Tail::read(child.stderr.take());
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return CheckResult::unhealthy(format!(
                    "waiting for `{}` failed: {e}",
                    self.display()
                ))
            }
            Err(_) => {
                group.kill();
                // Reap it, so no zombie is left behind.
                let _ = tokio::time::timeout(Duration::from_secs(1), child.kill()).await;
                return CheckResult::unhealthy(format!(
                    "`{}` timed out after {:?} and was killed",
                    self.display(),
                    self.timeout
                ));
            }
        };
        // It exited by itself: what it left running in the background is its business.
        group.0 = None;
        let stdout = stdout.finish().await;
        let stderr = stderr.finish().await;
        let code = status.code();
        if code == Some(self.success_code) {
            let mut message = format!("`{}` exited with {}", self.display(), self.success_code);
            if let Some(line) = stdout.lines().rev().find(|l| !l.trim().is_empty()) {
                message.push_str(": ");
                message.push_str(line.trim());
            }
            return CheckResult::healthy().with_message(message);
        }
        let ended = match code {
            Some(code) => format!("exited with code {code}"),
            None => killed_by(&status),
        };
        let mut reason = format!(
            "`{}` {ended} (expected {})",
            self.display(),
            self.success_code
        );
        let output = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        if !output.trim().is_empty() {
            reason.push_str(": ");
            reason.push_str(output.trim());
        }
        CheckResult::unhealthy(reason)
    }
}

#[cfg(unix)]
fn killed_by(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => format!("was killed by signal {signal}"),
        None => "ended without an exit code".into(),
    }
}

#[cfg(not(unix))]
fn killed_by(_status: &std::process::ExitStatus) -> String {
    "ended without an exit code".into()
}

impl HealthCheck for CommandCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(self.run())
    }
}

/// The process group of a running command; dropping it (a run cancelled by the registry)
/// kills the whole group.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn kill(&mut self) {
        #[cfg(unix)]
        if let Some(pgid) = self.0.take().and_then(|id| i32::try_from(id).ok()) {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours. The group
            // id is our own child's pid, which is not reaped yet, so it cannot have been
            // reused by an unrelated process.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        #[cfg(not(unix))]
        {
            self.0 = None;
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The end of one output stream, read in the background.
struct Tail {
    buffer: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Tail {
    fn read(stream: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>) -> Tail {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let task = stream.map(|mut stream| {
            let buffer = Arc::clone(&buffer);
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut chunk = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut chunk).await {
                    let mut buffer = buffer.lock().unwrap_or_else(|p| p.into_inner());
                    buffer.extend_from_slice(&chunk[..n]);
                    let excess = buffer.len().saturating_sub(OUTPUT_TAIL);
                    buffer.drain(..excess);
                }
            })
        });
        Tail { buffer, task }
    }

    /// What was read, waiting a little for the rest.
    async fn finish(mut self) -> String {
        if let Some(task) = self.task.as_mut() {
            let _ = tokio::time::timeout(OUTPUT_GRACE, task).await;
        }
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_argv_is_an_error_naming_the_field() {
        let err = CommandCheck::from_argv(Vec::<String>::new()).unwrap_err();
        assert_eq!(err.field, "command");
        let err = CommandCheck::from_argv([""]).unwrap_err();
        assert_eq!(err.field, "command");
        let check = CommandCheck::from_argv(["check-disk-space", "--threshold", "90"]).unwrap();
        assert_eq!(check.display(), "check-disk-space --threshold 90");
    }
}
