//! `mmgan eval`: the per-scenario table (paper and challenge metrics, two baselines), for
//! one method or several side by side (`--weights A --weights B`).

use std::path::PathBuf;

use anyhow::Context;
use mmgan::data::{discover_subjects, subject_key};
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::eval::evaluate;
use mmgan::io::{write_atomic, SequenceSet, Study};
use mmgan::model::{Scenario, WeightsMeta};

use super::{advance, progress_bar};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Weights folder, one per method to compare, each its own method (default: the
    /// shipped weights)
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// Data folders (one sub-folder per subject) or study folders
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// "all", or missing sets separated by ';', e.g. "flair;t2,flair"
    #[arg(long, default_value = "all")]
    pub scenarios: String,
    /// Where eval.md, comparison.md, eval.csv and eval.json go
    #[arg(long, default_value = "eval")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Test-time flip on: average with the synthesis of the mirrored study (twice the
    /// time; default: as the weights' sidecar says)
    #[arg(long, conflicts_with = "no_flip")]
    pub flip: bool,
    /// Test-time flip off
    #[arg(long)]
    pub no_flip: bool,
    /// Write the brain figures of each sequence missing alone into the weights' sidecar
    /// (its `validation`, what `mmgan check` compares with): one --weights folder, only its
    /// validation subjects in --data, the four single-missing scenarios evaluated
    #[arg(long)]
    pub write_validation: bool,
}

/// `all`, or `;`-separated lists of the missing sequences of `set`.
pub fn parse_scenarios(set: SequenceSet, s: &str) -> anyhow::Result<Vec<Scenario>> {
    if s.trim() == "all" {
        return Ok(Scenario::all(set).to_vec());
    }
    s.split(';')
        .map(|m| Scenario::parse(set, m).with_context(|| format!("scenario {m:?}")))
        .collect()
}

/// What `--write-validation` needs before any time is spent: one named weights folder,
/// evaluated as it loads, and every sequence missing alone among the scenarios.
fn check_validation_request(
    a: &EvalArgs,
    synth: &Synthesizer,
    scenarios: &[Scenario],
) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.weights.len() == 1,
        "--write-validation writes into one weights folder: give exactly one --weights"
    );
    anyhow::ensure!(
        synth.flip_average == synth.meta().test_time_flip,
        "{}: its sidecar says test_time_flip {}; figures measured otherwise would not describe these weights as they load",
        a.weights[0].display(),
        synth.meta().test_time_flip
    );
    let set = synth.meta().sequences();
    for seq in set.sequences() {
        anyhow::ensure!(
            scenarios.iter().any(|s| s.missing() == [seq]),
            "--write-validation needs {seq} missing alone among --scenarios (e.g. \"t1;t1c;t2;flair\")"
        );
    }
    Ok(())
}

pub fn run(a: &EvalArgs) -> anyhow::Result<()> {
    let mut synths: Vec<Synthesizer> = Vec::new();
    for dir in &super::weights_dirs(&a.weights)? {
        let mut synth = Synthesizer::load(dir, a.backend)?;
        if a.flip || a.no_flip {
            synth.flip_average = a.flip;
        }
        eprintln!("{}: {}", dir.display(), synth.meta().method);
        if let Some(first) = synths.first() {
            let (a_set, b_set) = (first.meta().sequences(), synth.meta().sequences());
            anyhow::ensure!(
                a_set == b_set,
                "{} is a model of {b_set}, the first weights folder's is of {a_set}: a comparison needs one sequence set",
                dir.display()
            );
        }
        synths.push(synth);
    }
    let set = synths
        .first()
        .map(|s| s.meta().sequences())
        .context("no weights folder")?;
    let scenarios = parse_scenarios(set, &a.scenarios)?;
    if a.write_validation {
        check_validation_request(a, &synths[0], &scenarios)?;
    }
    let mut studies = Vec::new();
    for dir in discover_subjects(&a.data).map_err(anyhow::Error::msg)? {
        if a.write_validation {
            let held_out = &synths[0].meta().training.test_subjects;
            let key = subject_key(&dir);
            anyhow::ensure!(
                held_out.contains(&key),
                "{}: not one of the weights' validation subjects ({}); --write-validation takes figures from those alone",
                dir.display(),
                held_out.join(", ")
            );
        }
        let study = Study::open(&dir)?;
        if study.lacking(set).is_empty() {
            studies.push(study);
        } else {
            log::warn!(
                "{}: skipped, evaluation needs all four sequences ({set})",
                dir.display()
            );
        }
    }
    anyhow::ensure!(
        !studies.is_empty(),
        "no subject with all four sequences ({set}) in {:?}",
        a.data
    );
    eprintln!(
        "evaluating {} subjects x {} scenarios on {}",
        studies.len(),
        scenarios.len(),
        synths[0].device_description()
    );
    let bar = progress_bar((studies.len() * scenarios.len()) as u64, "scenarios");
    let synths: Vec<&Synthesizer> = synths.iter().collect();
    let table = evaluate(&synths, &studies, &scenarios, &mut |what| {
        advance(&bar, what);
    })?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&a.out)?;
    let md = table.to_markdown();
    write_atomic(&a.out.join("eval.md"), md.as_bytes())?;
    let comparison = table.to_comparison_markdown();
    write_atomic(&a.out.join("comparison.md"), comparison.as_bytes())?;
    write_atomic(&a.out.join("eval.csv"), table.to_csv().as_bytes())?;
    write_atomic(
        &a.out.join("eval.json"),
        serde_json::to_string_pretty(&table)?.as_bytes(),
    )?;
    if a.write_validation {
        let model = synths[0].meta().method;
        let figures = table
            .single_missing_brain(model)
            .context("the table lacks a sequence missing alone")?;
        let mut meta = WeightsMeta::load(&a.weights[0])?;
        meta.validation = Some(figures);
        let path = meta.save(&a.weights[0])?;
        eprintln!(
            "validation figures of {} subjects written into {}",
            studies.len(),
            path.display()
        );
    }
    println!("{}", if synths.len() > 1 { &comparison } else { &md });
    eprintln!(
        "written: {}/eval.{{md,csv,json}}, comparison.md",
        a.out.display()
    );
    Ok(())
}
