//! The figure: server CPU per forwarded packet and end-to-end latency against listeners
//! (fan-out scenarios, medians), one series per target, as SVG.

use crate::results::Row;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::path::Path;

/// Picks one value of a row.
type Pick = fn(&Row) -> Option<f64>;
/// One drawn series: label, target index, dashed, points.
type Series = (String, usize, bool, Vec<(f64, f64)>);

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Points `(listeners, value)` of one target's fan-out medians.
fn series(rows: &[Row], target: &str, value: fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.target == target && r.scenario.starts_with("fanout-"))
        .filter_map(|r| Some((f64::from(r.listeners), value(r)?)))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Draws `medians` into `path` (SVG).
pub fn draw(medians: &[Row], machine: &str, path: &Path) -> anyhow::Result<()> {
    let mut targets: Vec<String> = Vec::new();
    for r in medians {
        if !targets.contains(&r.target) {
            targets.push(r.target.clone());
        }
    }
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.titled(
        &format!("Audio fan-out, 1 publisher -> N listeners (medians; {machine})"),
        ("sans-serif", 18),
    )?;
    let panels = body.split_evenly((1, 2));
    // Janus has no forwarded-packet counter: its figure is per packet its subscribers received
    // (for openchatd both agree within 1%).
    let cpu: [(&str, Pick); 1] = [("", |r| {
        r.server_us_per_fwd_packet.or(r.server_us_per_rx_packet)
    })];
    let lat: [(&str, Pick); 2] = [(" p50", |r| r.e2e_p50_ms), (" p99", |r| r.e2e_p99_ms)];
    panel(
        &panels[0],
        medians,
        &targets,
        "server CPU per forwarded packet (us)",
        &cpu,
        false,
    )?;
    panel(
        &panels[1],
        medians,
        &targets,
        "end-to-end latency, client to client (ms, log)",
        &lat,
        true,
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    rows: &[Row],
    targets: &[String],
    y_label: &str,
    values: &[(&str, Pick)],
    log_y: bool,
) -> anyhow::Result<()> {
    let mut all: Vec<Series> = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        for (vi, (suffix, pick)) in values.iter().enumerate() {
            let pts = series(rows, t, *pick);
            if !pts.is_empty() {
                all.push((format!("{t}{suffix}"), ti, vi > 0, pts));
            }
        }
    }
    let y_max = all
        .iter()
        .flat_map(|(_, _, _, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    if log_y {
        let y_min = all
            .iter()
            .flat_map(|(_, _, _, p)| p.iter().map(|(_, y)| *y))
            .fold(f64::INFINITY, f64::min)
            .clamp(1e-3, 1.0)
            * 0.8;
        let chart = ChartBuilder::on(area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((5f64..2000f64).log_scale(), (y_min..y_max).log_scale())?;
        draw_series(chart, all, y_label)
    } else {
        let chart = ChartBuilder::on(area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((5f64..2000f64).log_scale(), 0f64..y_max)?;
        draw_series(chart, all, y_label)
    }
}

/// Mesh, lines, points and legend of one panel.
fn draw_series<'a, Y>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<LogCoord<f64>, Y>>,
    all: Vec<Series>,
    y_label: &str,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("listeners")
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    for (label, ti, dashed, pts) in all {
        let color = COLORS[ti % COLORS.len()];
        let style = if dashed {
            color.mix(0.5).stroke_width(2)
        } else {
            color.stroke_width(2)
        };
        chart
            .draw_series(LineSeries::new(pts.clone(), style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
