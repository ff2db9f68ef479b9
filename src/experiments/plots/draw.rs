//! Two chart kinds drawn with plotters into an RGB buffer and written as PNG: a heatmap
//! (layers x experts) and a metric against the values of one parameter. The text face is
//! DejaVu Sans, shipped in `assets/fonts` (no system fonts are looked up).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub const FAMILY: &str = "sans-serif";

fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the plot font could not be read".into())
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing a plot failed: {e}")
}

/// Write an RGB buffer as a PNG file.
pub fn write_png(path: &Path, buf: &[u8], w: u32, h: u32) -> Result<(), String> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(buf).map_err(err)?;
    writer.finish().map_err(err)
}

/// Sequential colour for a value in 0..=1: white to dark blue.
fn sequential(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    RGBColor(lerp(255.0, 8.0), lerp(255.0, 48.0), lerp(255.0, 107.0))
}

/// Diverging colour for a value in -1..=1: blue (negative), white (0), red (positive).
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let a = v.abs();
    let lerp = |x: f64, y: f64| (x + (y - x) * a).round() as u8;
    if v >= 0.0 {
        RGBColor(lerp(255.0, 178.0), lerp(255.0, 24.0), lerp(255.0, 43.0))
    } else {
        RGBColor(lerp(255.0, 33.0), lerp(255.0, 102.0), lerp(255.0, 172.0))
    }
}

/// A heatmap of `values[row][col]`; rows are labelled with `rows`. With `signed`, the
/// colours diverge around 0 (scaled by the largest magnitude), else run from 0 to the max.
pub fn heatmap(
    path: &Path,
    title: &str,
    rows: &[String],
    values: &[Vec<f64>],
    signed: bool,
) -> Result<(), String> {
    font()?;
    let cols = values.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let (w, h) = (
        (160 + cols * 36).max(480) as u32,
        (110 + rows.len().max(1) * 30).max(240) as u32,
    );
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let scale = values
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-12);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..cols as f64 - 0.5, -0.5f64..rows.len() as f64 - 0.5)
            .map_err(err)?;
        let row_label = |y: &f64| {
            let i = y.round();
            if (i - y).abs() < 1e-6 && i >= 0.0 {
                rows.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cols.min(32))
            .y_labels(rows.len().max(1))
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_label_formatter(&row_label)
            .x_desc(if signed {
                "expert (red: chosen more than in the baseline, blue: less)"
            } else {
                "expert (darker: chosen more often)"
            })
            .label_style((FAMILY, 12))
            .draw()
            .map_err(err)?;
        let cells = values.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, &v)| {
                let colour = if signed {
                    diverging(v / scale)
                } else {
                    sequential(v / scale)
                };
                Rectangle::new(
                    [
                        (c as f64 - 0.5, r as f64 - 0.5),
                        (c as f64 + 0.5, r as f64 + 0.5),
                    ],
                    colour.filled(),
                )
            })
        });
        chart.draw_series(cells).map_err(err)?;
        root.present().map_err(err)?;
    }
    write_png(path, &buf, w, h)
}

/// A metric (y) against the values of one parameter (x, one slot per value, labelled):
/// every run as a dot, the mean per value joined by a line.
pub fn metric_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    labels: &[String],
    points: &[(usize, f64)],
) -> Result<(), String> {
    font()?;
    let (w, h) = (640u32, 400u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(_, y)| {
            (a.min(y), b.max(y))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let means: Vec<(f64, f64)> = (0..labels.len())
        .filter_map(|i| {
            let ys: Vec<f64> = points.iter().filter(|p| p.0 == i).map(|p| p.1).collect();
            (!ys.is_empty()).then(|| (i as f64, ys.iter().sum::<f64>() / ys.len() as f64))
        })
        .collect();
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                -0.5f64..labels.len().max(1) as f64 - 0.5,
                (lo - pad)..(hi + pad),
            )
            .map_err(err)?;
        let x_label = |x: &f64| {
            let i = x.round();
            if (i - x).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(labels.len().max(1))
            .x_label_formatter(&x_label)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FAMILY, 12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(means.iter().copied(), BLUE.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x as f64, y), 4, RED.mix(0.6).filled())),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    write_png(path, &buf, w, h)
}
