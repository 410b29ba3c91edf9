"""Cross-dataset transfer: train on one dataset's windows, test on another's, on the electrodes both have.

>>> from neuroaffect import pipeline
>>> res = pipeline.cross_dataset("deap", "dreamer", "valence", "binary", "dgcnn",
...                              source_features="results/features/deap",
...                              target_features="results/features/dreamer")   # doctest: +SKIP
>>> pipeline.write_result(res, "results/transfer/deap-dreamer/valence_binary_dgcnn")       # doctest: +SKIP

The protocol (``cross-dataset``, ``docs/protocols.md``): the features of both datasets must have
been computed with the same parameters and at the same sampling rate (refused otherwise, naming
both); both are cut to the channels they share, in the source's order
(:func:`~neuroaffect.training.transfer.shared_channels`); labels follow each dataset's own
binary rule; one model is trained on every source window and tested on every target window,
pooled over the target's subjects, beside the majority, logistic and (``control=True``)
shuffled-label rows fitted on the same source windows.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..features.load import load_features
from .data import DataSource, _with_default_snr

__all__ = ["TRANSFER_KINDS", "check_same_params", "cross_dataset", "load_cross_windows", "per_target_subject"]

#: Inputs the cross-dataset protocol takes: band-DE tokens of the shared channels.
TRANSFER_KINDS = ("tokens",)


def _params_of(dsets, name: str, where: str) -> tuple:
    """``(params_hash, sfreq, params dict)`` shared by every feature dataset of one side, else ``ValueError``."""
    seen = {(str(d.attrs.get("params_hash")), float(d.attrs.get("sfreq", float("nan")))) for d in dsets}
    if len(seen) != 1:
        raise ValueError(f"{where}: expected the {name} dataset's features to share one parameter set and "
                         f"sampling rate, but found {sorted(seen)}")
    (ph, sfreq), = seen
    return ph, sfreq, json.loads(dsets[0].attrs.get("params_json", "{}") or "{}")


def check_same_params(source_dsets, target_dsets, source: str, target: str) -> str:
    """The feature-parameter hash both datasets share, or ``ValueError`` naming both sides' parameters.

    Parameters
    ----------
    source_dsets, target_dsets : sequence of xarray.Dataset
        Feature datasets of the source and the target (their ``params_hash``, ``params_json`` and
        ``sfreq`` attributes).
    source, target : str
        Dataset names, for the message.

    Returns
    -------
    params_hash : str
    """
    ph_s, sf_s, p_s = _params_of(source_dsets, "source", source)
    ph_t, sf_t, p_t = _params_of(target_dsets, "target", target)
    if sf_s != sf_t:
        raise ValueError(f"cross-dataset {source} -> {target}: expected features at one sampling rate, but "
                         f"{source} is at {sf_s:g} Hz and {target} at {sf_t:g} Hz")
    if ph_s != ph_t:
        keys = sorted(k for k in set(p_s) | set(p_t) if p_s.get(k) != p_t.get(k))
        diff = "; ".join(f"{k}: {source} {p_s.get(k)!r}, {target} {p_t.get(k)!r}" for k in keys)
        raise ValueError(f"cross-dataset {source} -> {target}: expected features computed with the same "
                         f"parameters, but {source}'s are {ph_s[:12]} and {target}'s {ph_t[:12]} "
                         f"({diff or 'no parameter listed'}); compute both with one FeatureParams")
    return ph_s


def _cut(dsets, names) -> list:
    """Each feature dataset restricted to the channels ``names`` (matched case-insensitively), in that order."""
    out = []
    for d in dsets:
        own = {str(c).strip().upper(): c for c in d["channel"].values}
        out.append(d.sel(channel=[own[n.strip().upper()] for n in names]))
    return out


def load_cross_windows(source: str, target: str, label: str, task: str, *, source_root=None, target_root=None,
                       source_features=None, target_features=None, params=None, subjects=None,
                       progress: bool = False):
    """The joint windows of a source and a target dataset on their shared channels.

    Parameters
    ----------
    source, target : str
        Dataset names (e.g. ``"deap"``, ``"dreamer"``).
    label, task : str
        The label both datasets have (``valence``, ``arousal``...) and its rule (``binary``).
    source_root, target_root : path-like | None
        Dataset roots (features computed in memory with ``params``).
    source_features, target_features : path-like | None
        Feature files or folders (take precedence over the roots).
    params : FeatureParams | dict | None
        Feature parameters when computing from roots (one set for both).
    subjects : sequence of int | None
        Target subjects to test (default all); every source subject trains.
    progress : bool

    Returns
    -------
    windows : WindowSet
        Source windows, then target windows (target subjects renumbered,
        :func:`~neuroaffect.training.transfer.merge_cross_dataset`), tokens
        ``(n_shared_chans, n_bands)``.
    target_subjects : ndarray of int64
        The target's subject ids in ``windows``.
    info : dict
        ``source`` / ``target`` (:class:`DataSource` dicts), ``ch_names`` (shared, source order),
        ``params_hash``, ``target_subject_offset``.
    """
    from ..training.inputs import windows_from_features
    from ..training.transfer import merge_cross_dataset, shared_channels

    ls, lt = (load_features(name, root=root, features=feats, subjects=subs, params=params, progress=progress)
              for name, root, feats, subs in ((source, source_root, source_features, None),
                                              (target, target_root, target_features, subjects)))
    ph = check_same_params(ls.datasets, lt.datasets, source, target)
    names = shared_channels(ls.datasets[0]["channel"].values, lt.datasets[0]["channel"].values)
    ws_s = windows_from_features(_cut(ls.datasets, names), label, task, dataset=source)
    ws_t = windows_from_features(_cut(lt.datasets, names), label, task, dataset=target)
    windows, target_subjects = merge_cross_dataset(ws_s, ws_t)
    info = {"ch_names": names, "params_hash": ph,
            "target_subject_offset": int(target_subjects[0] - ws_t.subjects[0])}
    for side, name, ld in (("source", source, ls), ("target", target, lt)):
        simulated, snr = _with_default_snr(ld.simulated, ld.snr)
        info[side] = DataSource(dataset=name, root=ld.root, features=[str(f) for f in ld.files],
                                simulated=simulated, snr=snr, params_hash=list(ld.inputs["feature_params_hash"]),
                                inputs=ld.inputs)
    return windows, target_subjects, info


def per_target_subject(result, windows, offset: int) -> list[dict]:
    """Accuracy and balanced accuracy of every row on each target subject's windows and trials.

    Parameters
    ----------
    result : SweepResult
        Of a ``cross-dataset`` run on ``windows`` (its predictions index ``windows``).
    windows : WindowSet
        The joint windows (:func:`load_cross_windows`).
    offset : int
        Added to the target's subject ids in ``windows``; subtracted here.

    Returns
    -------
    rows : list of dict
        ``{"subject", "model", "level", "accuracy", "balanced_accuracy", "n"}`` per target subject,
        row (model and reference rows) and level (``window``, ``trial``); classification only
        (empty for regression).
    """
    from ..training.metrics import classification_metrics, vote_trials

    if windows.is_regression:
        return []
    rows = []
    for pred in result.predictions:
        subj = windows.subject[pred.test_idx]
        for s in np.unique(subj):
            here = subj == s
            for name, yp in pred.y_pred.items():
                yt, yp_s, tr = pred.y_true[here], np.asarray(yp)[here], windows.trial[pred.test_idx][here]
                for level in ("window", "trial"):
                    a, b = (yt, yp_s) if level == "window" else vote_trials(tr, yt, yp_s, windows.n_outputs)[1:]
                    m = classification_metrics(a, b)
                    rows.append({"subject": int(s) - offset, "model": name, "level": level, "n": int(len(a)),
                                 "accuracy": float(m["accuracy"]), "balanced_accuracy": float(m["balanced_accuracy"])})
    return rows


class _JointSource:
    """The two :class:`DataSource` of a transfer, read as one by the result's metadata."""

    class_names = ()

    def __init__(self, source: DataSource, target: DataSource):
        self.source, self.target = source, target

    def describe(self) -> str:
        return f"train on {self.source.describe()}; test on {self.target.describe()}"

    def to_dict(self) -> dict:
        return {"source": self.source.to_dict(), "target": self.target.to_dict(), "description": self.describe()}


