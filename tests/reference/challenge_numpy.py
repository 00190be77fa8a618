"""Expected challenge-definition metrics for tests/metrics.rs, from numpy and scikit-image.

Run: python3 tests/reference/challenge_numpy.py  (needs numpy, scikit-image)
A 21x17x3 volume pair defined by formulas that tests/metrics.rs evaluates the same way;
brain = voxels inside an ellipse, tumour = a disc inside it. Each volume is clipped to its
own 0.5 and 99.5 percentiles over the brain (nearest rank) and scaled to [0, 1]; MSE and
PSNR over the region's voxels; SSIM map per axial slice (Gaussian sigma 1.5, data range 1)
averaged over the region's voxels.
"""
import numpy as np
from skimage.metrics import structural_similarity

W, H, D = 21, 17, 3
z, y, x = np.mgrid[0:D, 0:H, 0:W].astype(np.float64)
truth = 100 + 40 * np.sin(0.4 * x + z) * np.cos(0.3 * y) + 3 * x
pred = truth * 1.7 + 25 * np.sin(1.1 * x * y + z) + 10
brain = ((x - 10) / 9.5) ** 2 + ((y - 8) / 7.5) ** 2 <= 1
tumour = brain & ((x - 13) ** 2 + (y - 7) ** 2 <= 9)
truth[~brain] = 0
pred[~brain] = 0


def unit(v):
    inside = np.sort(v[brain])
    n = inside.size
    lo = inside[int(np.floor((n - 1) * 0.005 + 0.5))]
    hi = inside[int(np.floor((n - 1) * 0.995 + 0.5))]
    return np.clip((v - lo) / (hi - lo), 0, 1)


p, t = unit(pred), unit(truth)
ssim = np.stack([
    structural_similarity(t[k], p[k], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                          data_range=1.0, full=True)[1]
    for k in range(D)
])
for name, region in [("brain", brain), ("tumour", tumour), ("non_tumour", brain & ~tumour)]:
    mse = np.mean((p[region] - t[region]) ** 2)
    print(f"{name}: psnr {-10 * np.log10(mse):.6f}, ssim {ssim[region].mean():.6f}")
