//! The shipped weights (weights/, and the comparison and stroke weights beside them) on
//! the bundled demo study (assets/demo) and a stroke phantom: they load, and
//! synthesize the demo's FLAIR from T1, T1c and T2 better than the mean-of-available
//! baseline (SSIM inside the brain, the challenge definition).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use mmgan::engine::{BackendChoice, Synthesized, Synthesizer};
use mmgan::io::{Sequence, Study};
use mmgan::metrics::{challenge_volume, Quality};
use mmgan::model::Scenario;

/// Every missing sequence of `scenario`, the whole volume.
fn synthesize(synth: &Synthesizer, study: &Study, scenario: Scenario) -> Vec<Synthesized> {
    let prepared = synth.prepare(study, scenario).unwrap();
    synth
        .synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap()
}

/// The shipped weights' FLAIR synthesized from the demo's other three sequences, and the
/// mean of those three, each scored against the demo's FLAIR (brain, challenge definition).
fn demo_flair_against_the_mean_baseline() -> (Quality, Quality) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let synth = Synthesizer::load(&root.join("weights"), BackendChoice::Cpu).unwrap();
    let study = Study::open(&root.join("assets/demo/Phantom-2026-000")).unwrap();
    let scenario =
        Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
    let out = synthesize(&synth, &study, scenario);
    assert_eq!(out.len(), 1);
    let flair = &out[0].data;
    assert_eq!(flair.shape(), &[240, 240, 155]);

    let truth = &study.volume(Sequence::Flair).unwrap().data;
    let brain = mmgan::eval::study_brain(&study);
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
        "brain SSIM / PSNR: MM-GAN {:.4} / {:.2}, mean of available {:.4} / {:.2}",
        model.brain.ssim, model.brain.psnr, baseline.brain.ssim, baseline.brain.psnr
    );
    (model.brain, baseline.brain)
}

#[test]
fn shipped_weights_beat_the_mean_baseline_on_the_demo_flair_in_ssim() {
    let (model, baseline) = demo_flair_against_the_mean_baseline();
    assert!(
        model.ssim > baseline.ssim + 0.1,
        "MM-GAN {model:?} vs baseline {baseline:?}"
    );
}

#[test]
#[ignore = "the weights shipped on 2026-12-06 (c5, 2.5D, trained on real subjects only) give the phantom demo's FLAIR 12.16 dB against the mean baseline's 13.49 (SSIM 0.569 against 0.342, above; c4 before them 11.79 dB, c3 12.02 dB, c2 12.10, c1 12.20, RUN8 12.50, RUN7's average 14.36): run with --ignored"]
fn shipped_weights_beat_the_mean_baseline_on_the_demo_flair_in_psnr() {
    let (model, baseline) = demo_flair_against_the_mean_baseline();
    assert!(
        model.psnr > baseline.psnr,
        "MM-GAN {model:?} vs baseline {baseline:?}"
    );
}

