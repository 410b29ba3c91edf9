"""Labels of every dataset in one place: names, rating scales, normalisation, class rules, V/A grid.

===========  =========================================  ==============  ==========================
dataset      labels                                     scale           normalised to [-1, 1]
===========  =========================================  ==============  ==========================
deap         valence, arousal, dominance, liking        floats 1-9      ``(s - 5) / 4``
dreamer      valence, arousal, dominance                integers 1-5    ``(s - 3) / 2``
mahnob       valence, arousal, dominance, predictab.    integers 1-9    ``(s - 5) / 4``
seed         emotion                                    codes -1, 0, 1  kept as codes
seed-iv      emotion                                    codes 0-3       kept as codes
amigos       valence, arousal, dominance, liking        ratings 1-9     ``(s - 5) / 4``
seed-v       emotion                                    codes 0-4       kept as codes
faced        emotion; valence, arousal                  codes 0-8; 0-7  codes kept; ``(s - 3.5) / 3.5``
===========  =========================================  ==============  ==========================

Class rules (``docs/protocols.md``): binary DEAP/MAHNOB ``rating >= 5``, DREAMER ``score >= 3``;
multi-class DEAP ``int(rating) - 1`` (9 classes), DREAMER ``score - 1`` (5), SEED ``label + 1`` (3),
SEED-IV ``label`` (4), SEED-V ``label`` (5), FACED ``emotion`` (9); binary AMIGOS ``rating >= 5``,
FACED ``rating >= 3.5`` (valence, arousal 0-7); ``regression`` keeps the normalised rating itself.

The valence/arousal grid (``docs/prototypes.md``) tiles ``[-1, 1]^2`` with ``n x n`` square bins of
side ``2 / n``; for ``n = 5`` the centres are ``{-0.8, -0.4, 0, 0.4, 0.8}``, and each of DREAMER's
five scores (normalised: -1, -0.5, 0, 0.5, 1) falls in a bin of its own.

This module imports nothing but numpy and :mod:`neuroaffect._utils`.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from ._utils import check_option

__all__ = [
    "AFFECTNET_TO_FER",
    "CKPLUS_TO_FER",
    "DATASETS",
    "FER_CIRCUMPLEX_DEG",
    "FER_CLASSES",
    "LABEL_DATASETS",
    "LABEL_NAMES",
    "LABEL_RULES",
    "RATING_RANGE",
    "TARGETS",
    "TASKS",
    "DEAP_LABELS",
    "DREAMER_LABELS",
    "MAHNOB_LABELS",
    "SEED_LABELS",
    "SEED_V_LABELS",
    "SEED_V_CLASS_NAMES",
    "SEED_IV_LABELS",
    "SEED_IV_CLASS_NAMES",
    "SEED_CLASS_NAMES",
    "AMIGOS_LABELS",
    "FACED_CLASS_NAMES",
    "FACED_CLIP_CLASSES",
    "FACED_RATING_ITEMS",
    "FACED_RATING_RANGE",
    "FACED_TASK_TARGETS",
    "CUSTOM",
    "check_target",
    "class_names",
    "custom_n_classes",
    "make_custom_labels",
    "fer_va_anchors",
    "grid_cells",
    "grid_centres",
    "grid_edges",
    "make_labels",
    "n_label_classes",
    "normalise_ratings",
    "rating_scale",
]

#: The EEG datasets the pipeline reads (one reader and one simulator each), in pipeline order.
DATASETS = ("deap", "dreamer", "seed", "mahnob", "faced", "amigos", "seed-v")
#: Datasets with label rules: :data:`DATASETS` plus SEED-IV (read by ``read_seed(variant="seed-iv")``).
LABEL_DATASETS = DATASETS + ("seed-iv",)
#: A user's own recordings (no simulator; labels and their rules come with the data).
CUSTOM = "custom"
#: Tasks a label can be turned into.
TASKS = ("binary", "multiclass", "regression")

DEAP_LABELS = ("valence", "arousal", "dominance", "liking")
DREAMER_LABELS = ("valence", "arousal", "dominance")
#: MAHNOB-HCI's ``feltVlnc``, ``feltArsl``, ``feltCtrl`` (dominance) and ``feltPred``.
MAHNOB_LABELS = ("valence", "arousal", "dominance", "predictability")
#: SEED's ``label.mat``: one code per film clip (1 positive, 0 neutral, -1 negative).
SEED_LABELS = (1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1)
#: SEED-V's clip classes per session (0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy), fixed by the
#: experiment (docs/formats.md, SEED-V).
SEED_V_LABELS = (
    (4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0),
    (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
    (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
)
SEED_V_CLASS_NAMES = ("disgust", "fear", "sad", "neutral", "happy")
#: SEED-IV's published clip labels per session (0 neutral, 1 sad, 2 fear, 3 happy).
SEED_IV_LABELS = (
    (1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3),
    (2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1),
    (1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0),
)
SEED_CLASS_NAMES = ("negative", "neutral", "positive")
SEED_IV_CLASS_NAMES = ("neutral", "sad", "fear", "happy")
#: AMIGOS's self-assessed ratings read as labels (1-9; familiarity and the 7 basic emotions go to ``info``).
AMIGOS_LABELS = ("valence", "arousal", "dominance", "liking")
#: FACED's nine emotion categories; a clip's class code is its index here (TorchEEG's codes).
FACED_CLASS_NAMES = ("anger", "disgust", "fear", "sadness", "neutral", "amusement", "inspiration", "joy",
                     "tenderness")
#: Class code of each of FACED's 28 clips in ``Processed_data`` order (video index 1..28): 3 clips per
#: category, 4 neutral.
FACED_CLIP_CLASSES = (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8)
#: The 12 items of FACED's ``After_remark{i}.score``, in the order its code's readme gives.
FACED_RATING_ITEMS = ("joy", "tenderness", "inspiration", "amusement", "anger", "disgust", "fear", "sadness",
                      "arousal", "valence", "familiarity", "liking")
#: (lowest, highest) of FACED's self-ratings (every item).
FACED_RATING_RANGE = (0.0, 7.0)

#: Labels of each dataset; FACED's rated ones only (its ``emotion`` is a class code, kept as it is).
LABEL_NAMES = MappingProxyType({
    "deap": DEAP_LABELS, "dreamer": DREAMER_LABELS, "mahnob": MAHNOB_LABELS,
    "seed": ("emotion",), "seed-iv": ("emotion",), "amigos": AMIGOS_LABELS,
    "seed-v": ("emotion",), "faced": ("valence", "arousal"),
})
#: (lowest, highest) rating of every self-assessed label.
RATING_RANGE = MappingProxyType({"deap": (1.0, 9.0), "dreamer": (1.0, 5.0), "mahnob": (1.0, 9.0),
                              "amigos": (1.0, 9.0), "faced": FACED_RATING_RANGE})
#: Labels a model can be trained on, per dataset (SEED's single class label is ``emotion``).
TARGETS = MappingProxyType({
    "deap": DEAP_LABELS, "dreamer": DREAMER_LABELS, "mahnob": ("valence", "arousal", "dominance"),
    "seed": ("emotion",), "seed-iv": ("emotion",), "amigos": ("valence", "arousal", "dominance"),
    "seed-v": ("emotion",), "faced": ("emotion", "valence", "arousal"),
})
#: FACED's targets per task: its class code for ``multiclass``, its ratings for the others.
FACED_TASK_TARGETS = MappingProxyType({"multiclass": ("emotion",), "binary": ("valence", "arousal"),
                                       "regression": ("valence", "arousal")})

#: (dataset, task) -> (number of classes, rule); ``regression`` outputs one value.
LABEL_RULES = MappingProxyType({
    ("deap", "binary"): (2, "rating >= 5 (ratings 1-9)"),
    ("deap", "multiclass"): (9, "int(rating) - 1, 9.0 -> class 8 (ratings 1-9)"),
    ("deap", "regression"): (1, "(rating - 5) / 4 (ratings 1-9)"),
    ("mahnob", "binary"): (2, "rating >= 5 (ratings 1-9)"),
    ("mahnob", "regression"): (1, "(rating - 5) / 4 (ratings 1-9)"),
    ("dreamer", "binary"): (2, "score >= 3 (scores 1-5)"),
    ("dreamer", "multiclass"): (5, "score - 1 (scores 1-5)"),
    ("dreamer", "regression"): (1, "(score - 3) / 2 (scores 1-5)"),
    ("seed", "multiclass"): (3, "label + 1 (labels -1, 0, 1)"),
    ("seed-iv", "multiclass"): (4, "label (labels 0-3)"),
    ("amigos", "binary"): (2, "rating >= 5 (ratings 1-9)"),
    ("amigos", "regression"): (1, "(rating - 5) / 4 (ratings 1-9)"),
    ("seed-v", "multiclass"): (5, "label (labels 0-4)"),
    ("faced", "binary"): (2, "rating >= 3.5 (valence, arousal 0-7)"),
    ("faced", "multiclass"): (9, "emotion code (codes 0-8)"),
    ("faced", "regression"): (1, "(rating - 3.5) / 3.5 (valence, arousal 0-7)"),
})


def check_target(dataset: str, target: str, task: str | None = None) -> str:
    """Raise ``ValueError`` unless ``target`` is a trainable label of ``dataset`` (for ``task``, if given).

    FACED's ``emotion`` (a class code) takes ``multiclass`` only and its ratings ``binary`` or
    ``regression`` only (:data:`FACED_TASK_TARGETS`), since :func:`make_labels` cannot tell them apart.
    """
    check_option("dataset", dataset, LABEL_DATASETS)
    allowed = TARGETS[dataset]
    if dataset == "faced" and task is not None:
        check_option("task", task, TASKS)
        allowed = FACED_TASK_TARGETS[task]
    if target not in allowed:
        raise ValueError(
            f"Invalid value for the 'target' parameter. Allowed values for {dataset}"
            f"{'' if task is None else ' ' + task} are {', '.join(map(repr, allowed))}, but got {target!r} instead."
        )
    return target


def rating_scale(dataset: str) -> tuple[float, float] | None:
    """``(centre, half_width)`` mapping ``dataset``'s ratings onto [-1, 1]; ``None`` for class codes.

    DEAP and MAHNOB: ``(5, 4)``; DREAMER: ``(3, 2)``; SEED and SEED-IV: ``None``.
    """
    check_option("dataset", dataset, LABEL_DATASETS)
    if dataset not in RATING_RANGE:
        return None
    lo, hi = RATING_RANGE[dataset]
    return (lo + hi) / 2.0, (hi - lo) / 2.0


def normalise_ratings(ratings, dataset: str) -> np.ndarray:
    """Map ``dataset``'s ratings linearly onto [-1, 1] (``(s - centre) / half_width``).

    Parameters
    ----------
    ratings : array-like, any shape
        Ratings on the dataset's scale (NaN stays NaN: an unrated trial).
    dataset : {'deap', 'dreamer', 'mahnob'}

    Returns
    -------
    norm : ndarray of float64, same shape
    """
    sc = rating_scale(dataset)
    if sc is None:
        raise ValueError(f"Invalid value for the 'dataset' parameter: {dataset!r} has class codes, not ratings "
                         f"on a scale (rated datasets: {', '.join(RATING_RANGE)}).")
    return (np.asarray(ratings, dtype=np.float64) - sc[0]) / sc[1]


def _rule(dataset: str, task: str):
    check_option("dataset", dataset, LABEL_DATASETS)
    check_option("task", task, TASKS)
    if (dataset, task) not in LABEL_RULES:
        defined = ", ".join(t for d, t in LABEL_RULES if d == dataset)
        raise ValueError(
            f"Invalid value for the 'task' parameter: no {task!r} labels are defined for "
            f"{dataset!r} (defined: {defined}), but got task={task!r}."
        )
    return LABEL_RULES[(dataset, task)]


def n_label_classes(dataset: str, task: str) -> int:
    """Number of classes :func:`make_labels` produces (1 for ``regression``: one output)."""
    return _rule(dataset, task)[0]


def class_names(dataset: str, task: str) -> tuple[str, ...]:
    """Readable names of the classes of ``task`` (e.g. ``('low', 'high')``, SEED's emotions)."""
    n = n_label_classes(dataset, task)
    if task == "regression":
        return ("rating",)
    if task == "binary":
        return ("low", "high")
    if dataset == "seed":
        return SEED_CLASS_NAMES
    if dataset == "seed-iv":
        return SEED_IV_CLASS_NAMES
    if dataset == "seed-v":
        return SEED_V_CLASS_NAMES
    if dataset == "faced":
        return FACED_CLASS_NAMES
    lo = int(RATING_RANGE[dataset][0])
    return tuple(str(lo + k) for k in range(n))


def make_labels(ratings_or_codes, dataset: str, task: str) -> np.ndarray:
    """Map a dataset's ratings or class codes to training targets.

    Rules:

    ==========  ===========  =============================================  =========
    dataset     task         rule                                           outputs
    ==========  ===========  =============================================  =========
    deap        binary       ``rating >= 5``                                2
    deap        multiclass   ``int(rating) - 1`` (so 9.0 -> 8)              9
    deap        regression   ``(rating - 5) / 4``                           1
    mahnob      binary       ``rating >= 5``                                2
    mahnob      regression   ``(rating - 5) / 4``                           1
    dreamer     binary       ``score >= 3``                                 2
    dreamer     multiclass   ``score - 1``                                  5
    dreamer     regression   ``(score - 3) / 2``                            1
    seed        multiclass   ``label + 1``                                  3
    seed-iv     multiclass   ``label``                                      4
    seed-v      multiclass   ``label``                                      5
    amigos      binary       ``rating >= 5``                                2
    amigos      regression   ``(rating - 5) / 4``                           1
    faced       binary       ``rating >= 3.5`` (valence, arousal)           2
    faced       multiclass   ``code`` (emotion)                             9
    faced       regression   ``(rating - 3.5) / 3.5`` (valence, arousal)    1
    ==========  ===========  =============================================  =========

    Parameters
    ----------
    ratings_or_codes : array-like, shape (n_trials,)
        DEAP/MAHNOB ratings (floats in [1, 9]), DREAMER scores (integers 1-5),
        SEED codes (-1, 0, 1), SEED-IV codes (0-3), SEED-V codes (0-4), AMIGOS ratings
        ([1, 9]), FACED emotion codes (0-8, multiclass) or ratings ([0, 7], binary, regression).
    dataset : {"deap", "dreamer", "seed", "seed-iv", "mahnob", "amigos", "seed-v", "faced"}
    task : {"binary", "multiclass", "regression"}

    Returns
    -------
    labels : ndarray, shape (n_trials,)
        int64 class indices, or float32 normalised ratings in [-1, 1] for ``regression``.

    Raises
    ------
    ValueError
        For an undefined (dataset, task) pair, NaN (unlabelled) values, values
        outside the dataset's range, or non-integer scores/codes where integers
        are expected. The message gives the count and the first offending index.
    """
    _rule(dataset, task)
    try:
        v = np.asarray(ratings_or_codes, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "Invalid value for the 'ratings_or_codes' parameter: expected numeric ratings, "
            f"but got {type(ratings_or_codes).__name__} instead."
        ) from None
    if v.ndim != 1:
        raise ValueError(
            "Invalid value for the 'ratings_or_codes' parameter: expected shape (n_trials,), "
            f"but got shape {v.shape} instead."
        )

    def refuse(bad: np.ndarray, expected: str):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{dataset} {task} labels: expected {expected}, but found {int(bad.sum())} "
                f"value(s) that are not (first: {float(v[i])!r} at index {i})."
            )

    refuse(~np.isfinite(v), "finite ratings (NaN means unlabelled)")
    if dataset in ("deap", "mahnob", "amigos"):
        refuse((v < 1.0) | (v > 9.0), "ratings in [1, 9]")
    elif dataset == "dreamer":
        refuse((v != np.round(v)) | (v < 1) | (v > 5), "integer scores 1-5")
    elif dataset == "seed":
        refuse(~np.isin(v, (-1.0, 0.0, 1.0)), "codes in {-1, 0, 1}")
        return v.astype(np.int64) + 1
    elif dataset == "seed-v":
        refuse(~np.isin(v, (0.0, 1.0, 2.0, 3.0, 4.0)), "codes in {0, 1, 2, 3, 4}")
        return v.astype(np.int64)
    elif dataset == "faced" and task == "multiclass":
        refuse(~np.isin(v, np.arange(len(FACED_CLASS_NAMES), dtype=np.float64)), "emotion codes 0-8")
        return v.astype(np.int64)
    elif dataset == "faced":
        refuse((v < FACED_RATING_RANGE[0]) | (v > FACED_RATING_RANGE[1]), "ratings in [0, 7]")
    else:  # seed-iv
        refuse(~np.isin(v, (0.0, 1.0, 2.0, 3.0)), "codes in {0, 1, 2, 3}")
        return v.astype(np.int64)
    if task == "regression":
        return normalise_ratings(v, dataset).astype(np.float32)
    centre = rating_scale(dataset)[0]
    if task == "binary":
        return (v >= centre).astype(np.int64)
    if dataset == "dreamer":
        return v.astype(np.int64) - 1
    return np.clip(np.floor(v).astype(np.int64) - 1, 0, 8)


