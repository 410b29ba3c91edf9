"""Crop PhysioNet eegmmidb S001R01/R02 to their first 30 s, every channel, samples bit for bit.

Usage: python crop.py SOURCE_FOLDER   (the folder holding S001R01.edf and S001R02.edf)
Writes S001R01.edf and S001R02.edf here (EDF+, original headers and digital samples, one T0
annotation over the kept 30 s).
"""

import sys
from pathlib import Path

import pyedflib

SECONDS = 30

for run in ("S001R01", "S001R02"):
    src = pyedflib.EdfReader(str(Path(sys.argv[1]) / f"{run}.edf"))
    n = src.signals_in_file
    heads = src.getSignalHeaders()
    n_keep = int(SECONDS * heads[0]["sample_frequency"])
    data = [src.readSignal(k, 0, n_keep, digital=True) for k in range(n)]
    header = src.getHeader()
    src.close()
    out = pyedflib.EdfWriter(str(Path(__file__).with_name(f"{run}.edf")), n, file_type=pyedflib.FILETYPE_EDFPLUS)
    out.setHeader(header)
    out.setSignalHeaders(heads)
    out.writeSamples(data, digital=True)
    out.writeAnnotation(0, SECONDS, "T0")
    out.close()
