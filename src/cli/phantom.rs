//! `mmgan phantom`: write phantom subjects (simulated, deterministic): gliomas in BraTS's
//! layout, or ischaemic strokes in T1, T2, DWI and FLAIR.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use mmgan::phantom::{simulate, subject_id, write_subject, Anatomy, Kind};

use super::{progress_bar, say};

#[derive(clap::Args, Debug)]
pub struct PhantomArgs {
    /// Output folder: one sub-folder per subject, BraTS 2018-2021 names
    #[arg(long)]
    pub out: PathBuf,
    /// The lesion, and so the sequences: glioma (T1, T1c, T2, FLAIR; BraTS labels) or
    /// stroke (T1, T2, DWI, FLAIR; the infarct labelled 1)
    #[arg(long, value_enum, default_value_t = Kind::Glioma)]
    pub kind: Kind,
    #[arg(long, default_value_t = 1)]
    pub subjects: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Index of the first subject (to extend a set)
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Anatomy folder (brain, gm, wm maps derived from MNI152; default: the shipped
    /// assets/mni)
    #[arg(long)]
    pub anatomy: Option<PathBuf>,
}

pub fn run(a: &PhantomArgs) -> anyhow::Result<()> {
    let dir = match &a.anatomy {
        Some(d) => d.clone(),
        None => mmgan::shipped::mni().map_err(anyhow::Error::msg)?,
    };
    let anatomy = Anatomy::load(&dir).context("loading the phantom anatomy")?;
    let next = AtomicU64::new(a.first);
    let end = a.first + a.subjects;
    let bar = progress_bar(a.subjects, "subjects");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(a.subjects.max(1) as usize);
    // Subjects are independent (each seeded by its index), so any thread order writes
    // the same files.
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= end {
                            return Ok(());
                        }
                        let p = simulate(&anatomy, a.kind, a.seed, i);
                        let dir = write_subject(&p, &a.out, &subject_id(a.kind, a.seed, i))?;
                        say(&bar, dir.display().to_string());
                        bar.inc(1);
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| anyhow::anyhow!("a phantom worker panicked"))?
        })
    })?;
    bar.finish_and_clear();
    Ok(())
}
