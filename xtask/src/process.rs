//! Running commands: one-shot steps that must succeed, and long-running services that are
//! stopped together (each in its own process group, so nothing they spawn is left behind).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// `cargo` (the one running xtask, via `$CARGO`) in the workspace root.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::project_root());
    cmd
}

/// Prints the command, runs it to completion and fails if it did not exit successfully.
pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    println!("$ {}", display(cmd));
    let status = cmd.status().with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs a command and returns its trimmed standard output, or `None` if it cannot run or fails.
pub(crate) fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs a long `cargo` command, replacing its chatter with one progress line
/// ("compiled N crates, M s"); the full log is shown only if it fails.
pub(crate) fn run_with_progress(label: &str, cmd: &mut Command) -> anyhow::Result<()> {
    println!("$ {}", display(cmd));
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    let stderr = child.stderr.take().context("stderr of child")?;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut log = Vec::new();
    let mut compiled = 0usize;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap_or_default();
        if line.trim_start().starts_with("Compiling") {
            compiled += 1;
            let secs = started.elapsed().as_secs();
            if interactive {
                print!("\r  {label}: compiled {compiled} crates, {secs} s");
                let _ = std::io::stdout().flush();
            } else if compiled.is_multiple_of(50) {
                println!("  {label}: compiled {compiled} crates, {secs} s");
            }
        }
        log.push(line);
    }
    let status = child.wait()?;
    if interactive {
        println!();
    }
    if !status.success() {
        eprintln!("{}", log.join("\n"));
        bail!("`{}` failed ({status})", display(cmd));
    }
    println!("  {label}: done in {} s", started.elapsed().as_secs());
    Ok(())
}

fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Long-running services, each in its own process group. Dropping the supervisor stops them all:
/// SIGTERM to every group (so servers flush their telemetry), then SIGKILL after a grace period.
#[derive(Debug, Default)]
pub(crate) struct Services {
    children: Vec<(String, Child)>,
}

impl Services {
    pub(crate) fn spawn(&mut self, name: &str, cmd: &mut Command) -> anyhow::Result<()> {
        println!("starting {name}: {}", display(cmd));
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {name} (`{}`)", display(cmd)))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    /// Starts a service that prints `listening on URL` as its first line, and returns the URL.
    pub(crate) fn spawn_announcing(&mut self, name: &str, cmd: &mut Command) -> anyhow::Result<String> {
        self.spawn(name, cmd.stdout(Stdio::piped()))?;
        let (_, child) = self.children.last_mut().context("just spawned")?;
        let stdout = child.stdout.take().context("stdout of service")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().strip_prefix("listening on ").map(str::to_owned);
        url.with_context(|| format!("{name} did not announce its address (said {line:?})"))
    }

    /// The name of the first service that has exited, if any.
    pub(crate) fn exited(&mut self) -> Option<String> {
        self.children
            .iter_mut()
            .find_map(|(name, child)| matches!(child.try_wait(), Ok(Some(_))).then(|| name.clone()))
    }

    pub(crate) fn stop_all(&mut self) {
        for (name, child) in &self.children {
            println!("stopping {name}");
            signal_group(child.id(), "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(8);
        for (name, child) in &mut self.children {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                eprintln!("{name} did not stop in time; killing it");
            }
            // Also reaps anything the service left in its group.
            signal_group(child.id(), "KILL");
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}
