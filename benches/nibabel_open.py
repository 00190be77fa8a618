"""Peer for `mmgan bench open`: load the same NIfTI files with nibabel + numpy.

argv: RUNS FILE...; prints a JSON list of wall times in seconds, one per timed run
(after one warm-up).
"""
import json
import sys
import time

import nibabel as nib
import numpy as np

runs = int(sys.argv[1])
files = sys.argv[2:]
times = []
for i in range(runs + 1):
    t = time.perf_counter()
    vols = [np.asarray(nib.load(f).dataobj, dtype=np.float32) for f in files]
    dt = time.perf_counter() - t
    if i > 0:
        times.append(dt)
print(json.dumps(times))