def _custom_rule(task: str, scale, classes, name: str) -> int:
    """Number of outputs of ``task`` on a custom label (see :func:`make_custom_labels`)."""
    check_option("task", task, TASKS)
    if (scale is None) == (classes is None):
        raise ValueError(f"Label {name!r}: expected either a rating scale (lo, hi) or class names, but got "
                         f"scale={scale!r} and classes={classes!r} (name its scale or classes where it is read: "
                         f"ratings={{{name!r}: (lo, hi)}} or classes=[{name!r}] of read_custom, from_epochs or "
                         "extract_features)")
    if classes is not None:
        k = len(classes)
        if task == "regression":
            raise ValueError(f"Invalid value for the 'task' parameter: {name!r} holds classes {list(classes)}, "
                             "which have no regression target; use task='binary' (two classes) or 'multiclass'.")
        if task == "binary" and k != 2:
            raise ValueError(f"Invalid value for the 'task' parameter: binary needs two classes, but {name!r} has "
                             f"{k} ({list(classes)}); use task='multiclass'.")
        return k if task == "multiclass" else 2
    lo, hi = (float(v) for v in scale)
    if task == "multiclass":
        if lo != round(lo) or hi != round(hi):
            raise ValueError(f"Invalid value for the 'task' parameter: multiclass needs an integer rating scale, but "
                             f"{name!r} is rated on [{lo:g}, {hi:g}]; use 'binary' or 'regression'.")
        return int(hi - lo) + 1
    return 1 if task == "regression" else 2


