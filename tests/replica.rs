//! REPLICA behind the same interface as the networks: its forests fit, predict better than
//! a constant, survive a save/load round trip unchanged, and train, synthesize and are
//! refused where another method is needed, through the same commands.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};
use mmgan::data::{Fit, SubjectSlices};
use mmgan::io::{Sequence, Study};
use mmgan::model::{
    load_generator, load_network, save_network, Method, Network, NetworkConfig, Replica,
    ReplicaConfig, Samples, Scenario,
};

use common::{failed, mmgan, ok, test_weights_meta, toy_data, write_sidecar};

const SIDE: usize = 64;

fn small() -> ReplicaConfig {
    ReplicaConfig::new()
        .with_trees(3)
        .with_max_depth(8)
        .with_min_samples_leaf(3)
        .with_samples(3000)
        .with_slices(20)
}

#[test]
fn forests_fit_predict_better_than_a_constant_and_round_trip_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 2);
    let slices = |name: &str| {
        let study = Study::open(&data.join(name)).unwrap();
        SubjectSlices::from_study(&study, mmgan::io::SequenceSet::BRATS, SIDE, Fit::Pad).unwrap()
    };
    let (train, held) = (slices("toy-00"), slices("toy-01"));
    let config = small();
    let picked: Vec<&[f32]> = (0..train.len()).map(|z| train.slices(z, 1)).collect();
    let mut state = 12345u64;
    let mut pick = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        (state >> 33) as usize % n
    };
    let samples = Samples::draw(&picked, SIDE, 300, &mut pick);
    assert_eq!(samples.len(), 300 * picked.len());
    let mut progress = Vec::new();
    let replica = Replica::fit(
        &config,
        &samples,
        mmgan::io::SequenceSet::BRATS,
        7,
        &mut |k, of| progress.push((k, of)),
    )
    .unwrap();
    assert_eq!(
        progress.last(),
        Some(&(28, 28)),
        "one forest per missing sequence of 14"
    );

    // On the held-out subject, FLAIR from the other three: closer than the training mean.
    let three = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
    let n = SIDE * SIDE;
    let flair = three.channel(Sequence::Flair);
    let (mut err, mut err_const, mut count) = (0.0f64, 0.0f64, 0usize);
    let mean = {
        let values: Vec<f32> = picked
            .iter()
            .flat_map(|s| s[flair * n..(flair + 1) * n].iter().copied())
            .filter(|v| *v > 0.0)
            .collect();
        values.iter().sum::<f32>() / values.len() as f32
    };
    for z in 0..held.len() {
        let x = held.slices(z, 1);
        let y = replica.forward(x, SIDE, three);
        assert_eq!(y.len(), x.len());
        for ch in [0, 1, 2] {
            assert_eq!(
                y[ch * n..(ch + 1) * n],
                x[ch * n..(ch + 1) * n],
                "passed through"
            );
        }
        for i in 0..n {
            let inside = (0..3).any(|ch| x[ch * n + i] > 0.0);
            let (p, t) = (y[flair * n + i], x[flair * n + i]);
            if inside {
                err += f64::from((p - t).abs());
                err_const += f64::from((mean - t).abs());
                count += 1;
            } else {
                assert_eq!(p, 0.0, "nothing outside the brain");
            }
        }
    }
    assert!(count > 0);
    assert!(
        err < 0.7 * err_const,
        "forest MAE {err} against constant {err_const}"
    );

    // Saved and loaded: the same output; the sidecar names the method.
    let w = dir.path().join("w");
    let mut meta = test_weights_meta(mmgan::model::GeneratorConfig::new());
    meta.set_network(NetworkConfig::Replica(config.clone()));
    let network = Network::Replica(Arc::new(replica));
    save_network(&w, &network, &meta).unwrap();
    assert!(w.join(mmgan::model::FORESTS_FILE).is_file());
    assert!(!w.join(mmgan::model::GENERATOR_FILE).exists());
    let device = Device::flex();
    let (loaded, m2) = load_network(&w, &device).unwrap();
    assert_eq!((loaded.method(), m2), (Method::Replica, meta.clone()));
    let input = Tensor::<4>::from_data(
        TensorData::new(held.slices(3, 2).to_vec(), [2, 4, SIDE, SIDE]),
        &device,
    );
    let out = |n: &Network| -> Vec<f32> {
        n.forward(input.clone(), three)
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    assert_eq!(out(&network), out(&loaded), "identical after a round trip");

    // Refused: where MM-GAN weights are needed; a sidecar whose config is not the one
    // the forests were fitted with; forests that are not a gzip file.
    let e = load_generator(&w, &device).unwrap_err().to_string();
    assert!(e.contains("REPLICA") && e.contains("MM-GAN"), "{e}");
    let mut other = meta.clone();
    other.set_network(NetworkConfig::Replica(config.clone().with_trees(4)));
    write_sidecar(&w, &other);
    let e = load_network(&w, &device).unwrap_err().to_string();
    assert!(
        e.contains("forests.json.gz") && e.contains("fitted with"),
        "{e}"
    );
    write_sidecar(&w, &meta);
    std::fs::write(w.join(mmgan::model::FORESTS_FILE), b"not gzip").unwrap();
    let e = load_network(&w, &device).unwrap_err().to_string();
    assert!(e.contains("forests.json.gz") && e.contains("gzip"), "{e}");
}

#[test]
fn replica_trains_and_synthesizes_through_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 3);
    let run = dir.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--method",
            "replica",
            "--trees",
            "2",
            "--samples",
            "2000",
        ];
        args.extend(common::TINY_RUN);
        args.extend(extra);
        mmgan(&args, &[("--data", &data), ("--out", &run)])
    };
    ok(&train(&[]));
    let weights = run.join("weights");
    let meta = mmgan::model::WeightsMeta::load(&weights).unwrap();
    assert_eq!(meta.method, Method::Replica);
    assert_eq!(meta.replica.as_ref().map(|r| r.trees), Some(2));
    assert!(run.join("best").join(mmgan::model::FORESTS_FILE).is_file());
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "one fit, one line: {log}");
    assert!(log.contains("\"test_brain\":{"), "validated: {log}");

    // Its forests are saved: a resume has nothing to do and changes nothing.
    let before = std::fs::read(weights.join(mmgan::model::FORESTS_FILE)).unwrap();
    ok(&train(&["--resume"]));
    assert_eq!(
        std::fs::read(weights.join(mmgan::model::FORESTS_FILE)).unwrap(),
        before
    );
    // Fine-tuning forests from weights does not exist.
    let init = weights.to_str().unwrap().to_string();
    let out = mmgan(
        &[
            "train", "--method", "replica", "--size", "64", "--fit", "pad", "--init", &init,
        ],
        &[("--data", &data), ("--out", &dir.path().join("other"))],
    );
    let e = failed(&out);
    assert!(e.contains("--init does not apply"), "{e}");

    // Synthesis with REPLICA: marked synthetic, naming the method.
    let synthesized = dir.path().join("out");
    ok(&mmgan(
        &["synthesize", "--backend", "cpu", "--missing", "flair"],
        &[
            ("--weights", &weights),
            ("", &data.join("toy-01")),
            ("--out", &synthesized),
        ],
    ));
    let v = mmgan::io::read_volume(&synthesized.join("toy-01_flair_synthetic.nii.gz")).unwrap();
    assert!(String::from_utf8_lossy(&v.header.descrip)
        .starts_with("SYNTHETIC FLAIR, REPLICA from T1,T1c,T2"));
    assert!(v.data.iter().all(|x| x.is_finite()) && v.data.iter().any(|x| *x > 0.0));
}
