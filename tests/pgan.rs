//! pGAN, the unimodal baseline, behind the same interface: its pair generators train,
//! save, load and synthesize through the engine and the commands; it is refused where
//! it does not apply (several inputs) and shown as n/a beside MM-GAN there. Its own test
//! binary: burn's random generator is process-wide (see tests/training.rs).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::Path;

use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{Sequence, Study};
use mmgan::model::{
    load_generator, load_network, save_network, Method, Network, NetworkConfig, PGanConfig,
    Scenario, WeightsMeta,
};

use common::{failed, mmgan, ok, test_weights_meta, toy_data};

fn small() -> PGanConfig {
    PGanConfig::new().with_width(2).with_blocks(1)
}

#[test]
fn pgan_weights_round_trip_and_run_only_where_one_sequence_is_available() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let network = Network::PGan(small().init(&device));
    let w = dir.path().join("w");
    let mut meta = test_weights_meta(mmgan::model::GeneratorConfig::new());
    meta.set_network(NetworkConfig::PGan(small()));
    save_network(&w, &network, &meta).unwrap();
    let text = std::fs::read_to_string(w.join("generator.json")).unwrap();
    assert!(text.contains("\"method\": \"pgan\""), "{text}");

    let (loaded, m2) = load_network(&w, &device).unwrap();
    assert_eq!(m2, meta);
    let from_t1 = Scenario::with_available(mmgan::io::SequenceSet::BRATS, &[Sequence::T1]).unwrap();
    let x: Vec<f32> = (0..4 * 64 * 64)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    let out = |n: &Network| -> Vec<f32> {
        let x = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 4, 64, 64]), &device);
        n.forward(x, from_t1).into_data().try_to_vec().unwrap()
    };
    assert_eq!(out(&network), out(&loaded), "identical after a round trip");
    let e = load_generator(&w, &device).unwrap_err().to_string();
    assert!(e.contains("pGAN") && e.contains("MM-GAN"), "{e}");

    let (study, volumes) = common::synthesize_toy(dir.path(), &w, from_t1);
    let seqs: Vec<Sequence> = volumes.iter().map(|v| v.sequence).collect();
    assert_eq!(seqs, [Sequence::T1c, Sequence::T2, Sequence::Flair]);
    assert!(volumes
        .iter()
        .all(|v| v.data.shape() == [56, 60, 10] && v.data.iter().all(|x| x.is_finite())));

    // Three inputs: not pGAN's task, said before any work.
    let synth = Synthesizer::load(&w, BackendChoice::Cpu).unwrap();
    let three = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
    let e = synth.prepare(&study, three).unwrap_err().to_string();
    assert!(
        e.contains("pGAN") && e.contains("exactly one") && e.contains("T1,T1c,T2"),
        "{e}"
    );
}

#[test]
fn a_few_pgan_steps_lower_its_loss_on_a_tiny_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 1);
    let config = common::tiny_config(&data, 1)
        .with_method(Method::PGan)
        .with_pgan(
            PGanConfig::new()
                .with_width(4)
                .with_blocks(1)
                .with_critic_width(4),
        )
        .with_lr(2e-3);
    let study = Study::open(&data.join("toy-00")).unwrap();
    let slices = mmgan::data::SubjectSlices::from_study(
        &study,
        mmgan::io::SequenceSet::BRATS,
        64,
        config.fit,
    )
    .unwrap();
    let batch = slices.batch(2, 4, 0, false);
    let device = Device::flex().autodiff();
    device.seed(7);
    let (mut g, mut d) = (config.pgan.init(&device), config.pgan.init_critics(&device));
    let (mut opt_g, mut opt_d) = (AdamConfig::new().init(), AdamConfig::new().init());
    let from_t2 = Scenario::with_available(mmgan::io::SequenceSet::BRATS, &[Sequence::T2]).unwrap();
    let mut l1 = Vec::new();
    for _ in 0..12 {
        let step;
        (g, d, step) = mmgan::train::pgan_step(
            g,
            d,
            &mut opt_g,
            &mut opt_d,
            &batch,
            [4, 4, 64, 64],
            from_t2,
            &config,
            &device,
        );
        assert!(step.adversarial > 0.0 && step.d > 0.0 && step.embedding == 0.0);
        assert!((step.g - (step.adversarial + 100.0 * step.l1)).abs() < 1e-3 * step.g);
        l1.push(step.l1);
    }
    let (first, last) = (l1[0], l1[l1.len() - 1]);
    assert!(last < 0.8 * first, "L1 {first} -> {last}: {l1:?}");
}