def custom_n_classes(task: str, *, scale=None, classes=None, name: str = "label") -> int:
    """Number of classes :func:`make_custom_labels` produces (1 for ``regression``)."""
    return _custom_rule(task, scale, classes, name)


def make_custom_labels(values, task: str, *, scale=None, classes=None, name: str = "label") -> np.ndarray:
    """Targets of a user's own label, with its own scale or classes.

    Rules (``scale = (lo, hi)``, centre ``c = (lo + hi) / 2``, half-width ``h = (hi - lo) / 2``):

    =========  ===========  =================================  ==============
    label      task         rule                               outputs
    =========  ===========  =================================  ==============
    rating     binary       ``s >= c``                         2
    rating     multiclass   ``round(s) - lo`` (integer scale)  ``hi - lo + 1``
    rating     regression   ``(s - c) / h``                    1
    classes    binary       the code (two classes)             2
    classes    multiclass   the code ``0 .. K - 1``            K
    =========  ===========  =================================  ==============

    Parameters
    ----------
    values : array-like, shape (n_trials,)
        Ratings on ``scale``, or class codes into ``classes``; no NaN (drop unlabeled trials first).
    task : {"binary", "multiclass", "regression"}
    scale : (float, float) | None
        Inclusive rating scale.
    classes : sequence of str | None
        Class names (codes index them).
    name : str
        The label's name, for messages.

    Returns
    -------
    labels : ndarray, shape (n_trials,)
        int64 class indices, or float32 normalised ratings in [-1, 1] for ``regression``.
    """
    n = _custom_rule(task, scale, classes, name)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"Invalid value for the 'values' parameter: expected shape (n_trials,), but got shape {v.shape}.")
    if classes is not None:
        bad = ~np.isin(v, np.arange(n))
        what = f"class codes 0..{n - 1} ({list(classes)})"
    else:
        lo, hi = (float(x) for x in scale)
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        if task == "multiclass":
            bad |= v != np.round(v)
        what = f"{'integer ' if task == 'multiclass' else ''}ratings in [{lo:g}, {hi:g}]"
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} {task} labels: expected {what}, but found {int(bad.sum())} value(s) that are not "
                         f"(first: {float(v[i])!r} at index {i}).")
    if classes is not None:
        return v.astype(np.int64)
    centre, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    if task == "regression":
        return ((v - centre) / half).astype(np.float32)
    if task == "binary":
        return (v >= centre).astype(np.int64)
    return (np.round(v) - lo).astype(np.int64)


