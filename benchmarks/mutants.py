"""Mutation benchmark: one-line bugs planted in a copy of the package, each of which a test must catch.

Every mutant replaces one snippet of one source file with a plausible wrong version (an inverted
comparison, a lost unit conversion, a dropped step). The script copies the package, its tests and
the files they read into a temporary folder, then for each mutant writes the mutated file into
that copy, runs the mutant's test files there (``pytest -x -q``, with ``PYTHONPATH`` pointing at
the copy and no bytecode written, so the copy's source is what runs), and restores the file. The
checkout itself is never written to. A mutant is **killed** when a test fails (or errors, or the
run exceeds ``--timeout``), and **survives** when every test passes; a snippet that no longer
occurs exactly once in the source is reported as **not found** and counted in neither.

Before the mutants, the union of their test files runs once on the unmutated copy: a test that
fails there would kill every mutant for nothing, so its mutants are reported as **invalid**.

Run::

    python benchmarks/mutants.py                 # every mutant (about 30 minutes on 2 busy cores)
    python benchmarks/mutants.py --only bde-      # the mutants whose name starts with "bde-"
    python benchmarks/mutants.py --tested-by tests/test_guards_   # the 47 the guard tests must kill (~12 min)
    python benchmarks/mutants.py --list           # the mutants and their test files

Prints one row per mutant (name, file, outcome, the first failing test, seconds), the share of
the applicable mutants killed, and the load average before and after (a loaded machine slows the
run, not its outcome).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What the copy holds: the package, its tests and the files tests read.
COPIED = ("neuroaffect", "tests", "docs", "config", "workflow", "profiles", "Snakefile", "pyproject.toml",
          "constraints.txt")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One planted bug: ``original`` (occurring exactly once in ``file``) becomes ``mutated``."""

    name: str
    file: str
    original: str
    mutated: str
    tests: tuple
    what: str


def _m(name, file, original, mutated, tests, what):
    return Mutant(name, file, original, mutated, tuple(tests), what)


PICKLE, BDE, EXTRACT = "neuroaffect/io/_pickle.py", "neuroaffect/features/bde.py", "neuroaffect/features/extract.py"
PROTOCOLS, ENGINE, METRICS = ("neuroaffect/training/protocols.py", "neuroaffect/training/engine.py",
                              "neuroaffect/training/metrics.py")
GRID, GRID_IO, TEACHER = ("neuroaffect/prototypes/grid.py", "neuroaffect/prototypes/io.py",
                          "neuroaffect/prototypes/teacher.py")
LOSSES, PHYSIO, TRAINABLES = ("neuroaffect/distill/losses.py", "neuroaffect/features/physio.py",
                              "neuroaffect/training/trainables.py")

T_PICKLE = ["tests/test_pickle_safety.py"]
T_FEATURES = ["tests/test_features_closed_form.py", "tests/test_features_bde.py", "tests/test_features_store.py"]
T_PROTOCOLS = ["tests/test_training_protocols.py"]
T_LOOP = ["tests/test_training_loop.py", "tests/test_training_engine.py"]
T_PROTOTYPES = [f"tests/test_prototypes.py::{t}" for t in (
    "test_grid_geometry", "test_prototypes_by_hand_and_filled_bins", "test_ordering_test_finds_order_and_only_order",
    "test_export_round_trip_lookup_and_soft_assignment", "test_one_changed_byte_is_refused",
    "test_a_changed_card_field_is_refused", "test_truncated_missing_and_future_files_are_refused",
    "test_mc_dropout_spread_comes_from_dropout_alone")]
T_LOSSES = ["tests/test_distill_losses.py"]
# the guards: hand-computed expected values for selection, label tables, the grid's statistics, metrics, AMP,
# the simulator's planted signs and the code hash
LABELS, ABLATION, DTRAIN = "neuroaffect/labels.py", "neuroaffect/distill/ablation.py", "neuroaffect/distill/train.py"
FOLDS, GRID_CLASS, CONFIG = "neuroaffect/training/folds.py", "neuroaffect/prototypes/io.py", "neuroaffect/training/config.py"
RESULTS, PLANTED, PROVENANCE = ("neuroaffect/training/results.py", "neuroaffect/simulate/_planted.py",
                                "workflow/lib/neuroaffect_workflow/provenance.py")
