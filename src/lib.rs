//! The `tvgate` package: the command line, the settings, and the wiring of
//! the crates into one binary. No business rules live here.

pub mod admin_cli;
pub mod cli;
pub mod demo;
pub mod import;
pub mod settings;
pub mod sources;
pub mod startup;
pub mod tls;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command};
use settings::Settings;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs the command line and returns the process exit code.
pub fn main_entry() -> i32 {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    code
}

fn load_settings(cli: &Cli) -> Result<Settings> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = cli
        .common
        .config
        .clone()
        .or_else(|| env.get("TVGATE_CONFIG").map(Into::into));
    let text = match &config {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    let mut settings = Settings::load(text.as_deref(), &env).with_context(|| match &config {
        Some(p) => format!("loading settings from {} and the environment", p.display()),
        None => "loading settings from the environment".to_string(),
    })?;
    if let Some(dir) = &cli.common.data_dir {
        settings.data_dir = dir.clone();
    }
    if let Some(url) = &cli.common.store {
        settings.store_url = url.clone();
        settings.store_location()?;
    }
    match &cli.command {
        Command::Serve {
            listen: Some(l), ..
        }
        | Command::Demo {
            listen: Some(l), ..
        } => settings.listen = l.clone(),
        _ => {}
    }
    if let Command::Serve {
        ledger: Some(url), ..
    } = &cli.command
    {
        tvgate_redis::check_url(url).map_err(anyhow::Error::msg)?;
        settings.ledger_url = url.clone();
    }
    if let Command::Serve { tls, .. } | Command::Demo { tls, .. } = &cli.command {
        tls::apply_flags(&mut settings, tls)?;
    }
    Ok(settings)
}

/// Logs go to standard error through a background writer thread, so a
/// request never waits on the terminal or a pipe; colours only on a terminal.
/// The returned guard flushes what is queued when dropped.
fn init_logging(settings: &Settings) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TVGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    // Not lossy: under a flood, requests wait for the log rather than lines
    // being dropped (rate-limited denials are already summarised).
    // A bounded queue of 4,096 lines: the default (128,000) preallocates
    // about 4 MB, a third of the idle server.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(4096)
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}

fn run(cli: Cli) -> Result<i32> {
    if let Command::Doctor(args) = cli.command {
        return doctor(args);
    }
    let settings = load_settings(&cli)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if settings.worker_threads > 0 {
        runtime.worker_threads(settings.worker_threads);
    }
    let runtime = runtime.build().context("starting the async runtime")?;
    match cli.command {
        Command::Serve { .. } => {
            let _log = init_logging(&settings);
            runtime.block_on(serve(settings, None))
        }
        Command::Demo { json, password, .. } => {
            let _log = init_logging(&settings);
            runtime.block_on(serve(settings, Some(DemoOptions { json, password })))
        }
        Command::Line(cmd) => runtime.block_on(admin_cli::line(&settings, cmd)),
        Command::Device(cmd) => runtime.block_on(admin_cli::device(&settings, cmd)),
        Command::Source(cmd) => runtime.block_on(admin_cli::source(&settings, cmd)),
        Command::Channel(cmd) => runtime.block_on(admin_cli::channel(&settings, cmd)),
        Command::Admin(cmd) => runtime.block_on(admin_cli::admin(&settings, cmd)),
        Command::Doctor(_) => Ok(()),
    }?;
    Ok(0)
}

/// A DNS server given as `IP` or `IP:PORT` (port 53 by default).
fn dns_server(text: &str) -> Result<std::net::SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let ip: std::net::IpAddr = text
        .trim_matches(['[', ']'])
        .parse()
        .with_context(|| format!("{text} is not an IP address or IP:PORT"))?;
    Ok(std::net::SocketAddr::new(ip, 53))
}