# --- facial expressions -----------------------------------------------------------------------

#: The eight FERPlus classes, in the order of ``fer2013new.csv``'s vote columns; every face set is
#: mapped onto these indices.
FER_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
#: AffectNet's expression codes 0-7 -> FERPlus class index (8 none, 9 uncertain, 10 no-face: unmapped).
AFFECTNET_TO_FER = MappingProxyType({0: 0, 1: 1, 2: 3, 3: 2, 4: 6, 5: 5, 6: 4, 7: 7})
#: CK+ emotion codes 0-7 (0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness,
#: 7 surprise) -> FERPlus class index.
CKPLUS_TO_FER = MappingProxyType({0: 0, 1: 4, 2: 7, 3: 5, 4: 6, 5: 1, 6: 3, 7: 2})
#: Angle on Russell's circumplex (degrees; 0 = pleasure, 90 = arousal) of each emotional class, our
#: reading of Russell (1980) (``docs/distillation.md``); neutral sits at the origin.
FER_CIRCUMPLEX_DEG = MappingProxyType({"happiness": 20.0, "surprise": 70.0, "fear": 110.0, "anger": 125.0,
                                       "disgust": 150.0, "contempt": 170.0, "sadness": 205.0})


def fer_va_anchors(radius: float = 0.8) -> np.ndarray:
    """(valence, arousal) anchor of every FERPlus class, shape (8, 2), in normalised units.

    ``radius * (cos, sin)`` of the class's circumplex angle (:data:`FER_CIRCUMPLEX_DEG`); neutral
    at (0, 0). With the default radius the emotional classes sit on the outer bin centres' circle.
    """
    out = np.zeros((len(FER_CLASSES), 2))
    for k, name in enumerate(FER_CLASSES):
        if name in FER_CIRCUMPLEX_DEG:
            a = np.deg2rad(FER_CIRCUMPLEX_DEG[name])
            out[k] = radius * np.cos(a), radius * np.sin(a)
    return out


