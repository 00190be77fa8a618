//! The stroke path end to end through the commands: stroke phantoms (T1, T2, DWI, FLAIR)
//! -> `mmgan train --sequences isles` -> `mmgan synthesize --missing dwi` -> `mmgan eval`;
//! and weights of another sequence set refused, naming both.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{failed, mmgan, ok};
use mmgan::io::SequenceSet;
use mmgan::model::WeightsMeta;

#[test]
fn phantom_train_synthesize_and_eval_a_dwi_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stroke");
    ok(&mmgan(
        &[
            "phantom",
            "--kind",
            "stroke",
            "--subjects",
            "3",
            "--seed",
            "9",
        ],
        &[("--out", &data)],
    ));
    let run = dir.path().join("run");
    let train = |sequences: &str, out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--sequences",
            sequences,
            "--width",
            "4",
            "--depth",
            "3",
            "--epochs",
            "1",
            "--max-batches",
            "2",
        ];
        args.extend(common::TINY_RUN);
        args.extend(extra);
        mmgan(&args, &[("--data", &data), ("--out", out)])
    };
    ok(&train("isles", &run, &[]));
    let weights = run.join("weights");
    let meta = WeightsMeta::load(&weights).unwrap();
    assert_eq!(meta.sequences(), SequenceSet::ISLES);
    assert_eq!(meta.channel_order, ["T1", "T2", "DWI", "FLAIR"]);

    // DWI synthesized from the other three, named and marked as such.
    let out = dir.path().join("out");
    let subject = data.join("Stroke-9-000");
    ok(&mmgan(
        &["synthesize", "--backend", "cpu", "--missing", "dwi"],
        &[("--weights", &weights), ("", &subject), ("--out", &out)],
    ));
    let v = mmgan::io::read_volume(&out.join("Stroke-9-000_dwi_synthetic.nii.gz")).unwrap();
    assert_eq!(v.dims(), [240, 240, 155]);
    assert!(String::from_utf8_lossy(&v.header.descrip)
        .starts_with("SYNTHETIC DWI, MM-GAN from T1,T2,FLAIR"));

    // A sequence the model does not have: refused, naming it and the model's set.
    let e = failed(&mmgan(
        &["synthesize", "--backend", "cpu", "--missing", "t1c"],
        &[("--weights", &weights), ("", &subject), ("--out", &out)],
    ));
    assert!(
        e.contains("T1c is not one of this model's sequences (T1, T2, DWI, FLAIR)"),
        "{e}"
    );

    // Scored over the stroke set's scenarios, with the lesion as the "tumour" region.
    let eval = dir.path().join("eval");
    let table = ok(&mmgan(
        &["eval", "--backend", "cpu", "--scenarios", "dwi;t2,dwi"],
        &[
            ("--weights", &weights),
            ("--data", &subject),
            ("--out", &eval),
        ],
    ));
    assert!(table.contains("| T1,T2,FLAIR -> DWI | DWI |"), "{table}");
    assert!(table.contains("| T1,FLAIR -> T2,DWI | T2 |"), "{table}");

    // Fine-tuning a BraTS model's weights as a stroke model (or the other way round):
    // refused, naming both sets.
    let e = failed(&train(
        "brats",
        &dir.path().join("x"),
        &["--init", weights.to_str().unwrap()],
    ));
    assert!(
        e.contains("a model of T1, T2, DWI, FLAIR")
            && e.contains("this run's sequences are T1, T1c, T2, FLAIR"),
        "{e}"
    );
}
