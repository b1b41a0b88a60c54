//! `kubectl prepull`: a kubectl plugin (any `kubectl-prepull` on PATH) showing image pull
//! jobs as per-node progress bars (`status`, `--watch`), their failures grouped by cause with
//! advice (`why`), and which nodes hold an image (`nodes`).

mod causes;
mod cli;
mod client;
mod model;
mod progress;
mod render;

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use clap::Parser;
use jiff::Timestamp;

use crate::cli::{Cli, Command, Output};
use crate::client::{Cluster, JobName};
use crate::model::{JobReport, nodes_holding};

/// Clears a terminal and puts the cursor home (between --watch redraws).
const CLEAR: &str = "\x1b[H\x1b[2J";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let cluster = Cluster::connect(&cli.connection).await?;
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Status {
            job,
            watch,
            interval,
        } => {
            let name = JobName::parse(&job)?;
            let terminal = std::io::stdout().is_terminal();
            loop {
                let report = job_report(&cluster, &name).await?;
                let text = match cli.output {
                    Output::Json => {
                        let json = render::StatusJson {
                            report: &report,
                            overall_percent: render::overall_percent(&report),
                        };
                        // One document per line while watching, pretty otherwise.
                        let mut text = if watch {
                            serde_json::to_string(&json)?
                        } else {
                            serde_json::to_string_pretty(&json)?
                        };
                        text.push('\n');
                        text
                    }
                    Output::Text => {
                        let text = render::status_text(&report, Timestamp::now());
                        if watch && terminal {
                            format!("{CLEAR}{text}")
                        } else {
                            text
                        }
                    }
                };
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
                if !watch || report.completed {
                    return Ok(());
                }
                if cli.output == Output::Text && !terminal {
                    writeln!(stdout)?;
                }
                tokio::time::sleep(interval).await;
            }
        }
        Command::Why { job } => {
            let report = job_report(&cluster, &JobName::parse(&job)?).await?;
            match cli.output {
                Output::Json => {
                    let json = render::WhyJson {
                        kind: &report.kind,
                        namespace: &report.namespace,
                        name: &report.name,
                        failed: report.failures().count(),
                        causes: render::causes(&report),
                    };
                    writeln!(stdout, "{}", serde_json::to_string_pretty(&json)?)?;
                }
                Output::Text => stdout.write_all(render::why_text(&report).as_bytes())?,
            }
            Ok(())
        }
        Command::Nodes { image } => {
            let node_images = cluster.node_images().await?.items;
            let Some(rows) = nodes_holding(&image, &node_images) else {
                bail!("{image:?} is not an image reference (e.g. demo/hello, demo/hello:v1)");
            };
            match cli.output {
                Output::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&rows)?)?,
                Output::Text => stdout.write_all(render::nodes_text(&image, &rows).as_bytes())?,
            }
            Ok(())
        }
    }
}

async fn job_report(cluster: &Cluster, name: &JobName) -> Result<JobReport> {
    let job = cluster.job(name).await?;
    let node_images = cluster
        .node_images()
        .await
        .context("reading the nodes' pulls")?
        .items;
    Ok(JobReport::new(&job, &node_images))
}