/// The doctor's options from its command line.
pub fn doctor_options(args: &cli::DoctorArgs) -> Result<tvgate_doctor::Options> {
    let extra_ca_pem = match &args.ca_file {
        Some(path) => Some(
            std::fs::read(path).with_context(|| format!("reading --ca-file {}", path.display()))?,
        ),
        None => None,
    };
    Ok(tvgate_doctor::Options {
        given: tvgate_doctor::input::Given {
            line: args.line.clone(),
            server: args.server.clone(),
            username: args.username.clone(),
            password: args.password.clone(),
            m3u: args.m3u.clone(),
            mac: args.mac.clone(),
            device_id: args.device_id.clone(),
            serial: args.serial.clone(),
        },
        user_agent: args.user_agent.clone(),
        resolvers: args
            .resolvers
            .iter()
            .map(|r| dns_server(r).context("--resolver"))
            .collect::<Result<_>>()?,
        doh: args.doh.clone(),
        system_resolver: args
            .system_resolver
            .as_deref()
            .map(|r| dns_server(r).context("--system-resolver"))
            .transpose()?,
        extra_ca_pem,
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        device: args.device.clone(),
        app: args.app.clone(),
        error: args.error.clone(),
        ..tvgate_doctor::Options::default()
    })
}

/// `tvgate doctor`: runs the checks (progress on standard error), prints
/// the verdict and the report, writes `--report`, and returns the cause's
/// exit code (2 when the input cannot be used at all).
fn doctor(args: cli::DoctorArgs) -> Result<i32> {
    use tvgate_doctor::report;
    let opts = match doctor_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut console = tvgate_doctor::console::Console::new();
    let outcome = runtime.block_on(tvgate_doctor::run(&opts, &mut console));
    drop(console);
    let report = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!();
        print!("{}", report::render_text(&report));
    }
    if let Some(path) = &args.report {
        let markdown = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
        let text = if markdown {
            report::render_markdown(&report)
        } else {
            report::render_text(&report)
        };
        std::fs::write(path, text)
            .with_context(|| format!("writing the report to {}", path.display()))?;
        eprintln!("Report written to {}", path.display());
    }
    Ok(report.diagnosis.exit_code)
}

/// What `tvgate demo` was asked for.
pub struct DemoOptions {
    pub json: bool,
    pub password: Option<String>,
}