G_LABELS, G_GRID = ["tests/test_guards_labels.py"], ["tests/test_guards_grid.py"]
G_SELECT = ["tests/test_guards_selection.py"]
G_SELECT_FAST = [f"tests/test_guards_selection.py::{t}" for t in (
    "test_deployable_seed_is_the_best_validation_macro_f1_among_several_seeds",
    "test_seed_selection_ignores_test_figures_however_adversarial", "test_paired_tests_by_hand",
    "test_ablation_verdict_on_the_control", "test_student_epoch_selection_keeps_the_first_best_epoch_by_hand")]
G_FOLDS, G_METRICS, G_AMP = ["tests/test_guards_folds.py"], ["tests/test_guards_metrics.py"], ["tests/test_guards_amp.py"]
G_SIM, G_PROV = ["tests/test_guards_simulator.py"], ["tests/test_guards_provenance.py"]

MUTANTS = [
    # --- the restricted unpickler (the allow-table lookup and the roles of admitted globals) ---
    _m("pickle-allow-by-module", PICKLE,
       "glob = _GLOBALS.get((module, name)) if type(module) is str and type(name) is str else None",
       "glob = next((g for (m, _n), g in _GLOBALS.items() if m == module), None) if type(module) is str else None",
       T_PICKLE, "the allow-list checked by module only: any numpy function passes"),
    _m("pickle-ndarray-callable", PICKLE, '        if func.role == "ndarray":\n',
       '        if func.role == "ndarray" and False:\n',
       T_PICKLE, "numpy.ndarray admitted as a callable (arrays not backed by the file)"),
    _m("pickle-no-size-budget", PICKLE, "if used + nbytes > self._budget:",
       "if used + nbytes > 1000 * self._budget:", T_PICKLE, "arrays may add up to far more than the file"),
    # --- band differential entropy ---
    _m("bde-entropy-constant", BDE, "return 0.5 * np.log(2 * math.pi * math.e * var) * factor",
       "return 0.5 * np.log(2 * math.pi * var) * factor", T_FEATURES, "DE without the e of 2 pi e"),
    _m("bde-fft-edge-bin", BDE, "weights[:, i] = (inside + 0.5 * edge) * scale",
       "weights[:, i] = (inside + edge) * scale", T_FEATURES, "a bin on a band edge counted whole in both bands"),
    _m("bde-fft-parseval", BDE, "scale = onesided / (n * np.sum(w**2))", "scale = onesided / (n * np.sum(w))",
       T_FEATURES, "Parseval scaling by the taper's sum instead of its energy"),
    _m("bde-n-windows", BDE, "(n_times - window) // stride + 1", "(n_times - window) // stride",
       T_FEATURES, "the last whole window dropped"),
    _m("bde-baseline-max", BDE, "return compute_band_variance(base, sfreq, q, scale=scale).mean(axis=1)",
       "return compute_band_variance(base, sfreq, q, scale=scale).max(axis=1)", T_FEATURES,
       "baseline segments reduced by their maximum instead of their mean power"),
    _m("bde-normalize-std", BDE, "var /= np.square(std)[:, :, None, None]", "var /= std[:, :, None, None]",
       T_FEATURES, "window normalisation by the std instead of the variance"),
    # --- extract_features ---
    _m("extract-baseline-volts", EXTRACT,
       "base_de = variance_to_de(_baseline_variance(rec.baseline, sfreq, p, scale), p.log_base)",
       "base_de = variance_to_de(_baseline_variance(rec.baseline, sfreq, p, 1.0), p.log_base)",
       T_FEATURES, "baseline variance in V^2 instead of uV^2 (planted bug of the issue)"),
    _m("extract-baseline-pooled", EXTRACT, "de -= base_de[:, None]", "de -= base_de.mean(0)[None, None]",
       T_FEATURES, "one baseline for all trials instead of each trial's own"),
    _m("extract-millivolts", EXTRACT, "scale = 1e6 if p.scale_uv else 1.0", "scale = 1e3 if p.scale_uv else 1.0",
       T_FEATURES, "signal scaled to mV instead of uV"),
    _m("extract-baseline-flag", EXTRACT, '"baseline_applied": int(applied),', '"baseline_applied": 1,',
       T_FEATURES, "baseline_applied claimed when nothing was subtracted"),
    # --- protocols and leakage ---
    _m("leak-left-le", PROTOCOLS, "near_left = (pos > 0) & (key_te - left < win_len)",
       "near_left = (pos > 0) & (key_te - left <= win_len)", T_PROTOCOLS,
       "touching windows counted as overlapping, left neighbour (planted bug of the issue)"),
    _m("leak-right-le", PROTOCOLS, "near_right = (pos < key_tr.size) & (right - key_te < win_len)",
       "near_right = (pos < key_tr.size) & (right - key_te <= win_len)", T_PROTOCOLS,
       "touching windows counted as overlapping, right neighbour"),
    _m("leak-trial-gap", PROTOCOLS, "span = int(max(start_train.max(), start_test.max())) + int(win_len) + 1",
       "span = int(max(start_train.max(), start_test.max())) + 1", T_PROTOCOLS,
       "no gap between trials in the search key: windows of adjacent trials 'overlap'"),
    _m("leak-same-trial", PROTOCOLS, "same = np.isin(windows.trial[test_idx], windows.trial[train_idx])",
       "same = np.isin(windows.trial[test_idx], windows.trial[test_idx])", T_PROTOCOLS,
       "trial overlap measured against the test set itself"),
    _m("protocol-seed-9-6", PROTOCOLS, "train = here & (windows.trial_number <= SEED_N_TRAIN_TRIALS)",
       "train = here & (windows.trial_number < SEED_N_TRAIN_TRIALS)", T_PROTOCOLS,
       "seed-9-6 trains on clips 1-8 only"),
    _m("protocol-holdout-leak", PROTOCOLS,
       'folds.append(_fold(windows, "trial-holdout", s, k, in_subject[~test], in_subject[test],',
       'folds.append(_fold(windows, "trial-holdout", s, k, in_subject, in_subject[test],',
       T_PROTOCOLS, "trial-holdout trains on its test trials too"),
    # --- the training engine ---
    _m("engine-no-restore", ENGINE, "            if finished:\n                trainable.restore_best()\n",
       "            if finished:\n                pass\n", T_LOOP,
       "early stopping never restores the best epoch's weights (planted bug of the issue)"),
    _m("engine-worse-is-better", ENGINE, 'improved = active & (vl < es["best_loss"])',
       'improved = active & (vl > es["best_loss"])', T_LOOP, "early stopping never sees an improvement"),
    _m("engine-patience-off-by-one", ENGINE, 'es["active"] = active & (es["bad"] < cfg.patience)',
       'es["active"] = active & (es["bad"] <= cfg.patience)', T_LOOP, "one epoch more patience than asked"),
    _m("engine-no-schedule", ENGINE, "            sched.step()\n", "            pass\n", T_LOOP,
       "the cosine learning-rate schedule never steps"),
    _m("engine-unweighted-loss", ENGINE, "loss_sum += loss_m.detach() * n", "loss_sum += loss_m.detach()",
       T_LOOP, "epoch train loss not weighted by batch size"),
    _m("engine-no-zero-grad", ENGINE, "                opt.zero_grad(set_to_none=True)\n", "", T_LOOP,
       "gradients accumulate across steps"),
    _m("engine-no-clipping", ENGINE, "                    trainable.clip_grad_(cfg.grad_clip)\n",
       "                    pass\n", T_LOOP, "grad_clip ignored"),
    _m("engine-unseeded", ENGINE, "    torch.manual_seed(cfg.seed)\n    opt =", "    opt =", T_LOOP,
       "the global torch RNG (dropout) not seeded from the config"),
    _m("stacked-always-train-mode", TRAINABLES, "        self.base.train(mode)\n", "        self.base.train(True)\n",
       ["tests/test_training_sweep.py::test_batched_sweep_equals_plain_loop_with_dropout_on"],
       "stacked models keep dropout on when predicting"),
    # --- metrics ---
    _m("votes-argmin", METRICS, "return trials, y_true[first], counts.argmax(axis=1)",
       "return trials, y_true[first], counts.argmin(axis=1)", ["tests/test_training_metrics.py"],
       "trial-level voting with argmin (planted bug of the issue)"),
    # --- physiology ---
    _m("hrv-count", PHYSIO, "rmssd = np.sqrt((cs[b] - cs[a]) / np.maximum(b - a, 1)) * 1e3",
       "rmssd = np.sqrt((cs[b] - cs[a]) / np.maximum(b - a + 1, 1)) * 1e3", ["tests/test_features_physio.py"],
       "RMSSD divided by one difference too many"),
    # --- prototype grid ---
    _m("grid-farthest-fill", GRID, "nearest = full[np.argmin(np.round(d, 12), axis=1)]",
       "nearest = full[np.argmax(np.round(d, 12), axis=1)]", T_PROTOTYPES, "empty bins copy the farthest bin"),
    _m("grid-unnormalised-members", GRID, "np.add.at(sums, (iv[ok], ia[ok]), _normalise(emb[ok]))",
       "np.add.at(sums, (iv[ok], ia[ok]), emb[ok])", T_PROTOTYPES, "members averaged before L2 normalisation"),
    _m("grid-p-value", GRID, '"p_value": float((1 + np.sum(null >= rho - 1e-12)) / (1 + null.size))',
       '"p_value": float(np.sum(null >= rho - 1e-12) / null.size)', T_PROTOTYPES,
       "permutation p-value without the +1 (can be 0)"),
    _m("grid-card-unchecked", GRID_IO, 'if card["card_sha256"] != found:', "if False:", T_PROTOTYPES,
       "the card's own checksum not verified"),
    _m("teacher-mc-dropout-off", TEACHER, "        self.model.train(True)\n        return self",
       "        self.model.train(False)\n        return self", T_PROTOTYPES,
       "MC-dropout passes without dropout (no spread, the gate admits everything)"),
    # --- distillation losses ---
    _m("kd-no-t-squared", LOSSES, "per = (torch.xlogy(p, p) - p * logq).sum(-1) * (t * t)",
       "per = (torch.xlogy(p, p) - p * logq).sum(-1)", T_LOSSES, "KD without the T^2 factor"),
    _m("ce-unweighted-mean", LOSSES, "return per.sum(1) / wy.sum(1).clamp_min(1e-12)",
       "return per.sum(1) / per.shape[1]", T_LOSSES, "class-weighted CE divided by the count, not the weights"),
    _m("masked-mean-count", LOSSES, "return (per * m).sum(1) / m.sum(1).clamp_min(1.0)",
       "return (per * m).sum(1) / per.shape[1]", T_LOSSES, "masked mean divided by the padded batch size"),
    _m("dgeo-single-sample-classes", LOSSES, "ok_v = (cnt[:, high] >= 2).to(e.dtype)",
       "ok_v = (cnt[:, high] >= 1).to(e.dtype)", T_LOSSES,
       "a one-sample class dilutes the variance term's average"),
    _m("ramp-linear", LOSSES, "return 0.5 * (1.0 - math.cos(math.pi * (progress - start) / (end - start)))",
       "return (progress - start) / (end - start)", T_LOSSES, "the D-Geo ramp linear instead of cosine"),
    # --- face label tables and circumplex anchors (tests/test_guards_labels.py) ---
    _m("ckplus-sadness-surprise", LABELS, "CKPLUS_TO_FER = MappingProxyType({0: 0, 1: 4, 2: 7, 3: 5, 4: 6, 5: 1, 6: 3, 7: 2})",
       "CKPLUS_TO_FER = MappingProxyType({0: 0, 1: 4, 2: 7, 3: 5, 4: 6, 5: 1, 6: 2, 7: 3})", G_LABELS,
       "CK+ sadness and surprise swapped"),
    _m("affectnet-codes-as-fer", LABELS, "AFFECTNET_TO_FER = MappingProxyType({0: 0, 1: 1, 2: 3, 3: 2, 4: 6, 5: 5, 6: 4, 7: 7})",
       "AFFECTNET_TO_FER = MappingProxyType({0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7})", G_LABELS,
       "AffectNet codes taken for FERPlus indices"),
    _m("anchor-fear-anger-swap", LABELS, '"fear": 110.0, "anger": 125.0', '"fear": 125.0, "anger": 110.0', G_LABELS,
       "the fear and anger anchors swapped"),
    _m("anchor-sadness-aroused", LABELS, '"sadness": 205.0}', '"sadness": 155.0}', G_LABELS,
       "sadness placed above the valence axis (aroused)"),
    _m("anchor-degrees-as-radians", LABELS, "a = np.deg2rad(FER_CIRCUMPLEX_DEG[name])",
       "a = FER_CIRCUMPLEX_DEG[name]", G_LABELS, "anchor angles used as radians"),
    _m("anchor-cos-sin-swap", LABELS, "out[k] = radius * np.cos(a), radius * np.sin(a)",
       "out[k] = radius * np.sin(a), radius * np.cos(a)", G_LABELS, "valence and arousal of the anchors swapped"),
    _m("affectnet-reader-codes-as-fer", "neuroaffect/io/faces/affectnet.py",
       "lut = np.array([AFFECTNET_TO_FER.get(c, 0) for c in range(11)])", "lut = np.arange(11)", G_LABELS,
       "the AffectNet reader takes expression codes for FERPlus indices"),
    _m("affectnet-mini-names-as-codes", "neuroaffect/io/faces/affectnet.py",
       "**{AFFECTNET_CODES[code]: AFFECTNET_TO_FER[code] for code in range(8)},",
       "**{AFFECTNET_CODES[code]: code for code in range(8)},", G_LABELS,
       "AffectNet-mini's class names mapped to their AffectNet code as a FERPlus index"),
    _m("ckplus-reader-code-as-fer", "neuroaffect/io/faces/ckplus.py",
       'entries = [(match[0], CKPLUS_TO_FER[code], "peak", code)]', 'entries = [(match[0], code, "peak", code)]',
       G_LABELS, "the CK+ reader takes emotion codes for FERPlus indices"),
    # --- selection on validation (tests/test_guards_selection.py) ---
    _m("train-arm-selects-on-test", "neuroaffect/pipeline/faces.py",
       'train_set, val = ferplus.select_split("train"), ferplus.select_split("val")',
       'train_set, val = ferplus.select_split("train"), ferplus.select_split("test")', G_SELECT,
       "the student's epoch selected on the FERPlus test split"),
    _m("select-run-accuracy", ABLATION, 'return max(runs, key=lambda r: (r["val"]["macro_f1"], -r["seed"]))',
       'return max(runs, key=lambda r: (r["val"]["accuracy"], -r["seed"]))', G_SELECT_FAST,
       "the deployable seed chosen by validation accuracy, not macro-F1"),
    _m("select-run-tie-larger-seed", ABLATION, 'return max(runs, key=lambda r: (r["val"]["macro_f1"], -r["seed"]))',
       'return max(runs, key=lambda r: (r["val"]["macro_f1"], r["seed"]))', G_SELECT_FAST,
       "a tie goes to the larger seed"),
    _m("export-last-run", "neuroaffect/pipeline/faces.py", "best = select_run(_records(runs), arm)",
       "best = [r for r in _records(runs) if r[\"arm\"] == arm][-1]", G_SELECT,
       "the exported student is the last run listed, not the best on validation"),
    _m("export-metrics-of-any-seed", "neuroaffect/pipeline/faces.py",
       'if r["arm"] == best["arm"] and r["seed"] == best["seed"]:', 'if r["arm"] == best["arm"]:', G_SELECT,
       "the exported card carries the test figures of another seed of the arm"),
    _m("best-epoch-last-of-ties", DTRAIN, "        if score > self.best_score:\n",
       "        if score >= self.best_score:\n", G_SELECT_FAST, "the last of equally good epochs kept, not the first"),
    _m("best-state-not-copied", DTRAIN,
       "self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}",
       "self.best_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}", G_SELECT_FAST,
       "the best epoch's weights kept by reference (later epochs overwrite them on CPU)"),
    _m("paired-reversed-difference", ABLATION, '"mean_difference": float(np.mean(a - b)) if seeds else np.nan',
       '"mean_difference": float(np.mean(b - a)) if seeds else np.nan', G_SELECT_FAST,
       "paired difference taken as the other arm minus B3"),
    _m("paired-unpaired-test", ABLATION, "    from scipy.stats import ttest_rel\n",
       "    from scipy.stats import ttest_ind as ttest_rel\n", G_SELECT_FAST,
       "an unpaired t-test across seeds"),
    _m("paired-all-sets", ABLATION, '        if r["set"] == set_name:\n', '        if r["set"]:\n', G_SELECT_FAST,
       "rows of every set pooled into the paired test"),
    _m("control-verdict-two-sided", ABLATION, 'elif ctrl["mean_difference"] > 0 and ctrl["p"] < 0.05:',
       'elif ctrl["p"] < 0.05:', G_SELECT_FAST, "a significantly worse real grid reported as better than the control"),
    # --- validation split of the EEG folds (tests/test_guards_folds.py) ---
    _m("val-split-by-windows", FOLDS, "fit, val = split_validation(y_tr, windows.trial[tr], cfg.val_fraction, seed)",
       "fit, val = split_validation(y_tr, np.arange(len(tr)), cfg.val_fraction, seed)", G_FOLDS,
       "validation windows drawn from training trials (trials split)"),
    _m("val-split-round-down", PROTOCOLS, "k = min(int(np.floor(fraction * n_c + 0.5)), n_c - 1)",
       "k = min(int(np.floor(fraction * n_c)), n_c - 1)", G_FOLDS, "validation trials per class rounded down"),
    _m("standardise-with-validation", FOLDS, "mean = X_fit.mean(axis=0, dtype=np.float64)",
       "mean = X_tr.mean(axis=0, dtype=np.float64)", G_FOLDS,
       "standardisation mean taken over the validation trials too"),
    # --- the grid's statistics and Proto-KD (tests/test_guards_grid.py) ---
    _m("ordering-similarity-not-distance", GRID, "d_proto = (1.0 - p @ p.T)[iu]", "d_proto = (p @ p.T)[iu]", G_GRID,
       "the ordering statistic correlates plane distance with prototype similarity"),
    _m("ordering-pearson", GRID, "rho = _spearman(plane(np.arange(k)), d_proto)",
       "rho = float(np.corrcoef(plane(np.arange(k)), d_proto)[0, 1])", G_GRID,
       "Pearson's r in place of Spearman's rho"),
    _m("fill-city-block", GRID,
       "d = (cv[:, None] - centres[full[:, 0]][None]) ** 2 + (ca[:, None] - centres[full[:, 1]][None]) ** 2",
       "d = np.abs(cv[:, None] - centres[full[:, 0]][None]) + np.abs(ca[:, None] - centres[full[:, 1]][None])",
       G_GRID, "empty bins copy the nearest bin by city-block distance"),
    _m("fill-not-flagged", GRID, "    filled = counts == 0\n", "    filled = np.zeros_like(counts, dtype=bool)\n",
       G_GRID, "filled bins not flagged"),
    _m("soft-assign-transposed", GRID_CLASS, 'v, a = np.meshgrid(self.centres, self.centres, indexing="ij")',
       'v, a = np.meshgrid(self.centres, self.centres, indexing="xy")', G_GRID,
       "bin centres in (arousal, valence) order: soft assignment transposed"),
    _m("soft-assign-times-temperature", GRID_CLASS, "z = -d2 / temperature", "z = -d2 * temperature", G_GRID,
       "soft assignment multiplied by the temperature"),
    _m("protokd-raw-embedding", LOSSES, "return F.normalize(embedding.float(), dim=-1) @ protos.T",
       "return embedding.float() @ protos.T", G_GRID, "Proto-KD similarities of the unnormalised embedding"),
    _m("protokd-raw-prototypes", LOSSES, "self.prototypes = F.normalize(protos, dim=-1)", "self.prototypes = protos",
       G_GRID, "Proto-KD prototypes not normalised"),
    _m("protokd-target-sign", LOSSES, "torch.log_softmax(torch.as_tensor(-d2 / self.target_temperature), dim=-1)",
       "torch.log_softmax(torch.as_tensor(d2 / self.target_temperature), dim=-1)", G_GRID,
       "Proto-KD target favours the farthest bins"),
    # --- regression metrics and their trial-level aggregation (tests/test_guards_metrics.py) ---
    _m("pearson-diagonal", METRICS, "r = float(np.corrcoef(t, p)[0, 1])", "r = float(np.corrcoef(t, p)[0, 0])",
       G_METRICS, "Pearson's r read from the diagonal (always 1)"),
    _m("ccc-sample-variance", METRICS, "vt, vp = t.var(), p.var()", "vt, vp = t.var(ddof=1), p.var(ddof=1)",
       G_METRICS, "CCC with sample variances against a population covariance"),
    _m("ccc-no-shift", METRICS, "den = vt + vp + (t.mean() - p.mean()) ** 2", "den = vt + vp", G_METRICS,
       "CCC blind to a shift of the predictions"),
    _m("rmse-is-mae", METRICS, '"rmse": float(np.sqrt(np.mean((t - p) ** 2)))', '"rmse": float(np.mean(np.abs(t - p)))',
       G_METRICS, "mean absolute error reported as RMSE"),
    _m("trial-first-window", METRICS, "return trials, yt[first], sums / counts", "return trials, yt[first], yp[first]",
       G_METRICS, "a trial's prediction is its first window's, not the mean"),
    _m("fold-records-no-trial-mean", RESULTS,
       'yt, ypl = (pred.y_true, yp) if level == "window" else average_trials(trial, pred.y_true, yp)[1:]',
       "yt, ypl = (pred.y_true, yp)", G_METRICS, "regression trial-level rows computed on windows"),
    # --- mixed precision (tests/test_guards_amp.py) ---
    _m("amp-ignores-flag", CONFIG, 'return bool(self.amp and device.type == "cuda")',
       'return bool(device.type == "cuda")', G_AMP, "AMP on CUDA even when switched off"),
    _m("autocast-ignores-enabled", ENGINE, '    if device.type == "cuda" and enabled:\n',
       '    if device.type == "cuda":\n', G_AMP, "autocast on CUDA whatever the flag"),
    _m("fit-amp-as-asked", ENGINE, "    amp = cfg.amp_on(device)\n", "    amp = cfg.amp\n", G_AMP,
       "the engine passes the flag as asked, not as usable on the device"),
    _m("resolved-amp-as-asked", CONFIG, '"amp": self.amp_on(dev)}', '"amp": self.amp}', G_AMP,
       "a CPU run records mixed precision"),
    # --- the simulator's planted signs (tests/test_guards_simulator.py) ---
    _m("sim-asymmetry-sign", PLANTED, "w[0, :, 1] = 0.5 * lat * front", "w[0, :, 1] = -0.5 * lat * front", G_SIM,
       "pleasant trials get more left frontal alpha"),
    _m("sim-laterality-mirrored", PLANTED, "lat = np.clip(x / 0.05, -1.0, 1.0)", "lat = np.clip(-x / 0.05, -1.0, 1.0)",
       G_SIM, "left and right mirrored in the laterality weight"),
    _m("sim-posterior-alpha-up", PLANTED, "w[1, :, 1] = -post", "w[1, :, 1] = post", G_SIM,
       "arousal raises posterior alpha"),
    # --- the workflow's code hash (tests/test_guards_provenance.py) ---
    _m("hash-keeps-docstrings", PROVENANCE, "node.body = body[1:] or [ast.Pass()]", "node.body = body", G_PROV,
       "docstring edits rerun the workflow"),
    _m("hash-module-level-imports-only", PROVENANCE,
       "return tuple(sorted({m for node in ast.walk(tree) for m in _resolve(node, module)}))",
       "return tuple(sorted({m for node in tree.body for m in _resolve(node, module)}))", G_PROV,
       "imports inside functions not followed: a lazily imported module's change reruns nothing"),
]


