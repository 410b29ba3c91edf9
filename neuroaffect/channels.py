"""Channel lists, sampling rates and electrode positions of the supported datasets.

Channel lists are plain constants. Positions come from MNE's template montages
(``colin27_1005``, falling back to ``standard_1005`` on older MNE); ``mne`` is
imported lazily so that modules which only need the names do not pay for it.
"""

from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np

from ._utils import DatasetFormatError

# --- DEAP (Geneva order of data_preprocessed_python) -------------------------------------
DEAP_EEG_CH_NAMES = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1",
    "Oz", "Pz", "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2",
    "P4", "P8", "PO4", "O2",
)
DEAP_PERIPH_CH_NAMES = (
    "hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration belt", "Plethysmograph", "Temperature",
)
DEAP_CH_NAMES = DEAP_EEG_CH_NAMES + DEAP_PERIPH_CH_NAMES
DEAP_SFREQ = 128.0
DEAP_BASELINE_S = 3.0
DEAP_TRIAL_S = 60.0
DEAP_N_TIMES = 8064  # 63 s at 128 Hz

# --- DREAMER (Emotiv EPOC) ---------------------------------------------------------------
DREAMER_CH_NAMES = (
    "AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4",
)
DREAMER_SFREQ = 128.0
DREAMER_ECG_SFREQ = 256.0
DREAMER_BASELINE_S = 61.0
DREAMER_N_TRIALS = 18

# --- SEED (ESI NeuroScan 62 channels, names as distributed) ------------------------------
SEED_CH_NAMES = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8",
    "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ",
    "C2", "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7",
    "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6",
    "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)
SEED_SFREQ = 200.0
SEED_PREFIXES = (
    "djc", "jl", "jj", "lqj", "ly", "mhw", "phl", "sxy", "wk", "ww", "wsf", "wyw", "xyl", "ys", "zjy",
)

# --- MAHNOB-HCI (BioSemi, Geneva EEG order) ----------------------------------------------
MAHNOB_EEG_CH_NAMES = DEAP_EEG_CH_NAMES
MAHNOB_PERIPH_CH_NAMES = (
    "EXG1", "EXG2", "EXG3", "EXG4", "EXG5", "EXG6", "EXG7", "EXG8",
    "GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Temp",
)
MAHNOB_CH_NAMES = MAHNOB_EEG_CH_NAMES + MAHNOB_PERIPH_CH_NAMES  # + "Status"
MAHNOB_SFREQ = 256.0

# --- FACED (NeuSen W, Processed_data order: 30 scalp electrodes as TorchEEG lists them, then mastoids)
FACED_CH_NAMES = (
    "Fp1", "Fp2", "Fz", "F3", "F4", "F7", "F8", "FC1", "FC2", "FC5", "FC6", "Cz", "C3", "C4", "T7",
    "T8", "CP1", "CP2", "CP5", "CP6", "Pz", "P3", "P4", "P7", "P8", "PO3", "PO4", "Oz", "O1", "O2",
    "A1", "A2",
)
FACED_SFREQ = 250.0

# --- AMIGOS (Emotiv EPOC, preprocessed release: EEG, ECG and GSR at 128 Hz) ---------------
AMIGOS_CH_NAMES = DREAMER_CH_NAMES
AMIGOS_SFREQ = 128.0

# --- SEED-V (SEED's 62-electrode NeuroScan cap; raw CNT files at 1000 Hz) ------------------
SEED_V_SFREQ = 1000.0

SFREQ = MappingProxyType(
    {"deap": DEAP_SFREQ, "dreamer": DREAMER_SFREQ, "seed": SEED_SFREQ, "mahnob": MAHNOB_SFREQ,
     "faced": FACED_SFREQ, "amigos": AMIGOS_SFREQ,
     "seed-v": SEED_V_SFREQ}
)
EEG_CH_NAMES = MappingProxyType(
    {
        "deap": DEAP_EEG_CH_NAMES,
        "dreamer": DREAMER_CH_NAMES,
        "seed": SEED_CH_NAMES,
        "mahnob": MAHNOB_EEG_CH_NAMES,
        "faced": FACED_CH_NAMES,
        "amigos": AMIGOS_CH_NAMES,
        "seed-v": SEED_CH_NAMES,
    }
)

# Channels that no MNE template holds, and the template position that is theirs.
# NeuroScan's cerebellar CB1/CB2 sit exactly at 10-05 POO7/POO8.
POSITION_ALIASES = MappingProxyType({"CB1": "POO7", "CB2": "POO8"})

__all__ = [n for n in dir() if n.isupper()] + ["make_montage", "get_positions", "get_layout_2d",
                                             "standardise_ch_names"]


def _template_montage():
    import mne

    try:
        return mne.channels.make_standard_montage("colin27_1005")
    except ValueError:  # MNE < 1.13
        return mne.channels.make_standard_montage("standard_1005")