/// Runs the server (and the demo set-up) until a signal arrives.
pub async fn serve(settings: Settings, demo: Option<DemoOptions>) -> Result<()> {
    // The certificate first: a wrong file stops the start before anything
    // is opened or created.
    let https = tls::Https::from_settings(&settings)?;
    let gate = startup::open_gate(&settings).await?;
    let demo_password = match &demo {
        Some(opts) => Some(demo::prepare(&gate, &settings, opts.password.clone()).await?),
        None => None,
    };
    let mut app = tvgate_http::App::new(
        gate.clone(),
        startup::http_settings(&settings)?,
        startup::builtins()?,
    );
    app.importer = Some(startup::importer(
        gate.clone(),
        &settings,
        app.settings.egress.clone(),
    ));
    if !settings.ledger_url.is_empty() {
        startup::share_through_redis(&settings, &mut app).await?;
    }
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let https_listener = match &https {
        Some(h) => Some(h.bind(&settings).await?),
        None => None,
    };
    let https_addr = match &https_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let shutdown = CancellationToken::new();
    let sessions = (app.admin_sessions.clone(), app.portal.clone());
    let watcher = tokio::spawn(watch_store(gate.clone(), shutdown.clone(), move || {
        sessions.0.forget_all();
        sessions.1.forget_all();
    }));
    tokio::spawn(upgrade_hashes(gate.clone(), shutdown.clone()));
    tls::reload_on_hangup(https.map(|h| (h.files, h.cert)), shutdown.clone());
    let (lines, entries) = (gate.lines().len(), gate.catalog().entry_count());
    match https_addr {
        Some(https_addr) => {
            tracing::info!(%addr, %https_addr, lines, entries, "tvgate listening")
        }
        None => tracing::info!(%addr, lines, entries, "tvgate listening"),
    }
    if let (Some(opts), Some(password)) = (&demo, &demo_password) {
        let base = match &settings.public_url {
            p if !p.is_empty() => p.trim_end_matches('/').to_string(),
            _ => format!("http://{addr}"),
        };
        let mut d = demo::details(&base, password);
        if let Some(https_addr) = https_addr {
            d["https_server"] = format!("https://{https_addr}").into();
        }
        if opts.json {
            println!("{d}");
        } else {
            println!("tvgate demo is running. Log in to any Xtream Codes player with:\n");
            let keys = [
                "server",
                "https_server",
                "username",
                "password",
                "m3u_url",
                "xmltv_url",
                "example_stream",
            ];
            for key in keys.into_iter().filter(|k| d.get(k).is_some()) {
                println!(
                    "  {:<15} {}",
                    key.replace('_', " "),
                    d[key].as_str().unwrap_or("")
                );
            }
            println!("\nPress Ctrl-C to stop.");
        }
    }
    let stop = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    tvgate_http::serve_with_tls(listener, https_listener, app, shutdown.clone())
        .await
        .context("serving")?;
    shutdown.cancel();
    let _ = watcher.await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Re-hashes imported lines at full cost after their first login, one at a
/// time and resting as long as each took (at most half a core), so a login
/// never waits for it.
pub async fn upgrade_hashes(gate: Arc<tvgate_core::gate::Gate>, shutdown: CancellationToken) {
    loop {
        let started = std::time::Instant::now();
        match gate.upgrade_next().await {
            // Rest as long as the hash took: upgrades use at most half a core.
            Ok(true) => {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(started.elapsed()) => {}
                }
                continue;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "upgrading a password hash failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
}

/// Reloads lines and the catalog when another process (the CLI) or node
/// changed the store, so `tvgate line add` takes effect on a running
/// server. A store that notifies (PostgreSQL) is listened to, and a change
/// is reloaded as soon as it commits; its change stamp is still polled
/// every 30 seconds, in case a notification was lost. A store that cannot
/// notify (SQLite) is polled every second. `on_sessions` runs when a
/// session was ended elsewhere (the faces drop the sessions they hold).
pub async fn watch_store(
    gate: Arc<tvgate_core::gate::Gate>,
    shutdown: CancellationToken,
    on_sessions: impl Fn() + Send + 'static,
) {
    use futures::{FutureExt, StreamExt};
    use tvgate_core::ports::Change;
    let mut changes = gate.watch();
    let poll_every = std::time::Duration::from_secs(if changes.is_some() { 30 } else { 1 });
    // An interval, not a sleep per turn: a steady flow of notifications
    // must not keep postponing the poll.
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + poll_every, poll_every);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = gate.change_stamp().await.ok().flatten();
    loop {
        let (mut lines, mut catalog, mut sessions) = (false, false, false);
        let mut note = |change: Change| match change {
            Change::Lines => lines = true,
            Change::Catalog => catalog = true,
            Change::Sessions => sessions = true,
            Change::Resync => (lines, catalog, sessions) = (true, true, true),
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            change = async {
                match changes.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(change) = change else {
                    // The stream ended (it should not): poll from now on.
                    changes = None;
                    continue;
                };
                note(change);
                // Whatever else arrived meanwhile is reloaded once with it.
                if let Some(stream) = changes.as_mut() {
                    while let Some(Some(more)) = stream.next().now_or_never() {
                        note(more);
                    }
                }
            }
            _ = poll.tick() => {
                let Ok(Some(now)) = gate.change_stamp().await else {
                    continue;
                };
                if let Some(prev) = last {
                    lines = prev.lines != now.lines;
                    catalog = prev.catalog != now.catalog;
                }
                last = Some(now);
            }
        }
        if lines || catalog {
            // Read before reloading: a change committed after this is
            // notified or seen by the next poll.
            if let Ok(Some(now)) = gate.change_stamp().await {
                last = Some(now);
            }
        }
        if lines {
            if let Err(e) = gate.reload_lines().await {
                tracing::warn!(error = %e, "reloading lines failed");
            }
        }
        if catalog {
            if let Err(e) = gate.reload_catalog().await {
                tracing::warn!(error = %e, "reloading the catalog failed");
            }
        }
        if sessions {
            on_sessions();
        }
    }
}
