//! `mmgan calibrate`: fit a weights folder's output calibration on its training subjects
//! and write it into the sidecar (see `data::OutputCalibration`).

use std::path::PathBuf;

use mmgan::data::{discover_subjects, subject_key};
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{Sequence, Study};
use mmgan::model::WeightsMeta;

use super::{advance, progress_bar};

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// Weights folder whose sidecar gets the calibration
    #[arg(long)]
    pub weights: PathBuf,
    /// Data folders holding the weights' training subjects
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Use at most this many training subjects (in name order)
    #[arg(long, default_value_t = 8)]
    pub max_subjects: usize,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Calibrate only these sequences (the others keep the model's output as it is)
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Sequence>,
}

pub fn run(a: &CalibrateArgs) -> anyhow::Result<()> {
    let mut synth = Synthesizer::load(&a.weights, a.backend)?;
    let train = synth.meta().training.train_subjects.clone();
    // Only subjects the weights were trained on: calibrating on validation or test
    // subjects would flatter their figures.
    let mut studies = Vec::new();
    for dir in discover_subjects(&a.data).map_err(anyhow::Error::msg)? {
        if studies.len() >= a.max_subjects || !train.contains(&subject_key(&dir)) {
            continue;
        }
        let study = Study::open(&dir)?;
        if study.lacking(synth.meta().sequences()).is_empty() {
            studies.push(study);
        }
    }
    anyhow::ensure!(
        !studies.is_empty(),
        "none of the weights' training subjects is in {:?}",
        a.data
    );
    let bar = progress_bar((studies.len() * 4) as u64, "syntheses");
    let (calibration, expected_error) = synth.fit_calibration(&studies, &a.only, &mut |what| {
        advance(&bar, what);
    })?;
    bar.finish_and_clear();
    let mut meta = WeightsMeta::load(&a.weights)?;
    meta.calibration = Some(calibration);
    meta.expected_error = Some(expected_error);
    meta.training.calibrated_on = studies.iter().map(|s| s.subject.clone()).collect();
    let path = meta.save(&a.weights)?;
    eprintln!(
        "calibration fitted on {} training subjects, written into {}",
        studies.len(),
        path.display()
    );
    Ok(())
}
