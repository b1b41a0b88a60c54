//! A test harness (`harness = false` targets) for suites whose cases share one expensive setup
//! (a whole system of processes) and run one after the other: `cargo test --test T [FILTER]`
//! runs the cases whose names contain FILTER, prints `test <name> ... ok` per case, the
//! suite's logs when one fails, and exits non-zero when any failed. `--list` lists them.
//!
//! ```no_run
//! use prepull_testbed::case_harness::{Case, Suite};
//! async fn first(_shared: &mut String) -> anyhow::Result<()> { Ok(()) }
//! fn main() -> std::process::ExitCode {
//!     let cases = [prepull_testbed::case!(first)];
//!     Suite::new(&cases, std::time::Duration::from_secs(180))
//!         .run(|| async { Ok(String::new()) }, |shared| shared.clone())
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What a case returns.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// One named case over the shared setup `S`.
pub struct Case<S> {
    pub name: &'static str,
    pub run: for<'a> fn(&'a mut S) -> CaseFuture<'a>,
}

/// `case!(module::function)`: a [`Case`] named after the function, which takes `&S` or
/// `&mut S` and returns `anyhow::Result<()>`.
#[macro_export]
macro_rules! case {
    ($($path:ident)::+) => {
        $crate::case_harness::Case {
            name: $crate::case_harness::last_segment(stringify!($($path)::+)),
            run: |shared| Box::pin($($path)::+(shared)),
        }
    };
}

/// The function name in `module :: function` (as `stringify!` writes a path).
pub fn last_segment(path: &'static str) -> &'static str {
    path.rsplit("::").next().unwrap_or(path).trim()
}

impl<S> std::fmt::Debug for Case<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// The cases of one test target, each bounded in time.
#[derive(Debug)]
pub struct Suite<'c, S> {
    cases: &'c [Case<S>],
    bound: Duration,
}

impl<'c, S> Suite<'c, S> {
    /// `cases` in the order they run; each fails when it takes longer than `bound`.
    pub fn new(cases: &'c [Case<S>], bound: Duration) -> Suite<'c, S> {
        Suite { cases, bound }
    }

    /// Parses the command line, builds the shared setup with `setup` (only when a case is
    /// selected), runs the selected cases, and prints `logs` of the setup after a failure.
    pub fn run<F>(self, setup: impl FnOnce() -> F, logs: impl Fn(&S) -> String) -> ExitCode
    where
        F: Future<Output = anyhow::Result<S>>,
    {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--list") {
            for case in self.cases {
                println!("{}: test", case.name);
            }
            return ExitCode::SUCCESS;
        }
        let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
        let selected: Vec<&Case<S>> = self
            .cases
            .iter()
            .filter(|case| filter.as_deref().is_none_or(|f| case.name.contains(f)))
            .collect();
        if selected.is_empty() {
            println!("running 0 tests");
            return ExitCode::SUCCESS;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let failed = runtime.block_on(async {
            println!("running {} tests", selected.len());
            let started = Instant::now();
            let mut shared = match setup().await {
                Ok(shared) => shared,
                Err(err) => {
                    println!("the shared setup did not start: {err:#}");
                    return selected.len();
                }
            };
            println!("set up in {:.1?}", started.elapsed());
            let mut failed = 0;
            for case in &selected {
                let begun = Instant::now();
                let result = tokio::time::timeout(self.bound, (case.run)(&mut shared))
                    .await
                    .unwrap_or_else(|_| {
                        Err(anyhow::anyhow!(
                            "the case took longer than {:?}",
                            self.bound
                        ))
                    });
                match result {
                    Ok(()) => println!("test {} ... ok ({:.1?})", case.name, begun.elapsed()),
                    Err(err) => {
                        failed += 1;
                        // The cause first: a context may carry pages of process logs,
                        // and CI shows only the start and the end of the output.
                        println!(
                            "test {} ... FAILED ({:.1?})\ncause: {}\n{err:#}\n{}",
                            case.name,
                            begun.elapsed(),
                            err.root_cause(),
                            logs(&shared)
                        );
                    }
                }
            }
            println!("all cases in {:.1?}", started.elapsed());
            failed
        });
        println!(
            "\ntest result: {}. {} passed; {} failed",
            if failed == 0 { "ok" } else { "FAILED" },
            selected.len() - failed,
            failed
        );
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
