//! The command line: `kubectl prepull status|why|nodes`, with kubectl's connection flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Image pull jobs (apps.kruise.io ImagePullJob, ImageListPullJob) as progress, causes and
/// node lists.
///
/// Examples:
///   kubectl prepull status pull-hello --watch
///   kubectl prepull status imagelistpulljob/pull-list -n apps
///   kubectl prepull why pull-missing
///   kubectl prepull nodes demo/hello:v1 -o json
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-prepull",
    bin_name = "kubectl prepull",
    version,
    verbatim_doc_comment
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text, global = true)]
    pub output: Output,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the cluster is, as kubectl's flags say it.
#[derive(Debug, Args)]
pub struct Connection {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true)]
    pub context: Option<String>,

    /// The namespace of the job (default: the context's namespace, else `default`).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and progress bars.
    Text,
    /// One JSON document (one per line with --watch).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Each node's pull of the job's image(s): phase, a progress bar, rate and ETA.
    Status {
        /// NAME (an ImagePullJob, else an ImageListPullJob), imagepulljob/NAME or
        /// imagelistpulljob/NAME.
        job: String,
        /// Redraw until the job completes.
        #[arg(short = 'w', long)]
        watch: bool,
        /// Seconds between redraws with --watch.
        #[arg(long, default_value = "1", value_parser = parse_interval)]
        interval: Duration,
    },
    /// The job's failed pulls grouped by cause, with what to do about each.
    Why {
        /// NAME, imagepulljob/NAME or imagelistpulljob/NAME.
        job: String,
    },
    /// Which nodes hold IMAGE (or are pulling it), with tags, phases and the owning jobs.
    Nodes {
        /// An image reference: `repo` (every tag) or `repo:tag` / `repo@digest` (that one).
        image: String,
    },
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.1..=3600.0).contains(&seconds) {
        return Err("the interval must be between 0.1 and 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}
