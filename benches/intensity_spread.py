"""How far apart acquired volumes' intensity distributions lie, in issue 9's measure.

Issue 9 asks that a synthesized volume's brain percentiles (5, 50, 95), after the
challenge normalisation (0.5-99.5 percentiles inside the brain clipped and scaled to
[0, 1]), lie within 15 % of the acquired volume's (`mmgan eval`'s "intensity deviation",
`eval::percentile_deviation`: the largest relative difference, the acquired value floored
at 0.05). This script measures what that asks of any predictor on real studies:

- how far each study's acquired percentiles lie from the mean over the studies (what a
  fixed template would score), and
- how well a study's percentiles can be predicted from its other three sequences'
  percentiles (ridge regression, leave one study out).

Usage: python3 benches/intensity_spread.py DIR  (DIR holds BraTS-style study folders with
NAME_t1.nii, NAME_t1ce.nii, NAME_t2.nii, NAME_flair.nii). Needs nibabel and numpy.
"""

import glob
import os
import sys

import nibabel as nib
import numpy as np

SEQS = ["t1", "t1ce", "t2", "flair"]
FLOOR = 0.05  # eval::PERCENTILE_FLOOR


def percentiles(study):
    name = os.path.basename(study)
    vols = {
        s: np.asarray(nib.load(f"{study}/{name}_{s}.nii").dataobj, dtype=np.float32)
        for s in SEQS
    }
    brain = np.zeros(vols["t1"].shape, bool)
    for v in vols.values():
        brain |= v != 0
    out = {}
    for s in SEQS:
        x = vols[s][brain]
        lo, hi = np.percentile(x, [0.5, 99.5])
        u = np.clip((x - lo) / max(hi - lo, 1e-12), 0, 1)
        out[s] = np.percentile(u, [5, 50, 95])
    return out


def deviation(pred, truth):
    return np.max(np.abs(pred - truth) / np.maximum(truth, FLOOR))


def main(root):
    studies = sorted(d for d in glob.glob(f"{root}/*") if os.path.isdir(d))
    rows = [percentiles(d) for d in studies]
    table = {s: np.array([r[s] for r in rows]) for s in SEQS}
    n = len(studies)
    print(f"{n} studies in {root}")
    print("| sequence | acquired p5 / p50 / p95 (range) | template: median, worst, within 15 % | "
          "predicted from the other three: median, worst, within 15 % |")
    print("|---|---|---|---|")
    for s in SEQS:
        a = table[s]
        template = np.array([deviation(a.mean(0), t) for t in a])
        others = [o for o in SEQS if o != s]
        # Features: every percentile of the other three sequences, and a constant.
        x = np.c_[np.concatenate([table[o] for o in others], 1), np.ones(n)]
        loo = []
        for i in range(n):
            fit = [j for j in range(n) if j != i]
            w = np.linalg.solve(x[fit].T @ x[fit] + 0.05 * np.eye(x.shape[1]), x[fit].T @ a[fit])
            loo.append(deviation(x[i] @ w, a[i]))
        loo = np.array(loo)
        ranges = " / ".join(f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(a.min(0), a.max(0)))
        print(f"| {s} | {ranges} | {np.median(template):.2f}, {template.max():.2f}, "
              f"{(template <= 0.15).mean():.0%} | {np.median(loo):.2f}, {loo.max():.2f}, "
              f"{(loo <= 0.15).mean():.0%} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/data/brats2018"))
