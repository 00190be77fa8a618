//! The shipped weights (weights/) on the bundled demo study (assets/demo): they load, and
//! synthesize the demo's FLAIR from T1, T1c and T2 better than the mean-of-available
//! baseline (SSIM inside the brain, the challenge definition).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::sync::atomic::AtomicBool;

use mmgan::data::brain_mask;
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{Sequence, Study};
use mmgan::metrics::challenge_volume;
use mmgan::model::Scenario;

#[test]
fn shipped_weights_beat_the_mean_baseline_on_the_demo_flair() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let synth = Synthesizer::load(&root.join("weights"), BackendChoice::Cpu).unwrap();
    let study = Study::open(&root.join("assets/demo/Phantom-2026-000")).unwrap();
    let scenario = Scenario::with_missing(&[Sequence::Flair]).unwrap();
    let prepared = synth.prepare(&study, scenario).unwrap();
    let out = synth
        .synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(out.len(), 1);
    let flair = &out[0].data;
    assert_eq!(flair.shape(), &[240, 240, 155]);

    let truth = &study.volume(Sequence::Flair).unwrap().data;
    let all: Vec<_> = Sequence::ALL
        .iter()
        .map(|s| study.volume(*s).unwrap().data.view())
        .collect();
    let brain = brain_mask(all.iter().copied());
    let mean_of_available = {
        let norm = |s: Sequence| {
            let v = &study.volume(s).unwrap().data;
            let m = v.iter().map(|x| f64::from(x.max(0.0))).sum::<f64>() / v.len() as f64;
            v.mapv(|x| x.max(0.0) / m as f32)
        };
        (norm(Sequence::T1) + norm(Sequence::T1c) + norm(Sequence::T2)) / 3.0
    };
    let label = study.label.as_ref().map(|l| l.data.view());
    let model = challenge_volume(flair.view(), truth.view(), brain.view(), label);
    let baseline = challenge_volume(mean_of_available.view(), truth.view(), brain.view(), label);
    eprintln!(
        "brain SSIM: MM-GAN {:.4}, mean of available {:.4}",
        model.brain.ssim, baseline.brain.ssim
    );
    assert!(
        model.brain.ssim > baseline.brain.ssim,
        "MM-GAN {:?} vs baseline {:?}",
        model.brain,
        baseline.brain
    );
    assert!(model.brain.psnr > baseline.brain.psnr);
}
