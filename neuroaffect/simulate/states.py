"""The continuous affect states of a simulated EEG dataset, read back from its ``simulation.json``.

Every simulated EEG trial is driven by a continuous state ``(v, a, d)`` (normalised valence,
arousal, dominance in [-1, 1]); the rating the dataset writes is that state rounded on its scale
(``docs/simulator.md``, "Continuous affect state"). The writers record the states per subject in
``simulation.json`` beside the dataset folder; :func:`load_states` returns them aligned with the
trials the dataset's reader returns, so a benchmark can compare what a model learnt with the
planted ground truth (and with ``G*`` of the states, :func:`neuroaffect.simulate.gstar.gstar`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._utils import check_option, find_sidecar

__all__ = ["STATE_DATASETS", "find_simulation_card", "load_states"]

#: Datasets whose ``simulation.json`` records one state per trial, row ``k`` for the trial the
#: reader numbers ``k + 1`` (``Recording.trial_ids``: DEAP's ``Experiment_id``, DREAMER's clip
#: number, MAHNOB-HCI's ``Trial<k>``).
STATE_DATASETS = ("deap", "dreamer", "mahnob")


def find_simulation_card(root) -> Path:
    """``simulation.json`` of a simulated dataset: in ``root`` or up to three folders above it.

    Parameters
    ----------
    root : path-like
        The folder a reader takes (``out/dreamer``), the simulation's ``out`` folder, or a file
        below them.

    Raises
    ------
    FileNotFoundError
        If no ``simulation.json`` is found (the data were not simulated).
    """
    card = find_sidecar(root)
    if card is not None:
        return card
    raise FileNotFoundError(f"No simulation.json in {root} or the three folders above it: expected the "
                            f"simulator's ground-truth sidecar beside a simulated dataset.")


def load_states(root, dataset: str) -> dict[int, np.ndarray]:
    """The continuous (valence, arousal) state of every trial of a simulated dataset, per subject.

    Parameters
    ----------
    root : path-like
        The simulated dataset's root (what its reader takes, e.g. ``out/dreamer``) or the
        simulation's ``out`` folder; ``simulation.json`` is looked for there and above.
    dataset : {'deap', 'dreamer', 'mahnob'}
        The dataset the sidecar must describe (:data:`STATE_DATASETS`).

    Returns
    -------
    states : dict of int -> ndarray of float64, shape (n_trials, 2)
        Subject number -> normalised (valence, arousal) in [-1, 1], one row per trial: row ``k``
        is the trial whose ``Recording.trial_ids`` is ``k + 1`` (DEAP: ``Experiment_id``, the
        ``.dat`` order, not the presentation order; DREAMER: clip number; MAHNOB-HCI: the
        ``Trial<k>`` number, sessions without felt ratings included), so
        ``states[rec.subject][rec.trial_ids - 1]`` is aligned with a reader's ``Recording`` (the
        reader's order is this order unless it drops trials). The written ratings are these
        states rounded on the scale (DREAMER: ``rint(3 + 2 v)``, MAHNOB-HCI: ``rint(5 + 4 v)``).

    Raises
    ------
    FileNotFoundError
        If no ``simulation.json`` is found.
    ValueError
        If ``dataset`` is not one of :data:`STATE_DATASETS`, if the sidecar describes another
        dataset, or if it records no states (written before states were recorded: simulate again).
    """
    check_option("dataset", dataset, STATE_DATASETS)
    fname = find_simulation_card(root)
    card = json.loads(fname.read_text())
    if card.get("dataset") != dataset:
        raise ValueError(f"{fname} describes a simulated {card.get('dataset')!r} dataset, but states of "
                         f"{dataset!r} were asked for.")
    out = {}
    for sub in card["subjects"]:
        if "states" not in sub:
            raise ValueError(f"{fname} records no per-trial 'states' for subject {sub.get('subject')}: expected the "
                             f"continuous states the simulator writes since G* was planted; simulate the dataset "
                             f"again.")
        states = np.asarray(sub["states"], dtype=np.float64)
        if states.ndim != 2 or states.shape[1] < 2:
            raise ValueError(f"{fname}: the 'states' of subject {sub.get('subject')} should have shape "
                             f"(n_trials, 3), but have shape {states.shape}.")
        out[int(sub["subject"])] = states[:, :2].copy()
    return out
