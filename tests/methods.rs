//! The synthesis methods behind one interface: MM-Synthesis trains, saves, loads and
//! synthesizes through the same engine and commands as MM-GAN; `mmgan eval` puts methods
//! side by side; a weights folder of the wrong method is refused, naming both. Its own
//! test binary: burn's random generator is process-wide (see tests/training.rs).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::Path;

use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use mmgan::io::{Sequence, Study};
use mmgan::model::{
    load_generator, load_network, save_network, Method, MmSynthesisConfig, Network, Scenario,
    WeightsMeta,
};

use common::{failed, mmgan, ok, test_weights_meta, toy_data, write_sidecar};

fn mmsynthesis_meta(config: &MmSynthesisConfig) -> WeightsMeta {
    let mut meta = test_weights_meta(mmgan::model::GeneratorConfig::new());
    meta.set_network(mmgan::model::NetworkConfig::MmSynthesis(config.clone()));
    meta
}

fn slice_input(device: &Device) -> Tensor<4> {
    let x: Vec<f32> = (0..4 * 64 * 64)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    Tensor::<4>::from_data(TensorData::new(x, [1, 4, 64, 64]), device)
}

#[test]
fn mmsynthesis_weights_round_trip_and_run_in_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let config = MmSynthesisConfig::new().with_width(2).with_latent(4);
    let network = Network::MmSynthesis(config.init(&device));
    let w = dir.path().join("w");
    let meta = mmsynthesis_meta(&config);
    save_network(&w, &network, &meta).unwrap();
    let text = std::fs::read_to_string(w.join("generator.json")).unwrap();
    assert!(text.contains("\"method\": \"mmsynthesis\""), "{text}");
    assert!(!text.contains("\"generator\""), "no MM-GAN config: {text}");

    let (loaded, m2) = load_network(&w, &device).unwrap();
    assert_eq!(m2, meta);
    assert_eq!(loaded.method(), Method::MmSynthesis);
    let three = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
    let out = |n: &Network| -> Vec<f32> {
        n.forward(slice_input(&device), three)
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    assert_eq!(out(&network), out(&loaded), "identical after a round trip");

    // Where MM-GAN weights are needed, these are refused, naming both methods.
    let e = load_generator(&w, &device).unwrap_err().to_string();
    assert!(
        e.contains("MM-Synthesis") && e.contains("MM-GAN") && e.contains("w"),
        "{e}"
    );
    // A sidecar that names one method and holds the other's config is refused.
    let mut lying = meta.clone();
    lying.method = Method::MmGan;
    write_sidecar(&w, &lying);
    let e = load_network(&w, &device).unwrap_err().to_string();
    assert!(
        e.contains("generator.json") && e.contains("mmsynthesis"),
        "{e}"
    );
    std::fs::write(w.join("generator.json"), text).unwrap();

    // The engine synthesizes a study with them: finite, on the study grid, zero outside
    // the brain.
    let (study, volumes) = common::synthesize_toy(dir.path(), &w, three);
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].sequence, Sequence::Flair);
    assert_eq!(volumes[0].data.shape(), &[56, 60, 10]);
    assert!(volumes[0].data.iter().all(|v| v.is_finite()));
    let brain = mmgan::eval::study_brain(&study);
    let (mut inside, mut outside) = (0.0f32, 0.0f32);
    ndarray::Zip::from(&volumes[0].data)
        .and(&brain)
        .for_each(|&v, &b| {
            if b {
                inside = inside.max(v.abs());
            } else {
                outside = outside.max(v.abs());
            }
        });
    assert!(
        inside > 0.0 && outside == 0.0,
        "inside {inside}, outside {outside}"
    );
}

