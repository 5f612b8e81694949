//! The system under test, started for real: the trace-explorer and the Cruddur backend as their
//! own processes on free loopback ports (with their own data directories), and the trunk-built
//! frontend served with a page configuration chosen per test. The page's HTML comes from the
//! backend (`CRUDDUR_DIST`), inside its SERVER span, so a page load joins the backend's trace.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::servers::{FrontendOptions, free_port, serve_frontend};

/// A process that is killed when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
}

impl Process {
    fn start(name: &'static str, command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name} (build it with `cargo build -p {name}`)"))?;
        Ok(Self { child })
    }

    /// Stops the process at once (SIGKILL), as a crash or a pulled plug would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn binary(env: &str, name: &str) -> PathBuf {
    std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target/debug").join(name))
}

async fn wait_until_up(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not come up within 30 s")
}

/// A running trace-explorer.
#[derive(Debug)]
pub struct Explorer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    data: PathBuf,
    process: Option<Process>,
}

impl Explorer {
    /// Starts an explorer with a fresh data directory.
    pub async fn start(scratch: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut explorer = Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            data: scratch.join("explorer"),
            process: None,
        };
        explorer.restart().await?;
        Ok(explorer)
    }

    /// Stops it (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.process = Some(Process::start(
            "trace-explorer",
            Command::new(binary("E2E_EXPLORER_BIN", "trace-explorer"))
                .env("EXPLORER_ADDR", format!("127.0.0.1:{}", self.port))
                .env("EXPLORER_DATA_DIR", &self.data)
                .env_remove("HONEYCOMB_API_KEY"),
        )?);
        wait_until_up(&format!("{}/api/traces", self.url)).await
    }
}

/// How the page reaches the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The page's server proxies `/api` and `/v1/traces` to the backend (as `trunk serve` does).
    SameOrigin,
    /// The page calls the backend's own origin, with CORS and the propagation allowlist.
    CrossOrigin,
}

/// Explorer, backend and frontend, wired together.
#[derive(Debug)]
pub struct Stack {
    /// The explorer.
    pub explorer: Explorer,
    /// The backend's base URL.
    pub backend: String,
    /// The page's base URL.
    pub frontend: String,
    _backend: Process,
    _scratch: tempdir::TempDir,
}

/// Per-test settings of the page.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Same- or cross-origin.
    pub mode: Mode,
    /// The browser batch processor's delay.
    pub browser_batch_delay_ms: u64,
    /// A status endpoint on a third origin (never allowlisted).
    pub status_url: Option<String>,
    /// Trace `window.fetch` itself (page configuration `instrumentGlobalFetch`).
    pub instrument_global_fetch: bool,
    /// The otel-web `encoding`: `protobuf` by default, as Cruddur ships.
    pub encoding: Option<String>,
    /// The otel-web `compression`: `gzip` by default, as Cruddur ships.
    pub compression: Option<String>,
    /// The otel-web `offlineStorageBytes`; the SDK's default (1 MiB) when `None`.
    pub offline_storage_bytes: Option<u32>,
    /// Where the backend sends OTLP (its own spans and the browser's, through its relay) instead
    /// of the explorer: a test's proxy in front of the explorer, say.
    pub otlp_endpoint: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            mode: Mode::SameOrigin,
            browser_batch_delay_ms: 200,
            status_url: None,
            instrument_global_fetch: false,
            encoding: Some("protobuf".into()),
            compression: Some("gzip".into()),
            offline_storage_bytes: None,
            otlp_endpoint: None,
        }
    }
}

impl Stack {
    /// Starts everything.
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        let scratch = tempdir::TempDir::new()?;
        let explorer = Explorer::start(scratch.path()).await?;
        let backend_port = free_port()?;
        let frontend_port = free_port()?;
        let backend = format!("http://127.0.0.1:{backend_port}");
        let frontend_origin = format!("http://127.0.0.1:{frontend_port}");
        let backend_process = Process::start(
            "cruddur-backend",
            Command::new(binary("E2E_BACKEND_BIN", "cruddur-backend"))
                .env("CRUDDUR_ADDR", format!("127.0.0.1:{backend_port}"))
                .env("CRUDDUR_DB", scratch.path().join("cruddur.db"))
                .env("CRUDDUR_FRONTEND_ORIGINS", &frontend_origin)
                // The page comes from the backend, so the page load joins its trace.
                .env("CRUDDUR_DIST", crate::project_root().join("dist"))
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", options.otlp_endpoint.as_deref().unwrap_or(&explorer.url))
                .env("OTEL_BSP_SCHEDULE_DELAY", "100")
                .env_remove("HONEYCOMB_API_KEY")
                .env_remove("OTEL_TRACES_EXPORTER"),
        )?;
        wait_until_up(&format!("{backend}/api/health")).await?;
        let page = match options.mode {
            Mode::SameOrigin => FrontendOptions {
                api_base: String::new(),
                traces_endpoint: "/v1/traces".into(),
                propagate_to: vec![],
                proxy_to: Some(backend.clone()),
                batch_delay_ms: options.browser_batch_delay_ms,
                status_url: options.status_url.clone(),
                instrument_global_fetch: options.instrument_global_fetch,
                page_from: Some(backend.clone()),
                encoding: options.encoding.clone(),
                compression: options.compression.clone(),
                offline_storage_bytes: options.offline_storage_bytes,
            },
            Mode::CrossOrigin => FrontendOptions {
                api_base: backend.clone(),
                traces_endpoint: format!("{backend}/v1/traces"),
                propagate_to: vec![backend.clone()],
                proxy_to: None,
                batch_delay_ms: options.browser_batch_delay_ms,
                status_url: options.status_url.clone(),
                instrument_global_fetch: options.instrument_global_fetch,
                page_from: Some(backend.clone()),
                encoding: options.encoding.clone(),
                compression: options.compression.clone(),
                offline_storage_bytes: options.offline_storage_bytes,
            },
        };
        let frontend = serve_frontend(&crate::project_root().join("dist"), frontend_port, page).await?;
        Ok(Self { explorer, backend, frontend, _backend: backend_process, _scratch: scratch })
    }
}

/// A temporary directory, removed on drop (kept tiny: no extra dependency).
pub mod tempdir {
    use std::path::{Path, PathBuf};

    /// The directory.
    #[derive(Debug)]
    pub struct TempDir(PathBuf);

    impl TempDir {
        /// Creates a fresh directory.
        pub fn new() -> std::io::Result<Self> {
            let unique = format!(
                "e2e-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            );
            let path = std::env::temp_dir().join(unique);
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }

        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