#[test]
fn pgan_trains_synthesizes_and_stands_beside_mmgan_through_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 3);
    let (pgan_run, gan_run) = (dir.path().join("pgan"), dir.path().join("gan"));
    let train = |method: &str, width: &str, epochs: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--method",
            method,
            "--width",
            width,
            "--depth",
            "6",
            "--blocks",
            "1",
            "--epochs",
            epochs,
            "--max-batches",
            "2",
        ];
        args.extend(common::TINY_RUN);
        args.extend(extra);
        mmgan(&args, &[("--data", &data), ("--out", out)])
    };
    ok(&train("pgan", "4", "1", &pgan_run, &[]));
    ok(&train(
        "mmgan",
        "8",
        "1",
        &gan_run,
        &["--curriculum", "off"],
    ));
    let meta = WeightsMeta::load(&pgan_run.join("weights")).unwrap();
    assert_eq!(meta.method, Method::PGan);
    assert_eq!(
        meta.pgan.as_ref().map(|p| (p.width, p.blocks)),
        Some((4, 1))
    );
    // Its per-epoch validation is on the scenarios it applies to.
    let log = std::fs::read_to_string(pgan_run.join("log.jsonl")).unwrap();
    assert!(log.contains("\"scenarios\":\"0..=3\""), "{log}");
    assert!(log.contains("\"test_brain\":{"), "{log}");
    // A second epoch continues the run.
    ok(&train("pgan", "4", "2", &pgan_run, &["--resume"]));
    assert_eq!(
        std::fs::read_to_string(pgan_run.join("log.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );

    // From T1 alone: three volumes, each labelled as the pixel + adversarial variant.
    let out = dir.path().join("out");
    ok(&mmgan(
        &[
            "synthesize",
            "--backend",
            "cpu",
            "--missing",
            "t1c,t2,flair",
        ],
        &[
            ("--weights", &pgan_run.join("weights")),
            ("", &data.join("toy-01")),
            ("--out", &out),
        ],
    ));
    let v = mmgan::io::read_volume(&out.join("toy-01_t2_synthetic.nii.gz")).unwrap();
    let descrip = String::from_utf8_lossy(&v.header.descrip).to_string();
    assert!(
        descrip.starts_with("SYNTHETIC T2, pGAN (pixel+adv) from T1"),
        "{descrip}"
    );
    // From three: refused, nothing written.
    let refused = dir.path().join("refused");
    let e = failed(&mmgan(
        &["synthesize", "--backend", "cpu", "--missing", "flair"],
        &[
            ("--weights", &pgan_run.join("weights")),
            ("", &data.join("toy-01")),
            ("--out", &refused),
        ],
    ));
    assert!(e.contains("exactly one available sequence"), "{e}");
    assert!(
        !refused.exists(),
        "a refused request leaves no output folder"
    );

    // Side by side with MM-GAN: pGAN n/a where three sequences are available.
    let eval = dir.path().join("eval");
    ok(&mmgan(
        &[
            "eval",
            "--backend",
            "cpu",
            "--scenarios",
            "t1c,t2,flair;flair",
        ],
        &[
            ("--weights", &gan_run.join("weights")),
            ("--weights", &pgan_run.join("weights")),
            ("--data", &data.join("toy-00")),
            ("--out", &eval),
        ],
    ));
    let comparison = std::fs::read_to_string(eval.join("comparison.md")).unwrap();
    assert!(
        comparison.contains(
            "| scenario (available -> missing) | seq | MM-GAN | pGAN (pixel+adv) | mean of available | copy most similar |"
        ),
        "{comparison}"
    );
    let flair_3to1 = comparison
        .lines()
        .find(|l| l.starts_with("| T1,T1c,T2 -> FLAIR | FLAIR |"))
        .unwrap();
    let cells: Vec<&str> = flair_3to1.split('|').map(str::trim).collect();
    assert_eq!(cells[4], "n/a", "{flair_3to1}");
    assert_ne!(cells[3], "n/a", "{flair_3to1}");
    let from_t1 = comparison
        .lines()
        .find(|l| l.starts_with("| T1 -> T1c,T2,FLAIR | T2 |"))
        .unwrap();
    assert!(!from_t1.contains("n/a"), "{from_t1}");
}
