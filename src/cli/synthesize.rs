//! `mmgan synthesize`: synthesize the missing sequences of a study and export them.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{export_synthetic, ExportRequest, Sequence};
use mmgan::model::Scenario;

use super::{progress_bar, StudyArgs};

#[derive(clap::Args, Debug)]
pub struct SynthesizeArgs {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Sequences to synthesize, e.g. "t2,flair" (sequences the study lacks are always
    /// synthesized; present ones named here are hidden from the model)
    #[arg(long, value_delimiter = ',')]
    pub missing: Vec<Sequence>,
    /// Output folder (created if needed)
    #[arg(long)]
    pub out: PathBuf,
    /// Weights folder
    #[arg(long, default_value = "weights")]
    pub weights: PathBuf,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

pub fn run(a: &SynthesizeArgs) -> anyhow::Result<()> {
    let study = a.study.open()?;
    let mut missing: Vec<Sequence> = Sequence::ALL
        .iter()
        .copied()
        .filter(|s| !study.has(*s) || a.missing.contains(s))
        .collect();
    missing.dedup();
    let scenario = Scenario::with_missing(&missing).context("choosing what to synthesize")?;
    let synth = Synthesizer::load(&a.weights, a.backend)?;
    eprintln!(
        "{} | {} | {}",
        study.subject,
        scenario,
        synth.device_description()
    );
    let prepared = synth.prepare(&study, scenario)?;
    let bar = progress_bar(0, "slices");
    let volumes = synth.synthesize_volume(
        &prepared,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
        &AtomicBool::new(false),
    )?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("{}: cannot create the output folder", a.out.display()))?;
    let sources = scenario.available();
    for v in &volumes {
        let path = export_synthetic(
            &study,
            ExportRequest {
                sequence: v.sequence,
                data: v.data.view(),
                sources: &sources,
            },
            &a.out,
        )?;
        println!("{}", path.display());
    }
    Ok(())
}
