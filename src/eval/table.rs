//! The evaluation table as text: per-method rows, the methods side by side, the per-case
//! summary against the baselines, and CSV.

use std::fmt::Write as _;

use super::{Case, Method, Row, Table};
use crate::io::Sequence;
use crate::metrics::Quality;
use crate::model::Scenario;

/// Which of a row's figures a table shows.
type Pick = fn(&Row) -> Quality;

fn opt(q: Option<Quality>, f: fn(&Quality) -> f64, digits: usize) -> String {
    q.map(|q| format!("{:.*}", digits, f(&q)))
        .unwrap_or_else(|| "-".into())
}

impl Table {
    /// Every method in the table: the synthesis methods first (in evaluation order), then
    /// the baselines.
    pub fn methods(&self) -> Vec<Method> {
        let mut out: Vec<Method> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.method) {
                out.push(r.method);
            }
        }
        out.sort_by_key(|m| !matches!(m, Method::Model(_)));
        out
    }

    /// The synthesis methods in the table.
    pub fn models(&self) -> Vec<crate::model::Method> {
        self.methods()
            .into_iter()
            .filter_map(|m| match m {
                Method::Model(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Mean over the rows of one method (all scenarios, all missing sequences).
    pub fn method_mean(&self, method: Method) -> Option<(Quality, Quality)> {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.method == method).collect();
        Some((
            Quality::mean(&rows.iter().map(|r| r.paper).collect::<Vec<_>>())?,
            Quality::mean(&rows.iter().map(|r| r.brain).collect::<Vec<_>>())?,
        ))
    }

    /// The brain figures (challenge) of `model` with each sequence missing alone, in the
    /// set's channel order: what a weights sidecar's `validation` holds. `None` unless all
    /// four single-missing scenarios are in the table.
    pub fn single_missing_brain(&self, model: crate::model::Method) -> Option<[Quality; 4]> {
        let of = |seq: Sequence| {
            self.rows
                .iter()
                .find(|r| r.available == 3 && r.sequence == seq && r.method == Method::Model(model))
                .map(|r| r.brain)
        };
        let [a, b, c, d] = self.set.sequences().map(of);
        Some([a?, b?, c?, d?])
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Subjects: {}\n", self.subjects.join(", "));
        let _ = writeln!(s, "{}", self.summary());
        let _ = writeln!(s, "Paper: per axial slice, each image divided by its max, all slices averaged. Challenge: per volume inside the brain, 0.5-99.5 percentile clip to [0,1]; SSIM 11x11 Gaussian (sigma 1.5), data range 1.\n");
        let _ = writeln!(s, "| scenario (available -> missing) | seq | method | paper PSNR | paper SSIM | brain PSNR | brain SSIM | tumour PSNR | tumour SSIM | non-tumour SSIM |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.4} | {:.2} | {:.4} | {} | {} | {} |",
                r.scenario,
                r.sequence,
                r.method.name(),
                r.paper.psnr,
                r.paper.ssim,
                r.brain.psnr,
                r.brain.ssim,
                opt(r.tumour, |q| q.psnr, 2),
                opt(r.tumour, |q| q.ssim, 4),
                opt(r.non_tumour, |q| q.ssim, 4),
            );
        }
        let _ = writeln!(
            s,
            "\n| method | mean paper PSNR | mean paper SSIM | mean brain PSNR | mean brain SSIM |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for m in self.methods() {
            if let Some((p, b)) = self.method_mean(m) {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:.4} | {:.2} | {:.4} |",
                    m.name(),
                    p.psnr,
                    p.ssim,
                    b.psnr,
                    b.ssim
                );
            }
        }
        s
    }

    /// The per-case summary of every synthesis method in the table (see
    /// [`Self::summary_for`]).
    pub fn summary(&self) -> String {
        self.models()
            .into_iter()
            .map(|m| self.summary_for(m))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The per-case summary of one method: where it beats both baselines when one
    /// sequence is missing, per-sequence means against the best baseline, and each
    /// scenario with two or three missing against the mean of the available sequences
    /// (brain, challenge).
    pub fn summary_for(&self, model: crate::model::Method) -> String {
        let me = Method::Model(model);
        let name = model.title();
        let mut s = String::new();
        let find = |subject: &str, si: usize, seq: Sequence, m: Method| {
            self.cases
                .iter()
                .find(|c| {
                    c.subject == subject
                        && c.scenario_index == si
                        && c.sequence == seq
                        && c.method == m
                })
                .map(|c| c.brain)
        };
        let all = Scenario::all(self.set);
        let single: Vec<&Case> = self
            .cases
            .iter()
            .filter(|c| c.method == me && all[c.scenario_index].missing().len() == 1)
            .collect();
        if !single.is_empty() {
            let mut wins = 0;
            for c in &single {
                let baselines =
                    Method::BASELINES.map(|m| find(&c.subject, c.scenario_index, c.sequence, m));
                if baselines
                    .iter()
                    .all(|b| b.is_some_and(|b| c.brain.ssim > b.ssim && c.brain.psnr > b.psnr))
                {
                    wins += 1;
                }
            }
            let mean_ssim = single.iter().map(|c| c.brain.ssim).sum::<f64>() / single.len() as f64;
            let _ = writeln!(
                s,
                "One missing (3 -> 1): {name} beats both baselines on brain SSIM and PSNR in {wins} of {} (subject, sequence) pairs ({:.0} %); mean brain SSIM {mean_ssim:.4}.\n",
                single.len(),
                100.0 * wins as f64 / single.len() as f64
            );
            let _ = writeln!(
                s,
                "| missing | {name} brain SSIM / PSNR | best baseline SSIM / PSNR | PSNR gain | intensity deviation: mean, worst |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|");
            for seq in self.set.sequences() {
                let mean = |m: Method| {
                    Quality::mean(
                        &self
                            .cases
                            .iter()
                            .filter(|c| {
                                c.method == m
                                    && c.sequence == seq
                                    && all[c.scenario_index].missing() == vec![seq]
                            })
                            .map(|c| c.brain)
                            .collect::<Vec<_>>(),
                    )
                };
                let (Some(g), Some(a), Some(b)) = (
                    mean(me),
                    mean(Method::MeanOfAvailable),
                    mean(Method::CopyMostSimilar),
                ) else {
                    continue;
                };
                let best_ssim = a.ssim.max(b.ssim);
                let best_psnr = a.psnr.max(b.psnr);
                let of_seq = || single.iter().filter(|c| c.sequence == seq);
                let deviations: Vec<f32> = of_seq().filter_map(|c| c.intensity).collect();
                let mean = deviations.iter().sum::<f32>() / deviations.len().max(1) as f32;
                let worst = worst_intensity(of_seq()).map_or("n/a".to_string(), |(d, c)| {
                    format!("{mean:.2}, {d:.2} ({})", c.subject)
                });
                let _ = writeln!(
                    s,
                    "| {seq} | {:.4} / {:.2} dB | {best_ssim:.4} / {best_psnr:.2} dB | {:+.2} dB | {worst} |",
                    g.ssim,
                    g.psnr,
                    g.psnr - best_psnr
                );
            }
            if let Some((d, c)) = worst_intensity(single.iter()) {
                let _ = writeln!(
                    s,
                    "\nIntensity: the brain percentiles (5, 50, 95) after the challenge normalisation lie within {:.0} % of the acquired volume's in every pair (worst: {} {}; bar 15 %).",
                    100.0 * d,
                    c.subject,
                    c.sequence
                );
            }
        }
        let mut lines = Vec::new();
        for r in self
            .rows
            .iter()
            .filter(|r| r.method == me && r.available <= 2)
        {
            if let Some(b) = self.rows.iter().find(|b| {
                b.method == Method::MeanOfAvailable
                    && b.scenario_index == r.scenario_index
                    && b.sequence == r.sequence
            }) {
                lines.push((
                    r.brain.ssim > b.brain.ssim,
                    format!("{} ({})", r.scenario, r.sequence),
                ));
            }
        }
        if !lines.is_empty() {
            let lost: Vec<&String> = lines.iter().filter(|(w, _)| !w).map(|(_, l)| l).collect();
            let _ = writeln!(
                s,
                "\nTwo or three missing: {name} above the mean of the available sequences on brain SSIM in {} of {} rows{}{}",
                lines.len() - lost.len(),
                lines.len(),
                if lost.is_empty() { "" } else { "; below in: " },
                lost.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        s
    }

    /// Every method side by side, one row per (scenario, missing sequence), in both
    /// metric definitions (`n/a` where a method has no result), then the means over the
    /// scenarios with 1, 2 and 3 sequences available: `mmgan eval`'s comparison.md.
    pub fn to_comparison_markdown(&self) -> String {
        let methods = self.methods();
        let mut s = String::new();
        let _ = writeln!(s, "Subjects: {}\n", self.subjects.join(", "));
        let header = |s: &mut String, what: &str| {
            let names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
            let _ = writeln!(
                s,
                "{what}\n\n| scenario (available -> missing) | seq | {} |",
                names.join(" | ")
            );
            let _ = writeln!(s, "|---|---|{}", "---|".repeat(methods.len()));
        };
        let mut keys: Vec<(usize, Sequence)> = Vec::new();
        for r in &self.rows {
            if !keys.contains(&(r.scenario_index, r.sequence)) {
                keys.push((r.scenario_index, r.sequence));
            }
        }
        keys.sort();
        let all = Scenario::all(self.set);
        let definitions: [(&str, Pick); 2] = [
            (
                "Challenge definition (per volume, inside the brain, 0.5-99.5 percentile clip): brain SSIM / PSNR (dB).",
                |r| r.brain,
            ),
            (
                "Paper definition (per axial slice, each image divided by its max): SSIM / PSNR (dB).",
                |r| r.paper,
            ),
        ];
        for (what, pick) in definitions {
            header(&mut s, what);
            for &(si, seq) in &keys {
                let cells: Vec<String> = methods
                    .iter()
                    .map(|m| {
                        self.rows
                            .iter()
                            .find(|r| r.scenario_index == si && r.sequence == seq && r.method == *m)
                            .map(|r| format!("{:.4} / {:.2}", pick(r).ssim, pick(r).psnr))
                            .unwrap_or_else(|| "n/a".into())
                    })
                    .collect();
                let _ = writeln!(s, "| {} | {seq} | {} |", all[si], cells.join(" | "));
            }
            for available in 1..=3 {
                let cells: Vec<String> = methods
                    .iter()
                    .map(|m| {
                        let q: Vec<Quality> = self
                            .rows
                            .iter()
                            .filter(|r| r.method == *m && r.available == available)
                            .map(pick)
                            .collect();
                        Quality::mean(&q)
                            .map(|q| format!("**{:.4} / {:.2}**", q.ssim, q.psnr))
                            .unwrap_or_else(|| "n/a".into())
                    })
                    .collect();
                if cells.iter().any(|c| c != "n/a") {
                    let _ = writeln!(
                        s,
                        "| **mean, {available} available** | | {} |",
                        cells.join(" | ")
                    );
                }
            }
            let _ = writeln!(s);
        }
        s
    }

    pub fn to_csv(&self) -> String {
        let mut s = String::from("scenario,available,sequence,method,subjects,paper_mse,paper_psnr,paper_ssim,brain_mse,brain_psnr,brain_ssim,tumour_psnr,tumour_ssim,non_tumour_psnr,non_tumour_ssim\n");
        for r in &self.rows {
            let o = |q: Option<Quality>, f: fn(&Quality) -> f64| {
                q.map(|q| format!("{:.6}", f(&q))).unwrap_or_default()
            };
            let _ = writeln!(
                s,
                "\"{}\",{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{}",
                r.scenario,
                r.available,
                r.sequence,
                r.method.name(),
                r.subjects,
                r.paper.mse,
                r.paper.psnr,
                r.paper.ssim,
                r.brain.mse,
                r.brain.psnr,
                r.brain.ssim,
                o(r.tumour, |q| q.psnr),
                o(r.tumour, |q| q.ssim),
                o(r.non_tumour, |q| q.psnr),
                o(r.non_tumour, |q| q.ssim),
            );
        }
        s
    }
}

/// The case with the largest intensity deviation among `cases`, with it.
fn worst_intensity<'a>(cases: impl Iterator<Item = &'a &'a Case>) -> Option<(f32, &'a Case)> {
    cases
        .filter_map(|c| Some((c.intensity?, *c)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}
