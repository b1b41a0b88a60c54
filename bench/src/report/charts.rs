//! PNG charts: write latency versus concurrency, and memory versus object count.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow, bail};
use plotters::prelude::*;
use plotters::style::FontStyle;
use serde_json::Value;

use super::rss_per_10k_kib;

/// Fonts tried for the charts' text (Debian's fonts-dejavu-core; bench/run.sh installs it).
const FONT_FILES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];
const SIZE: (u32, u32) = (960, 560);
const CRD_COLOR: RGBColor = RGBColor(200, 60, 40);
const OUR_COLOR: RGBColor = RGBColor(30, 100, 200);

/// Registers a system font as `sans-serif` once.
fn font() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let Some(bytes) = FONT_FILES.iter().find_map(|f| std::fs::read(f).ok()) else {
                return Err(format!(
                    "no font for the charts in {FONT_FILES:?}: apt-get install fonts-dejavu-core"
                ));
            };
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes.leak())
                .map_err(|_| "the chart font could not be read".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// p99 latency of each write operation at 1, 16 and 64 clients, both systems, log scales.
pub fn write_latency(results: &Value, path: &Path) -> Result<()> {
    font()?;
    let mut series = Vec::new();
    let mut max: f64 = 1.0;
    for (key, color) in [("crd", CRD_COLOR), ("prepull", OUR_COLOR)] {
        let system = &results["systems"][key];
        for (op, dashed) in [("create", false), ("update", true), ("status_patch", false)] {
            let points: Vec<(f64, f64)> = ["1", "16", "64"]
                .iter()
                .filter_map(|c| {
                    let p99 = system["writes"][op][*c]["p99_ms"].as_f64()?;
                    Some((c.parse().ok()?, p99.max(0.01)))
                })
                .collect();
            max = points.iter().map(|p| p.1).fold(max, f64::max);
            let label = format!("{} {op}", system["name"].as_str().unwrap_or(key));
            series.push((label, color, dashed, points));
        }
    }
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Write latency p99 versus concurrent clients",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((1.0f64..64.0).log_scale(), (0.1f64..max * 2.0).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("p99 latency, ms")
        .draw()
        .map_err(plot_error)?;
    for (label, color, dashed, points) in series {
        let style = if dashed {
            color.mix(0.5).stroke_width(2)
        } else {
            color.stroke_width(2)
        };
        chart
            .draw_series(LineSeries::new(points.clone(), style))
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

/// Server RSS at start, with `objects` and with `large_objects` NodeImages, both systems.
pub fn write_memory(results: &Value, path: &Path) -> Result<()> {
    font()?;
    let setup = &results["setup"];
    let counts = [
        0.0,
        setup["objects"].as_f64().unwrap_or(0.0),
        setup["large_objects"].as_f64().unwrap_or(0.0),
    ];
    let mut series = Vec::new();
    let mut max: f64 = 1.0;
    for (key, color) in [("crd", CRD_COLOR), ("prepull", OUR_COLOR)] {
        let system = &results["systems"][key];
        let memory = &system["memory"];
        let points: Vec<(f64, f64)> = [
            &memory["idle"],
            &memory["objects"],
            &memory["large_objects"],
        ]
        .iter()
        .zip(counts)
        .filter_map(|(sample, n)| Some((n, sample["rss_kib"].as_f64()? / 1024.0)))
        .collect();
        if points.len() != 3 {
            bail!("{key}: memory samples missing");
        }
        max = points.iter().map(|p| p.1).fold(max, f64::max);
        let per_10k = rss_per_10k_kib(system, setup).unwrap_or(f64::NAN) / 1024.0;
        let label = format!(
            "{} ({per_10k:.0} MiB per 10k)",
            system["name"].as_str().unwrap_or(key)
        );
        series.push((label, color, points));
    }
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Server memory versus NodeImages (2 KB each)",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0f64..counts[2] * 1.05, 0.0f64..max * 1.15)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("NodeImages")
        .y_desc("RSS, MiB")
        .draw()
        .map_err(plot_error)?;
    for (label, color, points) in series {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a chart: {error}")
}