# --- the valence/arousal grid ---------------------------------------------------------------

def _check_grid_size(n) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"Invalid value for the 'n' parameter: expected a positive int (bins per axis), "
                         f"but got {n!r}.")
    return int(n)


def grid_edges(n: int = 5) -> np.ndarray:
    """Bin edges of the ``n x n`` valence/arousal grid on one axis, shape (n + 1,), from -1 to 1."""
    n = _check_grid_size(n)
    return np.linspace(-1.0, 1.0, n + 1)


def grid_centres(n: int = 5) -> np.ndarray:
    """Bin centres on one axis, shape (n,): ``-1 + (2k + 1) / n`` (n = 5: -0.8, -0.4, 0, 0.4, 0.8)."""
    e = grid_edges(n)
    return np.round(0.5 * (e[:-1] + e[1:]), 12)


def grid_cells(valence, arousal, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Grid bin of each (valence, arousal) point (normalised to [-1, 1]).

    A point on an inner edge goes to the upper bin; points outside [-1, 1] go to the nearest
    edge bin; NaN points get -1.

    Parameters
    ----------
    valence, arousal : array-like, shape (n_points,)
    n : int
        Bins per axis.

    Returns
    -------
    iv, ia : ndarray of int64, shape (n_points,)
        Bin index along valence and along arousal, ``0 .. n - 1`` (-1 for NaN).
    """
    n = _check_grid_size(n)
    inner = grid_edges(n)[1:-1]
    out = []
    for name, x in (("valence", valence), ("arousal", arousal)):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"Invalid value for the {name!r} parameter: expected shape (n_points,), "
                             f"but got shape {x.shape}.")
        # edges are rounded so that DREAMER's centres never sit on a float boundary
        idx = np.searchsorted(np.round(inner, 12), np.round(x, 12), side="right").astype(np.int64)
        idx[np.isnan(x)] = -1
        out.append(idx)
    if out[0].shape != out[1].shape:
        raise ValueError(f"valence and arousal must have one length, but got {out[0].size} and {out[1].size}")
    nan = (out[0] < 0) | (out[1] < 0)
    out[0][nan] = -1
    out[1][nan] = -1
    return out[0], out[1]