def cross_dataset(source: str, target: str, label: str = "valence", task: str = "binary", model: str = "dgcnn", *,
                  source_root=None, target_root=None, source_features=None, target_features=None, subjects=None,
                  train_cfg=None, feature_params=None, control=False, batched=True, checkpoint_dir=None,
                  progress=False, model_kwargs=None):
    """Train ``model`` on ``source``'s windows and test it on ``target``'s, on their shared channels.

    Loads both (:func:`load_cross_windows`), runs :func:`neuroaffect.training.run_sweep` under the
    ``cross-dataset`` protocol (one pooled fold: every source window trains, every target window
    tests) and returns its :class:`~neuroaffect.training.SweepResult` with ``metadata``:
    ``dataset`` ``"<source>-><target>"`` (so results tables list it as one row), the shared
    channels, the common feature-parameter hash and both data sources. Reference rows (majority,
    logistic; shuffled labels with ``control``) are fitted on the same source windows.
    """
    from ..training import run_sweep
    from .run import _metadata, _plan

    cfg, kind = _plan(model, "cross-dataset", train_cfg, None, False)
    if kind not in TRANSFER_KINDS:
        raise ValueError(f"Invalid value for the 'model' parameter: the cross-dataset protocol takes models of "
                         f"{TRANSFER_KINDS} inputs (shared channels), but {model!r} takes {kind!r}")
    windows, target_subjects, info = load_cross_windows(
        source, target, label, task, source_root=source_root, target_root=target_root,
        source_features=source_features, target_features=target_features, params=feature_params,
        subjects=subjects, progress=progress)
    t0 = time.perf_counter()
    result = run_sweep(windows, model, model_kwargs, "cross-dataset", None, cfg, batched=batched,
                       subjects=target_subjects, checkpoint_dir=checkpoint_dir, control=control, progress=progress,
                       inputs={"source": info["source"].inputs, "target": info["target"].inputs})
    per_subject = per_target_subject(result, windows, info["target_subject_offset"])
    joint = _JointSource(info["source"], info["target"])
    result.metadata = _metadata(
        f"{source}->{target}", label, task, model, "cross-dataset", control, windows.subjects, cfg, joint,
        train_seconds=time.perf_counter() - t0, source_dataset=source, target_dataset=target,
        ch_names=info["ch_names"], feature_params_hash=info["params_hash"],
        target_subjects=[int(s) - info["target_subject_offset"] for s in target_subjects],
        target_subject_offset=info["target_subject_offset"], evaluation="pooled over the target's subjects",
        n_source_windows=int(result.folds[0]["n_train"]), n_target_windows=int(result.folds[0]["n_test"]),
        per_target_subject=per_subject)
    return result
