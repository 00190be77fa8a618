//! Learning curves of a run, drawn from its `log.jsonl` into a PNG: losses per epoch, and
//! the validation subjects' brain SSIM and PSNR (model space) per epoch.

use std::path::Path;

use plotters::prelude::*;

use super::EpochLog;

/// One curve: its legend, its (epoch, value) points and its colour.
type Series<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

/// Pixel size of the figure.
const SIZE: (u32, u32) = (1200, 800);

/// Read a run's `log.jsonl` (one [`EpochLog`] per line).
pub fn read_log(path: &Path) -> Result<Vec<EpochLog>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Draw the curves of `logs` into `png` (written atomically). `title` heads the figure;
/// `validated` says which scenarios the validation figures are of (`TrainConfig::validation_label`).
pub fn draw_curves(
    logs: &[EpochLog],
    title: &str,
    validated: &str,
    png: &Path,
) -> Result<(), String> {
    if logs.is_empty() {
        return Err("the run has no finished epoch yet".into());
    }
    register_font();
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 26))
            .map_err(|e| e.to_string())?;
        let panels = root.split_evenly((1, 3));
        let epochs = |f: &dyn Fn(&EpochLog) -> Option<f64>| -> Vec<(f64, f64)> {
            logs.iter()
                .filter_map(|l| f(l).map(|v| (l.epoch as f64, v)))
                .collect()
        };
        // Each method logs the losses it has (MM-Synthesis: reconstruction and
        // embedding, no adversary): draw those, named for what they are.
        let present = |f: &dyn Fn(&EpochLog) -> f64| {
            let points = epochs(&|l| Some(f(l)));
            let any = points.iter().any(|&(_, v)| v != 0.0);
            any.then_some(points)
        };
        let embedding = present(&|l| l.loss_embedding);
        let l1_name = if embedding.is_none() {
            "generator L1 (synthesized sequences)"
        } else {
            "reconstruction L1"
        };
        let mut losses: Vec<Series> = vec![(l1_name, epochs(&|l| Some(l.loss_l1)), BLUE)];
        if let Some(adv) = present(&|l| l.loss_adv) {
            losses.push(("generator adversarial", adv, RED));
        }
        if let Some(d) = present(&|l| l.loss_d) {
            losses.push(("discriminator", d, BLACK));
        }
        if let Some(embedding) = embedding {
            losses.push(("embedding", embedding, MAGENTA));
        }
        // The structural term, for the epochs that trained with it.
        let ssim_term = epochs(&|l| (l.loss_ssim > 0.0).then_some(l.loss_ssim));
        if !ssim_term.is_empty() {
            losses.push(("generator 1 - brain SSIM", ssim_term, GREEN));
        }
        let distribution_term =
            epochs(&|l| (l.loss_distribution > 0.0).then_some(l.loss_distribution));
        if !distribution_term.is_empty() {
            losses.push((
                "generator brain histogram distance",
                distribution_term,
                CYAN,
            ));
        }
        chart(&panels[0], "training losses", "loss", &losses)?;
        let (ssim_label, psnr_label) = (
            format!("brain SSIM, {validated}"),
            format!("brain PSNR, {validated}"),
        );
        let ssim = [(
            ssim_label.as_str(),
            epochs(&|l| l.test_brain.map(|q| q.ssim)),
            BLUE,
        )];
        chart(&panels[1], "validation SSIM", "SSIM", &ssim)?;
        let psnr = [(
            psnr_label.as_str(),
            epochs(&|l| l.test_brain.map(|q| q.psnr)),
            RED,
        )];
        chart(&panels[2], "validation PSNR", "PSNR (dB)", &psnr)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let image = image::RgbImage::from_raw(SIZE.0, SIZE.1, rgb)
        .ok_or_else(|| "the figure buffer has the wrong size".to_string())?;
    let mut encoded = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut encoded),
            image::ImageFormat::Png,
        )
        .map_err(|e| e.to_string())?;
    crate::io::write_atomic(png, &encoded).map_err(|e| format!("{}: {e}", png.display()))
}

/// One panel: each series as a line with points, a legend, axes fitted to the data.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let points = series.iter().flat_map(|(_, s, _)| s.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    // A band below the data for the legend (lower right), so that it hides no point.
    let legend_band = (y1 - y0).max(1e-3) * 0.06 * series.len() as f64;
    let mut c = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - 0.5)..(x1 + 0.5), (y0 - pad - legend_band)..(y1 + pad))
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("epoch")
        .x_labels(((x1 - x0) as usize + 2).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (name, data, colour) in series {
        let colour = *colour;
        c.draw_series(LineSeries::new(
            data.iter().copied(),
            colour.stroke_width(2),
        ))
        .map_err(err)?
        .label(*name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        c.draw_series(data.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// plotters draws text with ab_glyph from a registered font: egui's own UI font, already
/// in the binary.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only on a malformed font, which the bundled one is not.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Quality;

    #[test]
    fn curves_are_drawn_into_a_png() {
        let logs: Vec<EpochLog> = (1..=4)
            .map(|e| EpochLog {
                epoch: e,
                batches: 10,
                scenarios: "10..=13".into(),
                loss_g: 0.2 / e as f64,
                loss_adv: 0.3,
                loss_l1: 0.1 / e as f64,
                loss_d: 0.25,
                loss_embedding: 0.0,
                loss_ssim: 0.0,
                loss_distribution: 0.0,
                seconds: 1.0,
                test: None,
                test_brain: Some(Quality {
                    mse: 0.01,
                    psnr: 18.0 + e as f64,
                    ssim: 0.5 + 0.05 * e as f64,
                }),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("curves.png");
        draw_curves(&logs, "test run", "one missing", &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        // Lines in colour, not a blank page.
        let blue = img.pixels().filter(|p| p[2] > 200 && p[0] < 60).count();
        let red = img.pixels().filter(|p| p[0] > 200 && p[2] < 60).count();
        assert!(blue > 200 && red > 200, "blue {blue}, red {red}");
        assert!(draw_curves(&[], "empty", "one missing", &png).is_err());
        let magenta = |img: &image::RgbImage| {
            img.pixels()
                .filter(|p| p[0] > 200 && p[2] > 200 && p[1] < 60)
                .count()
        };
        assert_eq!(magenta(&img), 0, "no embedding loss, no embedding curve");

        // MM-Synthesis logs an embedding loss and no adversary: its curve is drawn.
        let mmsynthesis: Vec<EpochLog> = logs
            .into_iter()
            .map(|l| EpochLog {
                loss_adv: 0.0,
                loss_d: 0.0,
                loss_embedding: 0.05,
                ..l
            })
            .collect();
        draw_curves(&mmsynthesis, "test run", "one missing", &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert!(magenta(&img) > 200, "embedding {}", magenta(&img));
    }
}
