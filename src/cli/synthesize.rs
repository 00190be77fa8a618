//! `mmgan synthesize`: synthesize the missing sequences of a study and export them.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use mmgan::engine::{BackendChoice, Synthesized, Synthesizer};
use mmgan::io::{export_synthetic, export_volumes, ExportKind, ExportRequest, Sequence};
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
    /// Weights folder (default: the shipped weights)
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Test-time flip on: average with the synthesis of the mirrored study (twice the
    /// time; default: as the weights' sidecar says)
    #[arg(long, conflicts_with = "no_flip")]
    pub flip: bool,
    /// Test-time flip off
    #[arg(long)]
    pub no_flip: bool,
    /// Also write each sequence's uncertainty (SD of this many dropout passes, default 8,
    /// joined with the weights' expected error at the synthesized intensity)
    /// as <subject>_<seq>_synthetic_uncertainty.nii.gz
    #[arg(long, num_args = 0..=1, default_missing_value = "8", value_name = "PASSES")]
    pub uncertainty: Option<usize>,
}

pub fn run(a: &SynthesizeArgs) -> anyhow::Result<()> {
    let study = a.study.open()?;
    let mut synth = Synthesizer::load(&super::weights_dir(&a.weights)?, a.backend)?;
    let set = synth.meta().sequences();
    // Asked for, and what the study lacks (a sequence named twice is one bit).
    let mut missing: Vec<Sequence> = a.missing.clone();
    missing.extend(study.lacking(set));
    let scenario = Scenario::with_missing(set, &missing).context("choosing what to synthesize")?;
    if a.flip || a.no_flip {
        synth.flip_average = a.flip;
    }
    eprintln!(
        "{} | {} | {}",
        study.subject,
        scenario,
        synth.device_description()
    );
    let prepared = synth.prepare(&study, scenario)?;
    // Made and checked once the request is known to be possible (a refused one leaves no
    // empty folder behind), before minutes of inference.
    super::writable_folder(&a.out)?;
    let bar = progress_bar(0, "slices");
    let volumes = synth.synthesize_volume(&prepared, &mut track(&bar), &AtomicBool::new(false))?;
    bar.finish_and_clear();
    let sources = scenario.available();
    let mut written = export_synthetic(
        &study,
        &requests(&volumes, &sources, synth.meta().method.title()),
        &a.out,
    )?;
    if let Some(passes) = a.uncertainty {
        let started = std::time::Instant::now();
        let bar = progress_bar(0, "slices (uncertainty)");
        let maps = synth.uncertainty_volume(
            &prepared,
            passes,
            &mut track(&bar),
            &AtomicBool::new(false),
        )?;
        bar.finish_and_clear();
        eprintln!(
            "uncertainty: {} dropout passes in {:.1} s",
            passes.max(2),
            started.elapsed().as_secs_f64()
        );
        for (map, v) in maps.iter().zip(&volumes) {
            // With the acquired sequence at hand (it was hidden with --missing), say how
            // well the map predicts the real error.
            if let Some(rho) = mmgan::eval::uncertainty_correlation(
                &study,
                v.sequence,
                v.data.view(),
                map.data.view(),
            ) {
                eprintln!(
                    "{}: Spearman correlation of uncertainty and absolute error in the brain {:.3} (volume), {:.3} (mean over slices)",
                    v.sequence, rho.volume, rho.slice_mean
                );
            }
        }
        written.extend(export_volumes(
            &study,
            &requests(&maps, &sources, synth.meta().method.title()),
            ExportKind::Uncertainty {
                passes: passes.max(2),
            },
            &a.out,
        )?);
    }
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

/// One export request per volume, all made by `method` from `sources`.
fn requests<'a>(
    volumes: &'a [Synthesized],
    sources: &'a [Sequence],
    method: &'a str,
) -> Vec<ExportRequest<'a>> {
    volumes
        .iter()
        .map(|v| ExportRequest {
            sequence: v.sequence,
            data: v.data.view(),
            sources,
            method,
        })
        .collect()
}

/// A progress callback `(done, total)` that moves `bar`.
fn track(bar: &indicatif::ProgressBar) -> impl FnMut(usize, usize) + '_ {
    |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }
}