def _copy_tree(dest: Path) -> None:
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=_IGNORED)
        elif src.is_file():
            shutil.copy2(src, dest / name)


def _env(copy: Path) -> dict:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    return env


_FIRST_FAILURE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


def _run_tests(copy: Path, tests, timeout: float) -> tuple[str, str, float]:
    """('passed' | 'failed' | 'timeout' | 'error', first failing test or note, seconds)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        res = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"over {timeout:.0f} s", time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    if res.returncode == 0:
        return "passed", "", seconds
    m = _FIRST_FAILURE.search(res.stdout)
    if res.returncode == 1 and m:
        return "failed", m.group(1), seconds
    tail = (res.stdout + res.stderr).strip().splitlines()[-1:] or [""]
    return ("failed" if m else "error"), (m.group(1) if m else f"pytest exit {res.returncode}: {tail[0][:80]}"), seconds


def _check_copy_is_used(copy: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "import neuroaffect; print(neuroaffect.__file__)"], cwd=copy,
                         env=_env(copy), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"the copy's tests would import {out}, not the copy's package: refusing to run")


def run(mutants, timeout: float, keep: bool) -> int:
    load0 = os.getloadavg()
    copy = Path(tempfile.mkdtemp(prefix="neuroaffect-mutants-"))
    print(f"copy of {ROOT} in {copy}; load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}", flush=True)
    try:
        _copy_tree(copy)
        _check_copy_is_used(copy)
        union = sorted({t for m in mutants for t in m.tests})
        outcome, first, seconds = _run_tests(copy, union, timeout * 3)
        broken = set()
        if outcome != "passed":
            # which of the files fail on the unmutated code: their mutants prove nothing
            for t in union:
                if _run_tests(copy, [t], timeout)[0] != "passed":
                    broken.add(t)
        print(f"unmutated copy: {len(union)} test files/nodes {outcome} in {seconds:.0f} s"
              + (f"; failing without any mutant: {sorted(broken)}" if broken else ""), flush=True)
        rows = []
        width = max(len(m.name) for m in mutants)
        print(f"\n{'mutant':<{width}}  {'file':<38} {'outcome':<13} {'s':>5}  killed by")
        for m in mutants:
            path = copy / m.file
            text = path.read_text()
            count = text.count(m.original)
            if count != 1:
                result, by, seconds = ("not found" if count == 0 else "ambiguous"), f"snippet occurs {count} times", 0.0
            elif broken & set(m.tests):
                result, by, seconds = "invalid", "its tests fail on the unmutated copy", 0.0
            else:
                path.write_text(text.replace(m.original, m.mutated))
                try:
                    outcome, by, seconds = _run_tests(copy, m.tests, timeout)
                finally:
                    path.write_text(text)
                result = {"passed": "SURVIVED", "failed": "killed", "timeout": "killed (time)",
                          "error": "killed (error)"}[outcome]
            rows.append((m, result, by))
            print(f"{m.name:<{width}}  {m.file.removeprefix('neuroaffect/'):<38} {result:<13} {seconds:5.0f}  {by}",
                  flush=True)
        applicable = [r for r in rows if r[1] not in ("not found", "ambiguous", "invalid")]
        killed = [r for r in applicable if r[1].startswith("killed")]
        survived = [r for r in applicable if r[1] == "SURVIVED"]
        load1 = os.getloadavg()
        print(f"\nkilled {len(killed)} of {len(applicable)} applicable mutants "
              f"({100 * len(killed) / max(len(applicable), 1):.1f} %); "
              f"{len(rows) - len(applicable)} not applicable; "
              f"load average {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
        for m, _, _ in survived:
            print(f"  survived: {m.name}: {m.what}")
        return 0 if not survived else 1
    finally:
        if keep:
            print(f"kept {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--only", nargs="+", default=None, help="run the mutants whose name starts with one of these")
    ap.add_argument("--tested-by", nargs="+", default=None, metavar="PREFIX",
                    help="run the mutants with a test file starting with one of these (e.g. tests/test_guards_)")
    ap.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant's test run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args(argv)
    names = [m.name for m in MUTANTS]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate mutant names: {sorted(dupes)}")
    chosen = [m for m in MUTANTS if (args.only is None or m.name.startswith(tuple(args.only)))
              and (args.tested_by is None or any(t.startswith(tuple(args.tested_by)) for t in m.tests))]
    if not chosen:
        raise SystemExit(f"no mutant matches {args.only or ''} {args.tested_by or ''}; names: {', '.join(names)}")
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.file}: {m.what}\n    tests: {' '.join(m.tests)}")
        print(f"{len(chosen)} mutants")
        return 0
    return run(chosen, args.timeout, args.keep)


if __name__ == "__main__":
    sys.exit(main())
