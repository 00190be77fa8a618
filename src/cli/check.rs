//! `mmgan check`: how well the model knows this patient. Each acquired sequence is
//! synthesized from the others and scored against itself (brain PSNR/SSIM, challenge
//! definition); figures far below the weights' validation figures mean synthesis is
//! unreliable for this study (not skull-stripped, other preprocessing, unusual scanner).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::eval::self_check;
use mmgan::io::Sequence;

use super::StudyArgs;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Sequences to leave out as inputs (the ones you will synthesize)
    #[arg(long, value_delimiter = ',')]
    pub missing: Vec<Sequence>,
    /// Weights folder (default: the shipped weights)
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &CheckArgs) -> anyhow::Result<()> {
    let study = a.study.open()?;
    let synth = Synthesizer::load(&super::weights_dir(&a.weights)?, a.backend)?;
    let results = self_check(&synth, &study, &a.missing, &AtomicBool::new(false))?;
    anyhow::ensure!(
        !results.is_empty(),
        "{}: the check needs at least two acquired sequences to use as inputs",
        study.subject
    );
    let validation = synth.meta().validation;
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "sequence": r.sequence.name(),
                "brain_psnr": r.quality.brain.psnr,
                "brain_ssim": r.quality.brain.ssim,
                "validation_psnr": r.validation.map(|v| v.psnr),
                "validation_ssim": r.validation.map(|v| v.ssim),
                "unreliable": r.unreliable,
            })
        })
        .collect();
    let any_unreliable = rows.iter().any(|r| r["unreliable"] == true);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "subject": study.subject,
                "sequences": rows,
                "unreliable": any_unreliable,
            }))?
        );
        return Ok(());
    }
    println!(
        "{}: each acquired sequence synthesized from the others (brain, challenge definition)",
        study.subject
    );
    println!("| sequence | brain PSNR | brain SSIM | validation PSNR | validation SSIM | |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let f = |v: &serde_json::Value, d: usize| {
            v.as_f64()
                .map(|x| format!("{x:.*}", d))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "| {} | {} dB | {} | {} | {} | {} |",
            r["sequence"].as_str().unwrap_or_default(),
            f(&r["brain_psnr"], 2),
            f(&r["brain_ssim"], 3),
            f(&r["validation_psnr"], 2),
            f(&r["validation_ssim"], 3),
            if r["unreliable"] == true {
                "far below validation"
            } else {
                ""
            }
        );
    }
    if any_unreliable {
        println!("WARNING: synthesis is unreliable for this study: the model reproduces its acquired sequences far worse than on its validation studies (not skull-stripped? other preprocessing or scanner?)");
    } else if validation.is_none() {
        println!("(these weights carry no validation figures to compare with)");
    }
    Ok(())
}
