"""Expected SSIM values for tests/metrics.rs, from scikit-image (the reference).

Run: python3 tests/reference/ssim_skimage.py  (needs numpy, scikit-image)
The arrays are defined by formulas that tests/metrics.rs evaluates the same way.
"""
import numpy as np
from skimage.metrics import structural_similarity


def image(w, h, phase):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    v = 0.5 + 0.25 * np.sin(0.31 * x + phase) * np.cos(0.17 * y - phase) + 0.2 * np.sin(0.05 * x * y)
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def noisy(img, seed_mul):
    h, w = img.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    n = 0.1 * np.sin(12.9898 * x * seed_mul + 78.233 * y) 
    return np.clip(img + n, 0.0, 1.0).astype(np.float32)


for (w, h, phase, mul) in [(48, 40, 0.0, 1.0), (64, 64, 0.7, 2.0), (23, 31, 1.3, 0.5)]:
    a = image(w, h, phase)
    b = noisy(a, mul)
    m, S = structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=1.0, full=True)
    # mean SSIM, and three map values (corner, edge, centre) checking reflected borders
    print(f"({w}, {h}, {phase}, {mul}, {m:.8f}, {S[0,0]:.8f}, {S[h//2, 0]:.8f}, {S[h//2, w//2]:.8f}),")
