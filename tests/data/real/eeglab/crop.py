"""Crop the EEGLAB tutorial recording (eeglab_data.set/.fdt) to its first 40 s and write labels.csv.

Usage: python crop.py SOURCE_FOLDER   (the folder holding eeglab_data.set and eeglab_data.fdt)
Writes eeglab_data.set / eeglab_data.fdt here: every channel, the first 40 s of float32 samples
unchanged, the header's sizes, times and events cut to match. labels.csv: one row per 'square'
event kept (2-s trials from its annotation), labelled with the event's 'position' field (1 or 2).
"""

import sys
from pathlib import Path

import numpy as np
import scipy.io as sio

SECONDS = 40
src = Path(sys.argv[1])
here = Path(__file__).parent
m = sio.loadmat(src / "eeglab_data.set", squeeze_me=False, struct_as_record=True)
eeg = m["EEG"]
e = eeg[0, 0]
n_chan, srate = int(e["nbchan"][0, 0]), float(e["srate"][0, 0])
pnts = int(SECONDS * srate)
x = np.fromfile(src / "eeglab_data.fdt", dtype="<f4").reshape(-1, n_chan)[:pnts]  # samples x channels
x.tofile(here / "eeglab_data.fdt")
e["pnts"] = np.array([[pnts]], dtype=np.uint16)
e["xmax"] = np.array([[(pnts - 1) / srate]])
e["times"] = (np.arange(pnts) * 1000.0 / srate)[None, :]
events = e["event"]
keep = [i for i in range(events.shape[1]) if float(events[0, i]["latency"][0, 0]) <= pnts]
e["event"] = events[:, keep]
e["icaact"] = np.zeros((0, 0))
sio.savemat(here / "eeglab_data.set", {"EEG": eeg}, format="5", do_compression=False)
rows = ["file,subject,session,trial,event,duration,position"]
squares = [events[0, i] for i in keep if str(events[0, i]["type"][0]) == "square"]
for t, ev in enumerate(sorted(squares, key=lambda ev: float(ev["latency"][0, 0])), start=1):
    rows.append(f"eeglab_data.set,1,1,{t},square,2,{int(ev['position'][0, 0])}")
(here / "labels.csv").write_text("\n".join(rows) + "\n")
