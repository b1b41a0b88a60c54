//! Text and JSON views of the reports.

use std::collections::BTreeMap;
use std::fmt::Write;

use jiff::Timestamp;
use serde::Serialize;

use crate::causes::{Cause, classify};
use crate::model::{JobReport, NodeTag};
use crate::progress::{BAR_WIDTH, bar, elapsed, eta, rate, short_duration};

/// Columns padded to their widest cell, two spaces apart; trailing spaces trimmed.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Header line of a job.
fn headline(report: &JobReport) -> String {
    let state = if report.completed {
        "completed"
    } else {
        "running"
    };
    format!(
        "{} {}/{}: {state}, desired {}, active {}, succeeded {}, failed {}",
        report.kind.to_ascii_lowercase(),
        report.namespace,
        report.name,
        report.desired,
        report.active,
        report.succeeded,
        report.failed
    )
}

/// `status`: the job, then one row per node and image with a progress bar.
pub fn status_text(report: &JobReport, now: Timestamp) -> String {
    let mut out = headline(report);
    out.push('\n');
    if !report.message.is_empty() {
        let _ = writeln!(out, "message: {}", report.message);
    }
    if report.pulls.is_empty() {
        out.push_str("no node has a pull of this job yet\n");
        return out;
    }
    let many_images = report.images.len() > 1;
    let mut rows = vec![{
        let mut header = vec!["NODE".to_string()];
        if many_images {
            header.push("IMAGE".into());
        }
        header.extend(["PHASE", "PROGRESS", "RATE", "ELAPSED", "ETA"].map(String::from));
        header
    }];
    for pull in &report.pulls {
        let mut row = vec![pull.node.clone()];
        if many_images {
            row.push(pull.image.clone());
        }
        row.push(pull.phase.clone());
        row.push(format!(
            "{} {:>3}%",
            bar(pull.progress, BAR_WIDTH),
            pull.progress
        ));
        row.push(
            rate(pull, now)
                .map(|r| format!("{r:.1}%/s"))
                .unwrap_or_else(|| "-".into()),
        );
        row.push(
            elapsed(pull, now)
                .map(short_duration)
                .unwrap_or_else(|| "-".into()),
        );
        row.push(
            eta(pull, now)
                .map(short_duration)
                .unwrap_or_else(|| "-".into()),
        );
        rows.push(row);
    }
    out.push_str(&table(&rows));
    let done = report
        .pulls
        .iter()
        .filter(|p| p.phase == "Succeeded")
        .count();
    let _ = writeln!(
        out,
        "{done}/{} pulls done {}",
        report.pulls.len(),
        bar(overall_percent(report), BAR_WIDTH)
    );
    out
}

/// The mean progress over the pulls (finished and failed count as 100).
pub fn overall_percent(report: &JobReport) -> i32 {
    if report.pulls.is_empty() {
        return 0;
    }
    let sum: i64 = report
        .pulls
        .iter()
        .map(|p| match p.phase.as_str() {
            "Succeeded" | "Failed" | "Missing" => 100,
            _ => i64::from(p.progress),
        })
        .sum();
    i32::try_from(sum / i64::try_from(report.pulls.len()).unwrap_or(1)).unwrap_or(100)
}

/// `status -o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusJson<'a> {
    #[serde(flatten)]
    pub report: &'a JobReport,
    pub overall_percent: i32,
}

/// Failures of one cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CauseGroup {
    pub cause: Cause,
    pub title: &'static str,
    pub advice: &'static str,
    /// `node` or `node (image)` when the job has several images.
    pub nodes: Vec<String>,
    /// The distinct messages, as the runtime or scheduler wrote them.
    pub messages: Vec<String>,
}

/// `why -o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhyJson<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub failed: usize,
    pub causes: Vec<CauseGroup>,
}

/// The failed pulls of `report` grouped by cause, most frequent first.
pub fn causes(report: &JobReport) -> Vec<CauseGroup> {
    let many_images = report.images.len() > 1;
    let mut groups: BTreeMap<Cause, CauseGroup> = BTreeMap::new();
    for pull in report.failures() {
        let cause = classify(&pull.phase, &pull.message);
        let group = groups.entry(cause).or_insert_with(|| CauseGroup {
            cause,
            title: cause.title(),
            advice: cause.advice(),
            nodes: Vec::new(),
            messages: Vec::new(),
        });
        group.nodes.push(if many_images {
            format!("{} ({})", pull.node, pull.image)
        } else {
            pull.node.clone()
        });
        if !pull.message.is_empty() && !group.messages.contains(&pull.message) {
            group.messages.push(pull.message.clone());
        }
    }
    let mut groups: Vec<CauseGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.nodes
            .len()
            .cmp(&a.nodes.len())
            .then(a.cause.cmp(&b.cause))
    });
    groups
}