def get_positions(ch_names, fname=None) -> np.ndarray:
    """3-D head-frame electrode positions for ``ch_names`` (case-insensitive).

    Parameters
    ----------
    ch_names : sequence of str, length n_chans
        Channel names; ``CB1``/``CB2`` map to ``POO7``/``POO8``.
    fname : str | None
        File the names came from, used in error messages.

    Returns
    -------
    pos : ndarray, shape (n_chans, 3)
        Positions in metres (MNE head coordinates).
    """
    montage = _template_montage()
    table = {k.upper(): v for k, v in montage.get_positions()["ch_pos"].items()}
    pos, missing = [], []
    for name in ch_names:
        key = POSITION_ALIASES.get(name.upper(), name).upper()
        if key not in table:
            missing.append(name)
            continue
        pos.append(table[key])
    if missing:
        raise DatasetFormatError(
            fname,
            "EEG channel names with a 10-05 template position",
            f"unknown channel name(s) {missing}",
        )
    return np.asarray(pos, dtype=np.float64)


def make_montage(ch_names, fname=None, pos=None):
    """An ``mne.channels.DigMontage`` holding exactly ``ch_names`` (original spelling).

    Parameters
    ----------
    ch_names : sequence of str, length n_chans
        Electrode names.
    fname : path-like | None
        Montage file the names are looked up in (see :func:`get_positions`).
    pos : array-like, shape (n_chans, 3) | None
        Positions in metres (MNE head frame) to use instead of looking the names up.

    Returns
    -------
    montage : mne.channels.DigMontage
        Head frame, with the template montage's fiducials (nasion, lpa, rpa).
    """
    import mne

    pos = get_positions(ch_names, fname=fname) if pos is None else np.asarray(pos, dtype=np.float64)
    return mne.channels.make_dig_montage(
        ch_pos=dict(zip(ch_names, pos)), coord_frame="head",
        **{k: v for k, v in _template_montage().get_positions().items() if k in ("nasion", "lpa", "rpa")},
    )


def get_layout_2d(ch_names, fname=None) -> np.ndarray:
    """2-D sensor layout exactly as ``mne.viz.plot_topomap`` computes it.

    Returns
    -------
    pos2d : ndarray, shape (n_chans, 2)
        Projected positions in metres (head-circle radius ~0.095 for the default sphere).
    """
    import mne
    from mne.channels.layout import _find_topomap_coords

    info = mne.create_info(list(ch_names), 128.0, "eeg")
    info.set_montage(make_montage(ch_names, fname=fname))
    return np.asarray(_find_topomap_coords(info, picks=list(range(len(ch_names)))), dtype=np.float64)


# Prefixes and suffixes recording software adds to electrode names (EDF "EEG Fp1", "Fp1-REF", "Fc5.").
_NAME_PREFIX = re.compile(r"^(eeg)[\s_:-]+", re.IGNORECASE)
_NAME_SUFFIX = re.compile(r"([\s_-](ref|le|avg|ar)|\.+)$", re.IGNORECASE)


def standardise_ch_names(ch_names, standard_names=None, mapping=None) -> tuple[dict, list]:
    """Map recorded channel names onto standard electrode names.

    Each name is taken, in order, from ``mapping`` (exact spelling), else from the standard
    names by a case-insensitive match of the name with an ``EEG`` prefix (``"EEG Fp1"``), a
    reference suffix (``"Fp1-REF"``, ``"Fp1-LE"``) and trailing dots (``"Fc5."``, ``"C3.."``)
    removed, and the standard spelling is used (``"FC5"``, ``"FPz"`` -> ``"Fpz"``).

    Parameters
    ----------
    ch_names : sequence of str, length n_chans
        Names as the recording spells them.
    standard_names : sequence of str | None
        The montage's names (None: the 10-05 template's, see :func:`get_positions`).
    mapping : dict of str -> str | None
        Explicit ``{recorded name: standard name}``; a name mapped to a standard name is kept
        even when the template does not hold it (its position must then come from the file).

    Returns
    -------
    rename : dict of str -> str
        ``{recorded name: standard name}`` of every matched name (identities included).
    unmatched : list of str
        Recorded names with no standard name (e.g. bipolar ``"A2-A1"``, ``"EOG1"``), in order.
    """
    if standard_names is None:
        standard_names = list(_template_montage().ch_names) + list(POSITION_ALIASES)
    table = {n.upper(): n for n in standard_names}
    mapping = dict(mapping or {})
    rename, unmatched = {}, []
    for name in ch_names:
        if name in mapping:
            rename[name] = str(mapping[name])
            continue
        key = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", name.strip())).strip().upper()
        key = _NAME_SUFFIX.sub("", key).strip()
        if key in table:
            rename[name] = table[key]
        else:
            unmatched.append(name)
    return rename, unmatched
