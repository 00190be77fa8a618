"""Check the viewer's --screenshot PNG panel by panel (CI's window check).

argv: PNG SYNTHETIC_SEQUENCES (comma-separated, e.g. FLAIR) [overlay] [panels=T1,T2,DWI,FLAIR]
Reads PNG.panels.json (written by the viewer beside the screenshot): each panel must show
brain signal, and exactly the named sequences must carry the orange SYNTHETIC border. With
"overlay", the synthesized panels must carry a coloured overlay (the uncertainty map) and
the acquired ones none. With "panels=...", the panels must be those sequences, in that
order (the model's sequence set).
Exit status 1 with the reason when a check fails.
"""
import json
import subprocess
import sys

import numpy as np

png, expected = sys.argv[1], set(filter(None, sys.argv[2].split(",")))
overlay = "overlay" in sys.argv[3:]
order = next((a[len("panels="):].split(",") for a in sys.argv[3:] if a.startswith("panels=")), None)
ppm = subprocess.run(["convert", png, "ppm:-"], check=True, capture_output=True).stdout
# P6 header: magic, width, height, maxval, each separated by whitespace.
fields, pos = [], 0
while len(fields) < 4:
    while ppm[pos : pos + 1].isspace():
        pos += 1
    end = pos
    while not ppm[end : end + 1].isspace():
        end += 1
    fields.append(ppm[pos:end])
    pos = end
width, height = int(fields[1]), int(fields[2])
image = np.frombuffer(ppm[pos + 1 : pos + 1 + width * height * 3], np.uint8).reshape(height, width, 3)
panels = json.load(open(png + ".panels.json"))["panels"]
failures, synthetic_seen = [], set()
for p in panels:
    x0, y0, x1, y1 = (int(v) for v in p["rect"])
    w, h = x1 - x0, y1 - y0
    centre = image[y0 + h // 5 : y1 - h // 5, x0 + w // 5 : x1 - w // 5].astype(float).mean(axis=2)
    signal = centre.std()
    band = np.concatenate(
        [image[y0 : y0 + 3, x0:x1].reshape(-1, 3), image[y1 - 3 : y1, x0:x1].reshape(-1, 3),
         image[y0:y1, x0 : x0 + 3].reshape(-1, 3), image[y0:y1, x1 - 3 : x1].reshape(-1, 3)]
    ).astype(int)
    orange = np.mean((np.abs(band[:, 0] - 255) < 40) & (np.abs(band[:, 1] - 170) < 40) & (band[:, 2] < 60))
    rgb = image[y0 + h // 5 : y1 - h // 5, x0 + w // 5 : x1 - w // 5].astype(int)
    # Grey has r = g = b; the overlay's colours do not.
    colour = np.mean((rgb.max(axis=2) - rgb.min(axis=2)) > 40)
    print(f"{p['sequence']}: rect {p['rect']}, centre grey spread {signal:.1f}, orange border {orange:.2f}, coloured {colour:.3f}, synthetic {p['synthetic']}")
    if overlay and p["synthetic"] and colour < 0.01:
        failures.append(f"{p['sequence']} is synthetic but shows no overlay ({colour:.3f} coloured)")
    if overlay and not p["synthetic"] and colour > 0.001:
        failures.append(f"{p['sequence']} is acquired but shows colour ({colour:.3f})")
    if signal < 10:
        failures.append(f"{p['sequence']} panel has no brain signal (grey spread {signal:.1f})")
    if p["synthetic"]:
        synthetic_seen.add(p["sequence"])
        if orange < 0.5:
            failures.append(f"{p['sequence']} is synthetic but its border is not marked ({orange:.2f} orange)")
    elif orange > 0.5:
        failures.append(f"{p['sequence']} is acquired but carries the synthetic border")
if len(panels) != 4:
    failures.append(f"{len(panels)} panels drawn, expected 4")
if order is not None and [p["sequence"] for p in panels] != order:
    failures.append(f"panels {[p['sequence'] for p in panels]}, expected {order}")
if synthetic_seen != expected:
    failures.append(f"synthesized panels {sorted(synthetic_seen)}, expected {sorted(expected)}")
for f in failures:
    print("FAILED:", f)
sys.exit(1 if failures else 0)