/// Issue 9's intensity test, on the weights' validation subjects (BraTS 2018, unpacked from
/// `../shared/data/brats2018` into a temp folder): a synthesized sequence's brain
/// percentiles (5, 50, 95) after the challenge normalisation lie within 15 % of the
/// acquired one's, so the viewer's automatic window gives both the same look.
#[test]
#[ignore = "issue 9's 15 % bar is not met by the shipped weights yet (c5, 2026-12-06: worst 0.60, CBICA_ARZ_1 T2, as `mmgan eval` reports it; c4 0.61, c3 0.66, c2 0.69, c1 0.72, RUN8 0.74, RUN7's average 0.75): run with --ignored"]
fn synthesized_intensities_match_the_acquired_distribution_on_validation_subjects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let synth = Synthesizer::load(&root.join("weights"), BackendChoice::Cpu).unwrap();
    let packed = root.join("../shared/data/brats2018");
    let unpacked = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    let mut worst = 0f32;
    for name in &synth.meta().training.test_subjects {
        let ok = std::process::Command::new("tar")
            .arg("-xJf")
            .arg(packed.join(format!("{name}.tar.xz")))
            .arg("-C")
            .arg(unpacked.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot unpack {name}");
        let study = Study::open(&unpacked.path().join(name)).unwrap();
        let brain = mmgan::eval::study_brain(&study);
        for seq in mmgan::io::SequenceSet::BRATS.sequences() {
            let scenario = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[seq]).unwrap();
            let out = synthesize(&synth, &study, scenario);
            let p = |v: &ndarray::Array3<f32>| {
                mmgan::eval::normalised_percentiles(v.view(), brain.view()).unwrap()
            };
            let truth = &study.volume(seq).unwrap().data;
            let (synthesized, acquired) = (p(&out[0].data), p(truth));
            let dev = mmgan::eval::deviation_of_percentiles(synthesized, acquired);
            worst = worst.max(dev);
            report.push(format!(
                "{name} {seq}: synthesized {synthesized:?}, acquired {acquired:?}, deviation {dev:.3}"
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        worst <= 0.15,
        "worst relative deviation {worst:.3}:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_stroke_phantom_weights_synthesize_flair_that_beats_the_mean_baseline() {
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/stroke-phantom");
    let synth = Synthesizer::load(&weights, BackendChoice::Cpu).unwrap();
    let set = synth.meta().sequences();
    assert_eq!(set, mmgan::io::SequenceSet::ISLES);
    assert!(
        synth.meta().validation.is_some(),
        "validation figures in the sidecar"
    );
    // A stroke phantom the model never saw (another seed than its training set's).
    let dir = tempfile::tempdir().unwrap();
    let study = Study::open(&common::stroke_phantom(dir.path(), 77)).unwrap();
    // FLAIR from T1, T2 and DWI (on DWI itself the phantoms' FLAIR-like DWI lets the
    // baselines win on SSIM: weights/stroke-phantom/MODEL_CARD.md).
    let scenario = Scenario::with_missing(set, &[Sequence::Flair]).unwrap();
    let out = synthesize(&synth, &study, scenario);
    let truth = &study.volume(Sequence::Flair).unwrap().data;
    let brain = mmgan::eval::study_brain(&study);
    let model = challenge_volume(out[0].data.view(), truth.view(), brain.view(), None);
    // The mean of the three inputs, each scaled by its own mean (the eval's baseline).
    let mut mean = ndarray::Array3::<f32>::zeros(truth.raw_dim());
    for s in scenario.available() {
        let v = &study.volume(s).unwrap().data;
        let m = v.iter().filter(|x| **x > 0.0).sum::<f32>()
            / v.iter().filter(|x| **x > 0.0).count() as f32;
        mean += &(v.mapv(|x| x.max(0.0) / m) / 3.0);
    }
    let baseline = challenge_volume(mean.view(), truth.view(), brain.view(), None);
    assert!(
        model.brain.ssim > baseline.brain.ssim && model.brain.psnr > baseline.brain.psnr,
        "model {:?} against the mean of the inputs {:?}",
        model.brain,
        baseline.brain
    );
}

/// The comparison's pGAN weights (weights/pgan, trained on the same BraTS 2018 split):
/// they load with this code, refuse a scenario with more than one input, and from the
/// demo's T1 alone synthesize a T2 closer to the acquired one than the T1 itself is (the
/// only baseline with one input: the mean of the available is that copy).
#[test]
fn the_pgan_weights_synthesize_t2_from_t1_better_than_copying_t1() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let synth = Synthesizer::load(&root.join("weights/pgan"), BackendChoice::Cpu).unwrap();
    assert_eq!(synth.meta().method, mmgan::model::Method::PGan);
    let study = Study::open(&root.join("assets/demo/Phantom-2026-000")).unwrap();
    let set = synth.meta().sequences();
    let three = Scenario::with_missing(set, &[Sequence::Flair]).unwrap();
    assert!(
        synth.prepare(&study, three).is_err(),
        "three inputs refused"
    );

    let from_t1 = Scenario::with_available(set, &[Sequence::T1]).unwrap();
    let out = synthesize(&synth, &study, from_t1);
    let got: Vec<Sequence> = out.iter().map(|v| v.sequence).collect();
    assert_eq!(got, [Sequence::T1c, Sequence::T2, Sequence::Flair]);
    assert!(out
        .iter()
        .all(|v| v.data.shape() == [240, 240, 155] && v.data.iter().all(|x| x.is_finite())));

    let brain = mmgan::eval::study_brain(&study);
    let truth = &study.volume(Sequence::T2).unwrap().data;
    let t1 = &study.volume(Sequence::T1).unwrap().data;
    let label = study.label.as_ref().map(|l| l.data.view());
    let model = challenge_volume(out[1].data.view(), truth.view(), brain.view(), label);
    let copy = challenge_volume(t1.view(), truth.view(), brain.view(), label);
    eprintln!(
        "T2 brain SSIM / PSNR: pGAN {:.4} / {:.2}, copy of T1 {:.4} / {:.2}",
        model.brain.ssim, model.brain.psnr, copy.brain.ssim, copy.brain.psnr
    );
    assert!(model.brain.ssim > copy.brain.ssim, "{model:?} vs {copy:?}");
    assert!(model.brain.psnr > copy.brain.psnr, "{model:?} vs {copy:?}");
}
