//! Crash safety of the embedded store: a writer process is SIGKILLed at random moments, over
//! and over, and after each kill the store must hold every write it acknowledged, with a
//! change log of consecutive revisions from 1.
//!
//! A custom harness (`harness = false`): this binary is both sides. Started with
//! [`WRITER_DIR_ENV`] set it is the writer (`writer.rs`), printing an ack per acknowledged
//! write; otherwise it is the test, which starts itself as the writer [`KILLS`] times, kills it
//! after a random delay, reads the acks it printed and checks the store (`check.rs`).
//! `PREPULL_CRASH_SEED=<n>` replays the kill delays of a failed run.
//!
//! `cargo test -p prepull-storage --test crash_safety`

mod ack;
mod check;
mod writer;

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

const NAME: &str = "sigkilled_writers_lose_no_acknowledged_write";
const WRITER_DIR_ENV: &str = "PREPULL_CRASH_WRITER_DIR";
const WRITER_RUN_ENV: &str = "PREPULL_CRASH_WRITER_RUN";
const SEED_ENV: &str = "PREPULL_CRASH_SEED";
const KILLS: u32 = 24;
/// Kills land anywhere from the writer's start (opening and recovering the file) to this.
const MAX_KILL_DELAY: Duration = Duration::from_millis(400);

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Some(dir) = std::env::var_os(WRITER_DIR_ENV) {
        let run = std::env::var(WRITER_RUN_ENV)
            .ok()
            .and_then(|run| run.parse().ok())
            .expect("the writer's run number");
        runtime.block_on(writer::write_until_killed(&PathBuf::from(dir), run));
        return ExitCode::SUCCESS;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !NAME.contains(filter.as_str())
    {
        println!("running 0 tests");
        return ExitCode::SUCCESS;
    }
    println!("running 1 test");
    match runtime.block_on(kill_and_check()) {
        Ok(summary) => {
            println!("{summary}");
            println!("test {NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!(
                "test {NAME} ... FAILED\n\n{failure}\n\ntest result: FAILED. 0 passed; 1 failed"
            );
            ExitCode::FAILURE
        }
    }
}

async fn kill_and_check() -> Result<String, String> {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let fail = |detail: String| format!("{detail}\n(replay with {SEED_ENV}={seed})");
    let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
    let exe = std::env::current_exe().map_err(|err| err.to_string())?;
    let started = Instant::now();
    let mut acks = Vec::new();
    let mut revision = 0;
    let mut killed_before_any_ack = 0;
    for run in 0..KILLS {
        let mut child = Command::new(&exe)
            .env(WRITER_DIR_ENV, dir.path())
            .env(WRITER_RUN_ENV, run.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("starting the writer: {err}"))?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        // Drained all along, so the writer never blocks on a full pipe.
        let output = tokio::spawn(async move {
            let mut bytes = Vec::new();
            stdout.read_to_end(&mut bytes).await.map(|_| bytes)
        });
        let errors = tokio::spawn(async move {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes).await;
            String::from_utf8_lossy(&bytes).into_owned()
        });
        // The kill moment is the point of the test, not a wait for an event.
        let delay = MAX_KILL_DELAY.mul_f64(rng.f64());
        tokio::time::sleep(delay).await;
        child
            .start_kill()
            .map_err(|err| format!("SIGKILL: {err}"))?;
        let status = child.wait().await.map_err(|err| err.to_string())?;
        let output = output
            .await
            .map_err(|err| err.to_string())?
            .map_err(|err| err.to_string())?;
        let errors = errors.await.map_err(|err| err.to_string())?;
        if errors.contains("panicked") {
            return Err(fail(format!("the writer of run {run} failed: {errors}")));
        }
        if status.success() {
            return Err(fail(format!(
                "the writer of run {run} exited before the kill: {errors}"
            )));
        }
        let mine = ack::complete_acks(&output).map_err(&fail)?;
        if mine.is_empty() {
            killed_before_any_ack += 1;
        }
        if let Some(stale) = mine.iter().find(|ack| ack.revision <= revision) {
            return Err(fail(format!(
                "run {run} acknowledged revision {} though run {} ended at {revision}",
                stale.revision,
                run.saturating_sub(1)
            )));
        }
        acks.extend(mine);
        revision = check::check_after_kill(dir.path(), &acks, revision)
            .await
            .map_err(|detail| {
                fail(format!(
                    "after kill {} ({delay:?} after the start): {detail}\nwriter stderr:\n{errors}",
                    run + 1
                ))
            })?;
    }
    Ok(format!(
        "crash safety: {KILLS} SIGKILLs ({killed_before_any_ack} before the first ack), {} writes \
         acknowledged, 0 lost, {revision} revisions without a gap, in {:.1?} (seed {seed})",
        acks.len(),
        started.elapsed()
    ))
}
