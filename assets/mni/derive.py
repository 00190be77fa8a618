"""Derive the phantom generator's anatomy from the MNI152 2009 template (run once).

    python3 -m pip download --no-deps nilearn==0.14.1 && unzip nilearn-0.14.1-*.whl 'nilearn/datasets/data/*'
    python3 assets/mni/derive.py nilearn/datasets/data

Writes, cropped to the brain box (155 axial slices, as a BraTS grid), 1 mm, RAS, uint8:
  brain.nii.gz  brain mask (template > 0), 0/1
  gm.nii.gz     grey-matter probability x 255
  wm.nii.gz     white-matter probability x 255
CSF is derived at run time as the brain minus grey and white matter.
"""
import sys

import nibabel as nib
import numpy as np

src = sys.argv[1]
name = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
t1 = nib.load(f"{src}/{name.format('t1')}")
gm = np.asarray(nib.load(f"{src}/{name.format('gm')}").dataobj)
wm = np.asarray(nib.load(f"{src}/{name.format('wm')}").dataobj)
brain = np.asarray(t1.dataobj) > 0

idx = np.argwhere(brain)
lo, hi = idx.min(0), idx.max(0) + 1
pad = 2
lo = np.maximum(lo - pad, 0)
hi = np.minimum(hi + pad, brain.shape)
# Keep at most 155 slices (the BraTS grid), centred on the brain.
if hi[2] - lo[2] > 155:
    extra = hi[2] - lo[2] - 155
    lo[2] += extra // 2
    hi[2] = lo[2] + 155
box = tuple(slice(a, b) for a, b in zip(lo, hi))
affine = t1.affine.copy()
affine[:3, 3] += affine[:3, :3] @ lo

for out, data in [("brain", brain.astype(np.uint8)), ("gm", gm * brain), ("wm", wm * brain)]:
    img = nib.Nifti1Image(np.ascontiguousarray(data[box]).astype(np.uint8), affine)
    img.header["descrip"] = b"MNI152 2009c sym derived; see COPYRIGHT"
    img.set_sform(affine, code=2)
    nib.save(img, f"{out}.nii.gz")
    print(out, img.shape)
