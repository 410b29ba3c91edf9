"""Calibrate the simulator against real EEG: the realism table, and the learnability of its snr knob.

``realism`` (the default) measures every metric of :mod:`neuroaffect.simulate.realism` on real
recordings (the folder ``--real`` holding ``eeg_eye_state/eeg_eye_state.arff``, the UCI Eye State
raw Emotiv recording split by eye state; ``eegmmidb_S001/S001R01.edf`` and ``S001R02.edf``,
PhysioNet eegmmidb subject 1 eyes open / closed; ``eeglab/eeglab_data.set``, the EEGLAB tutorial
recording without its two EOG channels) and on every simulated dataset (DEAP, DREAMER, SEED,
SEED-IV, MAHNOB-HCI as the simulator writes them, read back through the project's readers, stimulus
and baseline segments), prints the table per device family (Emotiv; research amplifiers), checks
each simulated value against :data:`~neuroaffect.simulate.realism.REAL_RANGES` and each real one
too (so that a range that no longer holds its own recordings is seen), and with ``--write``
rewrites the table between the markers in ``docs/simulator.md``.

``snr`` simulates DEAP-like subjects (32 channels, 128 Hz, 40 trials of ``--seconds`` s; with
``--device emotiv`` DREAMER's 14 channels as the Emotiv records them) for each snr, computes
per-channel ln band power (Welch, theta/alpha/beta/gamma) over each trial and scores a
standardised logistic regression with stratified 5-fold CV over trials (balanced accuracy; chance
0.5), beside the planted-feature Bayes oracle. Each subject draws its gains, ratings and signals
from generators of its own, so the same subjects are compared before and after a change of the
simulator. These are the figures quoted in ``neuroaffect/simulate/effects.py`` and
``docs/simulator.md``.

Run::

    python benchmarks/calibrate_simulator.py realism --real DIR --write
    python benchmarks/calibrate_simulator.py snr --subjects 10 --seconds 60 --snr 0.5 1 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neuroaffect._utils import atomic_write_text
from neuroaffect.channels import DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES
from neuroaffect.io import read_dataset, read_seed
from neuroaffect.labels import normalise_ratings
from neuroaffect.report.performance import machine_line
from neuroaffect.simulate import DEFAULT_SNR, draw_subject_effects, oracle_accuracy, simulate, simulate_eeg
from neuroaffect.simulate import deap as sim_deap
from neuroaffect.simulate import dreamer as sim_dreamer
from neuroaffect.simulate import seed as sim_seed
from neuroaffect.simulate._core import passband_gain
from neuroaffect.simulate.effects import draw_ratings
from neuroaffect.simulate.realism import FINISH, METRICS, PROFILES, in_range, real_range, realism_metrics

BANDS = ((4, 8), (8, 14), (14, 31), (31, 45))
FS = 128
DOC = Path(__file__).resolve().parents[1] / "docs" / "simulator.md"
BEGIN, END = "<!-- realism-table:begin -->", "<!-- realism-table:end -->"
#: Band the published files of each dataset are filtered to (Hz; None = unfiltered or not a band-pass
#: that changes 2-40 Hz).
PASSBAND = {"deap": (4.0, 45.0), "dreamer": None, "seed": None, "seed-iv": None, "mahnob": None}


# --------------------------------------------------------------------------------------------
# Real recordings
# --------------------------------------------------------------------------------------------
def _runs(state, value):
    """(start, stop) of every run of ``state == value``."""
    edges = np.flatnonzero(np.diff(np.r_[-1, state, -1]) != 0)
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if state[a] == value]


def real_recordings(folder):
    """Yield (family, name, state, pieces (µV), sfreq, ch_names, dc) for each real recording."""
    import mne
    from scipy.io import arff

    folder = Path(folder)
    mne.set_log_level("ERROR")
    data, meta = arff.loadarff(folder / "eeg_eye_state" / "eeg_eye_state.arff")
    names = [n for n in meta.names() if n != "eyeDetection"]
    x = np.stack([data[n].astype(float) for n in names])
    state = np.array([int(v) for v in data["eyeDetection"]])
    for value, label in ((0, "open"), (1, "closed")):
        yield ("emotiv", "Eye State (Emotiv EPOC)", label, [x[:, a:b] for a, b in _runs(state, value)], 128.0,
               names, True)
    for run, label in (("R01", "open"), ("R02", "closed")):
        raw = mne.io.read_raw_edf(folder / "eegmmidb_S001" / f"S001{run}.edf", preload=True)
        yield ("research", "eegmmidb S001 (BCI2000)", label, [raw.get_data() * 1e6], raw.info["sfreq"],
               [c.rstrip(".") for c in raw.ch_names], False)
    raw = mne.io.read_raw_eeglab(folder / "eeglab" / "eeglab_data.set", preload=True)
    keep = [i for i, c in enumerate(raw.ch_names) if "EOG" not in c.upper()]
    yield ("research", "EEGLAB tutorial", "task (eyes open)", [raw.get_data()[keep] * 1e6], raw.info["sfreq"],
           [raw.ch_names[i] for i in keep], False)


def as_deap_publishes(pieces, sfreq):
    """Real EEG finished like DEAP's release: the simulator's 4-45 Hz band-pass, common average."""
    out = []
    for p in pieces:
        n = p.shape[1]
        gain = passband_gain(np.fft.rfftfreq(n, 1.0 / sfreq), PASSBAND["deap"])
        x = np.fft.irfft(np.fft.rfft(p - p.mean(axis=1, keepdims=True), axis=-1) * gain, n=n, axis=-1)
        out.append(x - x.mean(axis=0, keepdims=True))
    return out


# --------------------------------------------------------------------------------------------
# Simulated datasets
# --------------------------------------------------------------------------------------------
def _pieces_uv(rec):
    """Stimulus and baseline segments of one recording, list of (n_chans, n_times) in µV."""
    out = [np.asarray(t) * 1e6 for t in rec.eeg]
    if rec.baseline is not None:
        out += [np.asarray(b) * 1e6 for b in rec.baseline]
    return out


def simulated_metrics(dataset, scale, out, seed=0):
    """Metrics of every subject of a simulated dataset, list of dict (read back by the readers)."""
    if dataset == "seed-iv":
        recs = read_seed(sim_seed.write_seed_iv(Path(out), scale=scale, seed=seed), variant="seed-iv")
    else:
        recs = read_dataset(dataset, simulate(dataset, scale, out, seed=seed))
    return [realism_metrics(_pieces_uv(r), r.sfreq, r.ch_names, passband=PASSBAND[dataset],
                            dc=dataset == "dreamer") for r in recs]


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------
def _fmt(v):
    if not np.isfinite(v):
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.1f}" if abs(v) >= 20 else f"{v:.2f}")


def _cell(values, key, metric):
    """Median [min-max] over subjects, flagged with ! when the median leaves the real range of ``key``."""
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).any():
        return "-"
    med = float(np.nanmedian(v))
    text = _fmt(med) if v.size == 1 else f"{_fmt(med)} [{_fmt(np.nanmin(v))}-{_fmt(np.nanmax(v))}]"
    ok = in_range(key, metric, med)
    return text + ("" if ok is None or ok else " !")


_TITLES = {"emotiv": "Emotiv EPOC (DREAMER)", "research": "Research amplifiers (SEED, SEED-IV, MAHNOB-HCI)",
           "research-4-45": "Research amplifiers as DEAP publishes them (4-45 Hz, common average)"}


def _range_text(key, metric):
    r = real_range(key, metric)
    return "-" if r is None else f"{_fmt(r[0])}-{_fmt(r[1])}"


def realism_table(real_rows, sim_rows) -> str:
    """Markdown: one table per profile, a row per real recording and per simulated dataset."""
    lines = []
    for prof, title in _TITLES.items():
        lines += [f"**{title}**", "", "| recording | " + " | ".join(METRICS) + " |",
                  "|---" * (len(METRICS) + 1) + "|",
                  "| *real range (pinned)* | " + " | ".join(_range_text(prof, m) for m in METRICS) + " |"]
        for key, name, state, m in real_rows:
            if key == prof:
                lines.append(f"| real: {name}, {state} | " + " | ".join(_cell([m[k]], prof, k) for k in METRICS) + " |")
        for ds, ms in sim_rows:
            if PROFILES[ds] != prof:
                continue
            for metric, (rng, why) in FINISH.get(ds, {}).items():
                lines.append(f"| *{ds}: {metric} {_fmt(rng[0])}-{_fmt(rng[1])} ({why})* |" + " |" * len(METRICS))
            lines.append(f"| simulated {ds} ({len(ms)} subjects) | " + " | ".join(
                _cell([m[k] for m in ms], ds, k) for k in METRICS) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_doc(table: str, doc=DOC) -> None:
    """Replace the text between the realism markers of ``doc`` (atomically)."""
    text = Path(doc).read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: expected the markers {BEGIN} and {END}, but found "
                         f"{'neither' if BEGIN not in text and END not in text else 'one of them'}")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    atomic_write_text(doc, f"{head}{BEGIN}\n{table}{END}{tail}")


def run_realism(args):
    t0 = time.perf_counter()
    real_rows = []
    for fam, name, state, p, fs, ch, dc in real_recordings(args.real):
        real_rows.append((fam, name, state, realism_metrics(p, fs, ch, dc=dc)))
        if fam == "research":
            real_rows.append(("research-4-45", name, state + ", as DEAP publishes",
                              realism_metrics(as_deap_publishes(p, fs), fs, ch, passband=PASSBAND["deap"])))
    sim_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ds in args.datasets:
            sim_rows.append((ds, simulated_metrics(ds, args.scale, Path(tmp) / ds, seed=args.seed)))
    table = realism_table(real_rows, sim_rows)
    print(f"real recordings: {args.real}; simulated at scale {args.scale!r}, seed {args.seed}; "
          f"{time.perf_counter() - t0:.0f} s; {machine_line()}")
    print("! = outside the pinned real range of the device family\n")
    print(table)
    if args.write:
        write_doc(table, args.doc)
        print(f"wrote {args.doc}")


# --------------------------------------------------------------------------------------------
# snr
# --------------------------------------------------------------------------------------------
def log_band_power(x):
    """ln Welch band power, shape (n_trials, n_chans * n_bands)."""
    f, p = welch(x, fs=FS, nperseg=2 * FS, axis=-1)
    bp = np.stack([p[..., (f >= lo) & (f < hi)].mean(-1) for lo, hi in BANDS], axis=-1)
    return np.log(bp).reshape(len(x), -1)


def score(features, y):
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(clf, features, y, cv=cv, scoring="balanced_accuracy").mean()


def run_snr(args):
    n_times = int(args.seconds * FS)
    if args.device == "emotiv":  # DREAMER's channels and finish
        ch_names, finish = DREAMER_CH_NAMES, sim_dreamer.EEG_FINISH
    else:  # DEAP's
        ch_names, finish = DEAP_EEG_CH_NAMES, sim_deap.EEG_FINISH
    device = {"device": args.device}
    print(f"{args.subjects} subjects x 40 trials x {args.seconds:g} s, {len(ch_names)} channels ({args.device}); "
          "balanced accuracy, 5-fold CV over trials")
    print(f"{'snr':>5} {'valence':>8} {'arousal':>8} {'oracle v':>9} {'oracle a':>9} {'s':>6}")
    for mult in args.snr:
        t0 = time.perf_counter()
        acc = {"valence": [], "arousal": []}
        orc = {"valence": [], "arousal": []}
        for s in range(args.subjects):
            # One generator per subject and per use, so that the subjects' gains and ratings stay
            # the same when the simulator draws more or less (before / after a change).
            eff = draw_subject_effects(np.random.default_rng([args.seed, s, 0]), s + 1, mult * DEFAULT_SNR,
                                       **device)
            vad = normalise_ratings(draw_ratings(np.random.default_rng([args.seed, s, 1]), 40, "deap")[:, :3], "deap")
            x = simulate_eeg(np.random.default_rng([args.seed, s, 2]), vad, ch_names, FS, n_times, eff, **finish)
            feats = log_band_power(x)
            for i, target in enumerate(acc):
                acc[target].append(score(feats, (vad[:, i] >= 0).astype(int)))
                orc[target].append(oracle_accuracy(eff, vad, target, n_draws=500))
        print(f"{mult:5.2f} {np.mean(acc['valence']):8.3f} {np.mean(acc['arousal']):8.3f} "
              f"{np.mean(orc['valence']):9.3f} {np.mean(orc['arousal']):9.3f} "
              f"{time.perf_counter() - t0:6.1f}")
    print(machine_line())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode")
    r = sub.add_parser("realism", help="the realism table (real vs simulated, per device family)")
    r.add_argument("--real", type=Path, required=True,
                   help="folder of the real recordings (eeg_eye_state/, eegmmidb_S001/, eeglab/)")
    r.add_argument("--scale", default="demo", choices=("tiny", "demo", "full"))
    r.add_argument("--datasets", nargs="*", default=["dreamer", "deap", "seed", "seed-iv", "mahnob"])
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--write", action="store_true", help="rewrite the table in docs/simulator.md")
    r.add_argument("--doc", type=Path, default=DOC)
    s = sub.add_parser("snr", help="learnability of the planted effects against snr")
    s.add_argument("--subjects", type=int, default=10)
    s.add_argument("--seconds", type=float, default=60.0)
    s.add_argument("--snr", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="multiples of DEFAULT_SNR")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="research", choices=("research", "emotiv"),
                   help="research: DEAP's 32 channels and 4-45 Hz; emotiv: DREAMER's 14 channels, raw")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("realism", "snr", "-h", "--help"):
        argv = ["realism", *argv]  # realism is the default mode
    args = ap.parse_args(argv)
    (run_snr if args.mode == "snr" else run_realism)(args)


if __name__ == "__main__":
    main()