/// `why`: one paragraph per cause.
pub fn why_text(report: &JobReport) -> String {
    let mut out = headline(report);
    out.push('\n');
    let groups = causes(report);
    if groups.is_empty() {
        out.push_str(if report.completed {
            "no pull failed\n"
        } else {
            "no pull has failed so far\n"
        });
        return out;
    }
    for group in groups {
        let _ = writeln!(
            out,
            "\n{} ({} node{}): {}",
            group.title,
            group.nodes.len(),
            if group.nodes.len() == 1 { "" } else { "s" },
            group.nodes.join(", ")
        );
        for message in &group.messages {
            let _ = writeln!(out, "  message: {message}");
        }
        let _ = writeln!(out, "  what to do: {}", group.advice);
    }
    out
}

/// `nodes`: one row per node and tag.
pub fn nodes_text(image: &str, rows: &[NodeTag]) -> String {
    if rows.is_empty() {
        return format!("no node holds or pulls {image}\n");
    }
    let mut table_rows = vec![
        [
            "NODE", "IMAGE", "TAG", "PHASE", "PROGRESS", "JOBS", "IMAGE ID",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for row in rows {
        table_rows.push(vec![
            row.node.clone(),
            row.image.clone(),
            row.tag.clone(),
            if row.phase.is_empty() {
                "-".into()
            } else {
                row.phase.clone()
            },
            format!("{}%", row.progress),
            if row.jobs.is_empty() {
                "-".into()
            } else {
                row.jobs.join(",")
            },
            if row.image_id.is_empty() {
                "-".into()
            } else {
                row.image_id.clone()
            },
        ]);
    }
    table(&table_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodePull;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn pull(node: &str, phase: &str, progress: i32, message: &str) -> NodePull {
        NodePull {
            node: node.into(),
            image: "demo/hello:v1".into(),
            phase: phase.into(),
            progress,
            start_time: Some(at(1_000)),
            completion_time: (phase == "Succeeded" || phase == "Failed").then(|| at(1_010)),
            message: message.into(),
        }
    }

    fn report(pulls: Vec<NodePull>) -> JobReport {
        JobReport {
            kind: "ImagePullJob".into(),
            namespace: "default".into(),
            name: "pull-hello".into(),
            images: vec!["demo/hello:v1".into()],
            desired: 3,
            active: 1,
            succeeded: 1,
            failed: 1,
            completed: false,
            message: String::new(),
            pulls,
        }
    }

    #[test]
    fn status_shows_a_bar_rate_and_eta_per_node() {
        let r = report(vec![
            pull("node-1", "Succeeded", 100, ""),
            pull("node-2", "Pulling", 25, ""),
            pull("node-3", "Failed", 0, "x: not found"),
        ]);
        let text = status_text(&r, at(1_020));
        let expected = "\
imagepulljob default/pull-hello: running, desired 3, active 1, succeeded 1, failed 1
NODE    PHASE      PROGRESS                         RATE     ELAPSED  ETA
node-1  Succeeded  [########################] 100%  10.0%/s  10s      -
node-2  Pulling    [######------------------]  25%  1.2%/s   20s      1m00s
node-3  Failed     [------------------------]   0%  -        10s      -
1/3 pulls done [##################------]
";
        assert_eq!(text, expected);
        assert_eq!(overall_percent(&r), 75);
    }

    #[test]
    fn why_groups_failures_by_cause_with_advice() {
        let mut r = report(vec![
            pull("node-1", "Failed", 0, "rpc error: x: not found"),
            pull("node-2", "Failed", 0, "rpc error: x: not found"),
            pull("node-3", "Failed", 0, "401 Unauthorized"),
            pull("node-4", "Succeeded", 100, ""),
        ]);
        r.pulls.push(NodePull {
            phase: "Missing".into(),
            ..pull("node-9", "Missing", 0, "")
        });
        let groups = causes(&r);
        let summary: Vec<(Cause, Vec<String>, usize)> = groups
            .iter()
            .map(|g| (g.cause, g.nodes.clone(), g.messages.len()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    Cause::MissingImage,
                    vec!["node-1".into(), "node-2".into()],
                    1
                ),
                (Cause::Auth, vec!["node-3".into()], 1),
                (Cause::NoSuchNode, vec!["node-9".into()], 0),
            ]
        );
        let text = why_text(&r);
        assert!(text.contains("image not found (2 nodes): node-1, node-2\n  message: rpc error: x: not found\n  what to do: The registry has no such"), "{text}");
        assert!(
            text.contains("registry authentication (1 node): node-3"),
            "{text}"
        );
        assert!(text.contains("spec.pullSecrets"), "{text}");
        assert!(
            why_text(&report(vec![pull("n", "Pulling", 5, "")]))
                .ends_with("no pull has failed so far\n")
        );
    }

    #[test]
    fn nodes_lists_each_tag_with_its_jobs() {
        let rows = vec![NodeTag {
            node: "node-1".into(),
            image: "demo/hello".into(),
            tag: "v1".into(),
            phase: "Succeeded".into(),
            progress: 100,
            image_id: "sha256:abc".into(),
            jobs: vec!["default/pull-hello".into()],
        }];
        assert_eq!(
            nodes_text("demo/hello", &rows),
            "NODE    IMAGE       TAG  PHASE      PROGRESS  JOBS                IMAGE ID\n\
             node-1  demo/hello  v1   Succeeded  100%      default/pull-hello  sha256:abc\n"
        );
        assert_eq!(nodes_text("x", &[]), "no node holds or pulls x\n");
    }
}
