"""Windows of two datasets as one: the channels they share and the joint WindowSet of the
``cross-dataset`` protocol (``docs/protocols.md``), whose folds :func:`~neuroaffect.training.make_folds` makes.
"""

from __future__ import annotations

import numpy as np

from .data import WindowSet

__all__ = ["TARGET_SUBJECT_STEP", "merge_cross_dataset", "shared_channels"]

#: Target subjects are renumbered from the first multiple of this above every source subject.
TARGET_SUBJECT_STEP = 1000


def shared_channels(source_ch_names, target_ch_names) -> list[str]:
    """The electrodes two datasets share, in the source's order.

    Names are compared case-insensitively after stripping spaces (``"Fp1"`` matches ``"FP1"``);
    the source's spelling is returned.

    Parameters
    ----------
    source_ch_names, target_ch_names : sequence of str
        Channel names of the training (source) and the tested (target) dataset.

    Returns
    -------
    ch_names : list of str
        Channels of the source that the target also has, in the source's order.
    """
    def key(name):
        return str(name).strip().upper()

    target = {key(c) for c in target_ch_names}
    shared = [str(c) for c in source_ch_names if key(c) in target]
    if not shared:
        raise ValueError(f"The source and target datasets share no channel: source {list(source_ch_names)}, "
                         f"target {list(target_ch_names)}.")
    return shared


def merge_cross_dataset(source: WindowSet, target: WindowSet) -> tuple[WindowSet, np.ndarray]:
    """One WindowSet of a source (to train on) and a target (to test on), for ``cross-dataset`` folds.

    Both must hold the same inputs (kind, ``(n_chans, n_bands)`` on the shared channels, in the
    same order), window length, task and number of classes. Target subjects are renumbered
    after the source's (``subject + offset``, ``offset`` the smallest multiple of 1000 above
    every source subject) and target trials after the source's, so that no id is shared;
    ``ch_pos`` is the source's; ``ratings`` keep the columns both have.

    Parameters
    ----------
    source, target : WindowSet
        Windows of the source and target datasets (tokens of the same channels).

    Returns
    -------
    windows : WindowSet
        Source windows first, then target windows.
    target_subjects : ndarray of int64, shape (n_target_subjects,)
        The target's subject ids in ``windows`` (pass them as ``subjects``).
    """
    for name, ws in (("source", source), ("target", target)):
        if not isinstance(ws, WindowSet):
            raise TypeError(f"Invalid value for the '{name}' parameter: expected a WindowSet, but got "
                            f"{type(ws).__name__}.")
    checks = [("input kind", source.kind, target.kind), ("input shape", source.X.shape[1:], target.X.shape[1:]),
              ("window length (samples)", source.win_len, target.win_len), ("task", source.task, target.task),
              ("number of outputs", source.n_outputs, target.n_outputs)]
    for what, a, b in checks:
        if a != b:
            raise ValueError(f"Cannot test a source's model on a target of another {what}: expected the target's "
                             f"{what} to be the source's ({a}), but got {b}.")
    offset = (int(source.subject.max()) // TARGET_SUBJECT_STEP + 1) * TARGET_SUBJECT_STEP
    names = tuple(n for n in source.rating_names if n in target.rating_names)

    def ratings(ws):
        return ws.ratings[:, [ws.rating_names.index(n) for n in names]]

    both_tn = source.trial_number is not None and target.trial_number is not None
    merged = WindowSet(
        X=np.concatenate([source.X, target.X]), y=np.concatenate([source.y, target.y]),
        trial=np.concatenate([source.trial, target.trial + int(source.trial.max()) + 1]),
        subject=np.concatenate([source.subject, target.subject + offset]),
        session=np.concatenate([source.session, target.session]),
        start=np.concatenate([source.start, target.start]), win_len=source.win_len, ch_pos=source.ch_pos,
        trial_number=np.concatenate([source.trial_number, target.trial_number]) if both_tn else None,
        n_classes=source.n_classes, kind=source.kind, rating_names=names,
        ratings=np.concatenate([ratings(source), ratings(target)]) if names and source.ratings is not None
        and target.ratings is not None else None)
    return merged, np.unique(target.subject) + offset