#[test]
fn a_few_mmsynthesis_steps_lower_its_loss_on_a_tiny_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 1);
    let config = common::tiny_config(&data, 1)
        .with_method(Method::MmSynthesis)
        .with_mmsynthesis(MmSynthesisConfig::new().with_width(4).with_latent(4))
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
    let mut m = config.mmsynthesis.init(&device);
    let mut opt = AdamConfig::new().init();
    let two =
        Scenario::with_available(mmgan::io::SequenceSet::BRATS, &[Sequence::T1, Sequence::T2])
            .unwrap();
    let mut losses = Vec::new();
    for _ in 0..12 {
        let step;
        (m, step) = mmgan::train::mmsynthesis_step(
            m,
            &mut opt,
            &batch,
            [4, 4, 64, 64],
            two,
            &config,
            &device,
        );
        assert!(step.l1 > 0.0 && step.embedding >= 0.0 && step.d == 0.0);
        losses.push(step.g);
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < 0.8 * first, "loss {first} -> {last}: {losses:?}");
}

/// [`common::TINY_RUN`] for one epoch of two batches, without the curriculum.
const TINY: [&str; 6] = ["--epochs", "1", "--max-batches", "2", "--curriculum", "off"];
#[test]
fn train_synthesize_and_compare_through_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 3);
    let (syn_run, gan_run) = (dir.path().join("syn"), dir.path().join("gan"));
    let train = |method: &str, width: &str, depth: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train", "--method", method, "--width", width, "--depth", depth,
        ];
        args.extend(common::TINY_RUN);
        args.extend(TINY);
        args.extend(extra);
        mmgan(&args, &[("--data", &data), ("--out", out)])
    };
    ok(&train("mmsynthesis", "4", "6", &syn_run, &[]));
    ok(&train("mmgan", "8", "6", &gan_run, &[]));
    let meta = WeightsMeta::load(&syn_run.join("weights")).unwrap();
    assert_eq!(meta.method, Method::MmSynthesis);
    assert_eq!(meta.mmsynthesis.as_ref().map(|m| m.width), Some(4));

    // Resuming with the other method, or fine-tuning from the other method's weights:
    // refused, naming both.
    let e = failed(&train("mmgan", "4", "6", &syn_run, &["--resume"]));
    assert!(
        e.contains("MM-Synthesis") && e.contains("--method mmsynthesis"),
        "{e}"
    );
    let init = gan_run.join("weights");
    let e = failed(&train(
        "mmsynthesis",
        "4",
        "6",
        &dir.path().join("x"),
        &["--init", init.to_str().unwrap()],
    ));
    assert!(
        e.contains("MM-GAN weights") && e.contains("MM-Synthesis weights"),
        "{e}"
    );

    // Synthesis with MM-Synthesis weights: marked synthetic, naming the method.
    let out = dir.path().join("out");
    ok(&mmgan(
        &["synthesize", "--backend", "cpu", "--missing", "flair"],
        &[
            ("--weights", &syn_run.join("weights")),
            ("", &data.join("toy-01")),
            ("--out", &out),
        ],
    ));
    let v = mmgan::io::read_volume(&out.join("toy-01_flair_synthetic.nii.gz")).unwrap();
    assert!(String::from_utf8_lossy(&v.header.descrip)
        .starts_with("SYNTHETIC FLAIR, MM-Synthesis from T1,T1c,T2"));

    // Both methods side by side, with the baselines, in both definitions.
    let eval = dir.path().join("eval");
    let run = mmgan(
        &["eval", "--backend", "cpu", "--scenarios", "flair;t2,flair"],
        &[
            ("--weights", &gan_run.join("weights")),
            ("--weights", &syn_run.join("weights")),
            ("--data", &data.join("toy-00")),
            ("--out", &eval),
        ],
    );
    let table = ok(&run);
    // Not a terminal: a line per scenario says how far the run is.
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(
        log.contains("[1/2] toy-00: T1,T1c,T2 -> FLAIR")
            && log.contains("[2/2] toy-00: T1,T1c -> T2,FLAIR"),
        "{log}"
    );
    let comparison = std::fs::read_to_string(eval.join("comparison.md")).unwrap();
    assert_eq!(table.trim(), comparison.trim());
    assert!(
        comparison.contains(
            "| scenario (available -> missing) | seq | MM-GAN | MM-Synthesis | mean of available | copy most similar |"
        ),
        "{comparison}"
    );
    assert!(comparison.contains("Paper definition") && comparison.contains("Challenge definition"));
    // One row per (scenario, missing sequence) per definition: 1 + 2, twice.
    let rows = comparison.lines().filter(|l| l.starts_with("| T1")).count();
    assert_eq!(rows, 6, "{comparison}");
    let csv = std::fs::read_to_string(eval.join("eval.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 4, "3 pairs x 4 methods");
    let md = std::fs::read_to_string(eval.join("eval.md")).unwrap();
    assert!(md.contains("MM-Synthesis beats both baselines") && md.contains("MM-GAN beats both"));
    // Every case carries its intensity deviation; the copied sequence's is the one
    // percentile_deviation gives for those two volumes.
    let json = std::fs::read_to_string(eval.join("eval.json")).unwrap();
    let table: mmgan::eval::Table = serde_json::from_str(&json).unwrap();
    assert!(table
        .cases
        .iter()
        .all(|c| c.intensity.is_some_and(|d| d.is_finite() && d >= 0.0)));
    let study = Study::open(&data.join("toy-00")).unwrap();
    let all = mmgan::model::Scenario::all(mmgan::io::SequenceSet::BRATS);
    let copied = table
        .cases
        .iter()
        .find(|c| c.method == mmgan::eval::Method::CopyMostSimilar)
        .unwrap();
    let scenario = all[copied.scenario_index];
    let source = mmgan::eval::most_similar(copied.sequence, scenario);
    let volume = |s: Sequence| study.volume(s).unwrap().data.view();
    let brain = mmgan::eval::study_brain(&study);
    let expected =
        mmgan::eval::percentile_deviation(volume(source), volume(copied.sequence), brain.view());
    assert!((copied.intensity.unwrap() - expected.unwrap()).abs() < 1e-6);

    // The same method twice cannot be compared with itself in one table.
    let e = failed(&mmgan(
        &["eval", "--backend", "cpu", "--scenarios", "flair"],
        &[
            ("--weights", &gan_run.join("weights")),
            ("--weights", &gan_run.join("weights")),
            ("--data", &data.join("toy-00")),
            ("--out", &eval),
        ],
    ));
    assert!(e.contains("two weights folders of MM-GAN"), "{e}");

    // The sidecar's validation figures come from the weights' validation subjects alone,
    // with every sequence missing alone; nothing else in the sidecar changes.
    let weights = gan_run.join("weights");
    let before = WeightsMeta::load(&weights).unwrap();
    assert_eq!(before.validation, None);
    let (held_out, trained) = (
        &before.training.test_subjects[0],
        &before.training.train_subjects[0],
    );
    let write = |scenarios: &str, subject: &str| {
        mmgan(
            &["eval", "--backend", "cpu", "--write-validation"],
            &[
                ("--scenarios", Path::new(scenarios)),
                ("--weights", &weights),
                ("--data", &data.join(subject)),
                ("--out", &eval),
            ],
        )
    };
    let e = failed(&write("t1;t1c;t2;flair", trained));
    assert!(
        e.contains(trained.as_str()) && e.contains("not one of the weights' validation subjects"),
        "{e}"
    );
    let e = failed(&write("flair", held_out));
    assert!(e.contains("needs T1 missing alone"), "{e}");
    assert_eq!(
        WeightsMeta::load(&weights).unwrap(),
        before,
        "refusals write nothing"
    );
    ok(&write("t1;t1c;t2;flair", held_out));
    let table: mmgan::eval::Table =
        serde_json::from_str(&std::fs::read_to_string(eval.join("eval.json")).unwrap()).unwrap();
    let mut after = WeightsMeta::load(&weights).unwrap();
    let validation = after.validation.take().unwrap();
    for (c, seq) in [Sequence::T1, Sequence::T1c, Sequence::T2, Sequence::Flair]
        .into_iter()
        .enumerate()
    {
        let row = table
            .rows
            .iter()
            .find(|r| {
                r.available == 3
                    && r.sequence == seq
                    && r.method == mmgan::eval::Method::Model(Method::MmGan)
            })
            .unwrap();
        assert_eq!(validation[c], row.brain, "{seq}");
        assert!(row.brain.ssim.is_finite() && row.brain.psnr.is_finite());
    }
    assert_eq!(after, before, "only the validation figures changed");
}
