"""Simulated facial-expression datasets in the exact on-disk layouts of FERPlus, AffectNet and CK+.

``simulate_faces(dataset, scale, out, seed, gstar_strength=1.0)`` writes ``out/<root>/`` (what the
dataset's reader in :mod:`neuroaffect.io.faces` takes) plus ``out/simulation.json`` (the generator's
settings) and ``out/simulation.npz`` (per-image ground truth: true class, intensity, identity, pose, ...).
The root also holds ``simulation_truth.npz`` (ignored by the readers; :func:`load_face_truth`): every
image's continuous affect state (v, a), drawn within its class's region of the valence/arousal plane,
and G*(v, a), the shared structure of :mod:`neuroaffect.simulate.gstar` (``docs/simulator.md``, "Faces:
affect state, G* and votes").

Faces are drawn procedurally (:mod:`neuroaffect.simulate._faces_draw`): an ellipse head with hair,
brows, eyes, nose and mouth whose geometry follows the class (action-unit-like controls: brow raise
and inner-brow angle, eye opening, mouth curvature, opening, width and one-sided corner, nose
wrinkle, upper-lip raise, lip press), at a random intensity, with per-face jitter and a move
``gstar_strength * G*(v, a) @ M`` that follows the face's state, on a random identity (face shape,
feature spacing, skin and hair tone), pose (rotation, shift, scale), lighting (directional
gradient, contrast, gamma, colour tint), occluders and pixel noise.

Planted confusion: fear and surprise share raised brows, wide eyes and an open mouth, differing
only by the inner brows and the mouth's shape; FERPlus's simulated annotators also misread each as
the other more than any other pair (:data:`MISREAD`). The votes follow the state: a face near the
boundary between two classes' regions gets votes split between them.

=================  ================================================================================
dataset            what is written
=================  ================================================================================
ferplus            ``fer2013.csv`` (emotion,pixels,Usage; 48 x 48 grey) and ``fer2013new.csv``
                   (Usage,Image name, 10 vote counts of 10 annotators), row-aligned; rows that are
                   not faces (majority NF, empty ``Image name``, numbering drifting from the row
                   index) and occluded rows with a majority of ``unknown`` votes
affectnet-mini     ``labels.csv`` (path,label,valence,arousal) over ``images/NNNNNN.jpg``: 96 x 96
                   colour JPEGs, looser crops, stronger and tinted light, 7 classes (no contempt),
                   valence/arousal = the faces' states (ground truth, not from the anchors)
affectnet          ``Manually_Annotated_file_lists/{training,validation}.csv`` over
                   ``Manually_Annotated_Images/<dir>/<name>.jpg``: 144 x 144 colour photographs
                   with a 96 x 96 face at a random place (the face box) and its 68 landmarks;
                   codes 0-10 (8 none, 9 uncertain and 10 non-face included; V/A -2 for 9 and 10)
ckplus             ``cohn-kanade-images/Sxxx/yyy/Sxxx_yyy_zzzzzzzz.png`` (96 x 96 grey,
                   neutral -> peak) and ``Emotion/Sxxx/yyy/..._emotion.txt`` for the labelled
                   sequences only; a few subjects with several sequences each
=================  ================================================================================

Scales (``tiny``: tests, seconds; ``demo``: the default workflow on two CPU cores; ``full``: the
real datasets' sizes):

==============  ============================  ==========================  =============================
dataset         tiny                          demo                        full
==============  ============================  ==========================  =============================
ferplus         48 / 16 / 16 rows             3,000 / 400 / 400 rows      28,709 / 3,589 / 3,589 rows
affectnet-mini  21 images (3 per class)       420 (60 per class)          3,500 (500 per class)
affectnet       27 + 19 rows                  860 + 275 rows              414,798 + 5,500 rows
ckplus          3 subjects, 9 sequences       12 subjects, 36 sequences   123 subjects, 593 sequences
==============  ============================  ==========================  =============================

FERPlus demo: 3,000 training images are enough for a small CNN to learn the classes while the
whole set is written in seconds; 400 validation and test rows keep per-class estimates usable. With
seed 0, before the affect states (``benchmarks/calibrate_faces.py``, test rows, majority-vote labels;
chance 0.28): logistic regression on raw pixels 0.35 accuracy, gradient boosting on 24 x 24 pixels
0.40, a small CNN 0.81 (macro-F1 0.76), whose largest error on fear is surprise (8 of 18). Pose,
identity and lighting variation keep pixel-wise learners low; the votes' noise keeps the majority
label equal to the generator's class for 94 % of the rows (92.4-92.9 % with the states' split votes,
seeds 0-2; pixel-logistic macro-F1 0.22-0.25 against 0.25-0.26 before, ``docs/simulator.md``). AffectNet-mini and CK+
are cross-dataset test sets, sized like a few hundred evaluation images.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._progress import Progress
from .._utils import (
    TEMP_SUFFIX, atomic_path, atomic_write_json, check_int, check_option, check_real, code_version, remove_stale_temps,
    temp_prefix,
)
from ..io.faces import FACE_DATASETS
from ..io.faces.affectnet import AFFECTNET_HEADER, IMAGES_DIR as AFFECTNET_IMAGES, LISTS_DIR, MANIFEST_NAME
from ..io.faces.ckplus import EMOTION_DIR, IMAGES_DIR as CKPLUS_IMAGES
from ..io.faces.ferplus import FER2013_HEADER, FER2013_NAME, FERPLUS_HEADER, FERPLUS_NAME
from ..labels import AFFECTNET_TO_FER, CKPLUS_TO_FER, FER_CLASSES
from . import _faces_draw as draw
from ._faces_state import (
    CLASS_REGIONS_DEG, MAX_HALF_WIDTH_DEG, MIN_RADIUS, NEUTRAL_RADIUS, REGION_FILL, TRUTH_NAME, VOTE_BOUNDARY_SCALE,
    FaceTruth, boundary_votes, draw_states, load_face_truth, truth_arrays,
)

__all__ = [
    "CLASS_REGIONS_DEG", "DEFAULT_GSTAR_STRENGTH", "FACE_DATASETS", "FACE_ROOT_NAMES", "FACE_SCALES", "FERPLUS_PRIOR",
    "MINI_CLASSES", "MISREAD", "MISREAD_RATE", "NEUTRAL_RADIUS", "TRUTH_NAME", "VOTE_BOUNDARY_SCALE", "FaceTruth",
    "face_root", "load_face_truth", "simulate_faces", "vote_probabilities",
]

#: Folder below ``out`` that each simulated dataset's reader takes.
FACE_ROOT_NAMES = MappingProxyType({"ferplus": "ferplus", "affectnet-mini": "affectnet_mini",
                                    "affectnet": "affectnet", "ckplus": "ckplus"})
_SCALES = ("tiny", "demo", "full")
_DATASET_IDS = MappingProxyType({"ferplus": 11, "affectnet-mini": 12, "affectnet": 13, "ckplus": 14})
_K = len(FER_CLASSES)
_C = {c: k for k, c in enumerate(FER_CLASSES)}


@dataclass(frozen=True)
class _Ferplus:
    n_train: int
    n_val: int
    n_test: int


@dataclass(frozen=True)
class _Mini:
    per_class: int


@dataclass(frozen=True)
class _AffectNet:
    train_per_code: tuple  # rows per expression code 0-10 in training.csv
    val_per_code: tuple


@dataclass(frozen=True)
class _CKPlus:
    n_subjects: int
    n_sequences: int
    n_labelled: int
    frames: tuple  # (min, max) frames per sequence


#: The size of every simulated face dataset at every scale.
FACE_SCALES = MappingProxyType({
    "ferplus": MappingProxyType({"tiny": _Ferplus(48, 16, 16), "demo": _Ferplus(3000, 400, 400),
                                 "full": _Ferplus(28709, 3589, 3589)}),
    "affectnet-mini": MappingProxyType({"tiny": _Mini(3), "demo": _Mini(60), "full": _Mini(500)}),
    "affectnet": MappingProxyType({
        "tiny": _AffectNet((3,) * 8 + (1,) * 3, (2,) * 8 + (1,) * 3),
        "demo": _AffectNet((100,) * 8 + (20,) * 3, (25,) * 11),
        # the release's manually annotated counts per code, 0 neutral ... 10 non-face
        "full": _AffectNet((74874, 134415, 25459, 14090, 6378, 3803, 24882, 3750, 33088, 11645, 82414), (500,) * 11),
    }),
    "ckplus": MappingProxyType({"tiny": _CKPlus(3, 9, 7, (6, 6)), "demo": _CKPlus(12, 36, 28, (8, 8)),
                                "full": _CKPlus(123, 593, 327, (10, 30))}),
})

#: FERPlus class frequencies of the simulated training rows (FERPlus's, with the rare classes raised
#: so that every class is learnable at the demo scale).
FERPLUS_PRIOR = np.array([0.23, 0.21, 0.12, 0.11, 0.10, 0.05, 0.10, 0.08])
#: Where a simulated annotator who misreads a face of each class (rows) puts the vote (columns), in
#: :data:`~neuroaffect.labels.FER_CLASSES` order; rows sum to 1. Fear <-> surprise is the strongest pair.
MISREAD = np.array([
    # neu   hap   sur   sad   ang   dis   fea   con
    [0.00, 0.12, 0.08, 0.35, 0.15, 0.08, 0.02, 0.20],  # neutral
    [0.60, 0.00, 0.18, 0.00, 0.00, 0.02, 0.00, 0.20],  # happiness
    [0.12, 0.12, 0.00, 0.00, 0.00, 0.00, 0.76, 0.00],  # surprise
    [0.45, 0.00, 0.00, 0.00, 0.15, 0.15, 0.15, 0.10],  # sadness
    [0.20, 0.00, 0.00, 0.20, 0.00, 0.45, 0.00, 0.15],  # anger
    [0.05, 0.00, 0.00, 0.20, 0.55, 0.00, 0.00, 0.20],  # disgust
    [0.00, 0.00, 0.72, 0.18, 0.10, 0.00, 0.00, 0.00],  # fear
    [0.50, 0.20, 0.00, 0.00, 0.10, 0.20, 0.00, 0.00],  # contempt
])
#: Probability that one annotator misreads a full-intensity face of each class.
MISREAD_RATE = np.array([0.12, 0.06, 0.20, 0.22, 0.22, 0.28, 0.36, 0.32])
_P_UNKNOWN, _P_NF = 0.03, 0.004
# FERPlus class -> FER2013's 7-class code (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise,
# 6 neutral); FER2013 has no contempt, read there as disgust
_FER_TO_FER2013 = np.array([6, 3, 5, 4, 0, 1, 2, 1])
_RENDER_CHUNK = 1024
#: Default weight s_G of G* in the faces' expressions (:data:`~neuroaffect.simulate._faces_draw.GSTAR_EXPRESSION`).
DEFAULT_GSTAR_STRENGTH = 1.0


def face_root(dataset: str, out) -> Path:
    """The folder below ``out`` that :func:`simulate_faces` writes ``dataset`` to (nothing is written)."""
    check_option("dataset", dataset, FACE_DATASETS)
    return Path(out) / FACE_ROOT_NAMES[dataset]


def simulate_faces(dataset: str, scale: str = "demo", out="data/sim", seed: int = 0, *,
                   gstar_strength: float = DEFAULT_GSTAR_STRENGTH) -> Path:
    """Write a simulated facial-expression dataset in its real on-disk layout.

    Parameters
    ----------
    dataset : {'ferplus', 'affectnet-mini', 'affectnet', 'ckplus'}
    scale : {'tiny', 'demo', 'full'}
        Sizes in the module docstring.
    out : path-like
        Output folder (created). The dataset goes to ``out/<root>/`` (:func:`face_root`), built in
        a temporary folder beside it and renamed into place; ``out/simulation.json`` and
        ``out/simulation.npz`` hold the ground truth.
    seed : int
        Seed; the same seed writes byte-identical files (``simulation.json`` records the code version).
    gstar_strength : float
        s_G >= 0, the weight of G* in each face's expression (``docs/simulator.md``, "Faces"); 0 = no G*
        in the pixels. Every random draw is the same whatever its value: two strengths with one seed
        differ only in the faces' expressions (and the pixels drawn from them).

    Returns
    -------
    root : Path
        What to pass to the dataset's reader (``read_faces(dataset, root)``).
    """
    check_option("dataset", dataset, FACE_DATASETS)
    check_option("scale", scale, _SCALES)
    seed = check_int("seed", seed, 0)
    gstar_strength = check_real("gstar_strength", gstar_strength, 0.0)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = face_root(dataset, out)
    rng = np.random.default_rng([seed, _DATASET_IDS[dataset]])
    writer = {"ferplus": _write_ferplus, "affectnet-mini": _write_mini, "affectnet": _write_affectnet,
              "ckplus": _write_ckplus}[dataset]
    with _atomic_tree(root) as tmp:
        truth, facts = writer(tmp, FACE_SCALES[dataset][scale], rng, gstar_strength)
    _write_npz(out / "simulation.npz", truth)
    atomic_write_json(out / "simulation.json", {
        "dataset": dataset, "scale": scale, "seed": seed, "code_version": code_version(),
        "root": FACE_ROOT_NAMES[dataset], "classes": list(FER_CLASSES),
        "class_expressions": {"params": list(draw.EXPRESSION_PARAMS),
                              "anchors": np.round(draw.CLASS_EXPRESSIONS, 4).tolist()},
        "ground_truth": {"file": "simulation.npz", "arrays": {k: list(v.shape) for k, v in truth.items()}},
        "affect_state": _state_facts(gstar_strength),
        **facts,
    })
    return root


# --------------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _atomic_tree(root: Path):
    """Yield a temporary folder beside ``root``; on success it replaces ``root`` (two renames).

    The temporary folders are named as :func:`~neuroaffect._utils.atomic_path`'s files are, so the
    next run removes those of a killed one."""
    root = Path(root)
    remove_stale_temps(root)  # what a killed earlier run left
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(root), suffix=TEMP_SUFFIX, dir=root.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        old = None
        if root.exists():  # moved aside, named as a temporary: removed by the next run if killed here
            old = Path(tempfile.mkdtemp(prefix=temp_prefix(root), suffix=TEMP_SUFFIX, dir=root.parent))
            os.replace(root, old / root.name)
        os.replace(tmp, root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_npz(fname: Path, arrays: dict) -> Path:
    """``np.savez_compressed`` with fixed zip timestamps, so the bytes depend on the arrays alone."""
    with atomic_path(fname) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())
    return fname


def _render(rng, classes, intensity, va, gstar_strength, identity, pose, looks, size, colour) -> tuple:
    """Draw faces in chunks (bounded memory); every random draw happens before, in ``rng`` order.

    Returns the images, uint8 (n, size, size[, 3]), and their expression controls, (n, 10)."""
    expr = draw.draw_expressions(rng, classes, intensity, va, gstar_strength)
    noise_rng = np.random.default_rng(rng.integers(2**63))
    n = len(classes)
    out = None
    bar = Progress(n, "simulate faces", unit="image")
    for a in range(0, n, _RENDER_CHUNK):
        sl = slice(a, min(a + _RENDER_CHUNK, n))
        lk = {k: v[sl] for k, v in looks.items()}
        im = draw.render_faces(noise_rng, identity[sl], expr[sl], pose[sl], lk, size, colour)
        if out is None:
            out = np.empty((n,) + im.shape[1:], dtype=np.uint8)
        out[sl] = im
        bar.update(sl.stop - sl.start)
    bar.close()
    return out, expr


def _big_occluders(rng, looks, idx):
    """Cover most of the face of images ``idx`` (eyes and mouth): faces nobody can read."""
    looks["occluded"][idx] = True
    looks["occ_box"][idx] = np.column_stack([rng.uniform(-0.15, 0.15, len(idx)), rng.uniform(0.0, 0.3, len(idx)),
                                             rng.uniform(0.5, 0.7, len(idx)), rng.uniform(0.45, 0.6, len(idx))])


def _class_sequence(rng, classes, per_class: int) -> np.ndarray:
    """``per_class`` of each class of ``classes``, shuffled."""
    return rng.permutation(np.repeat(np.asarray(classes), per_class))


def _state_facts(gstar_strength: float) -> dict:
    """What ``simulation.json`` records of the faces' affect states, G* rendering and the truth file."""
    return {
        "truth_file": f"<root>/{TRUTH_NAME} (neuroaffect.simulate.faces.load_face_truth)",
        "regions_deg": {c: list(v) for c, v in CLASS_REGIONS_DEG.items()},
        "region_fill": REGION_FILL, "max_half_width_deg": MAX_HALF_WIDTH_DEG, "neutral_radius": NEUTRAL_RADIUS,
        "radius": f"clip(0.8 * (0.35 + 0.65 * intensity) + N(0, 0.04^2), {MIN_RADIUS}, 0.95)",
        "gstar_strength": gstar_strength,
        "gstar_expression": {"params": list(draw.EXPRESSION_PARAMS), "matrix": draw.GSTAR_EXPRESSION.tolist()},
        "vote_boundary_scale": VOTE_BOUNDARY_SCALE,
    }


def _write_truth(root: Path, dataset: str, key, va, classes, intensity, gstar_strength: float) -> None:
    _write_npz(root / TRUTH_NAME, truth_arrays(dataset, key, va, classes, intensity, gstar_strength))


def _save_png(fname: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img).save(fname, format="PNG", optimize=False, compress_level=6)


def _save_jpeg(fname: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img).save(fname, format="JPEG", quality=92, subsampling=0)


# --------------------------------------------------------------------------------------------
# FERPlus
# --------------------------------------------------------------------------------------------
def vote_probabilities(classes, intensity, kind, va=None) -> np.ndarray:
    """Probability of each of FERPlus's 10 vote columns for one annotator, shape (n, 10).

    An annotator misreads a face with probability ``MISREAD_RATE[c] + 0.45 (1 - intensity)`` (at most
    0.75), as :data:`MISREAD`'s row of its class or, for weak faces, as neutral; otherwise the reading
    follows the face's state: the emotional classes share it by
    :func:`~neuroaffect.simulate._faces_state.boundary_votes` (a softmax over ``-||va - anchor_k||^2 /
    s^2``), so a face near a class boundary gets split votes and one near its anchor does not.

    Parameters
    ----------
    classes : ndarray of int, shape (n,)
        True class.
    intensity : ndarray of float, shape (n,)
        Expression intensity (0-1); weak expressions are misread more, mostly as neutral.
    kind : ndarray of int, shape (n,)
        0 a face, 1 a face hidden by an occluder (votes mostly ``unknown``), 2 not a face (``NF``).
    va : ndarray, shape (n, 2) | None
        The faces' (valence, arousal) states, normalised units; None: every face at its class's
        anchor, read as its class.

    Returns
    -------
    p : ndarray of float64, shape (n, 10)
        Columns: the 8 classes, ``unknown``, ``NF``; rows sum to 1.
    """
    classes = np.asarray(classes, dtype=np.int64)
    a = np.asarray(intensity, dtype=np.float64)
    n = len(classes)
    m = np.clip(MISREAD_RATE[classes] + 0.45 * (1.0 - a), 0.0, 0.75)
    to_neutral = np.where(classes == 0, 0.0, 0.6 * (1.0 - a))[:, None]
    wrong = (1.0 - to_neutral) * MISREAD[classes] + to_neutral * np.eye(_K)[0]
    p = np.zeros((n, _K + 2))
    right = np.eye(_K)[classes] if va is None else boundary_votes(classes, va)
    p[:, :_K] = (1.0 - m - _P_UNKNOWN - _P_NF)[:, None] * right + m[:, None] * wrong
    p[:, _K], p[:, _K + 1] = _P_UNKNOWN, _P_NF
    hidden = kind == 1
    p[hidden, :_K] *= 0.3 / p[hidden, :_K].sum(axis=1, keepdims=True)
    p[hidden, _K], p[hidden, _K + 1] = 0.65, 0.05
    nf = kind == 2
    p[nf] = 0.0
    p[nf, 0], p[nf, _K], p[nf, _K + 1] = 0.02, 0.08, 0.90
    return p


def _pixel_strings(images: np.ndarray) -> list:
    """Each image as FER2013's pixel text (space-separated integers), vectorised; list of str."""
    v = images.reshape(len(images), -1).astype(np.int64)
    n, m = v.shape
    nd = (1 + (v >= 10) + (v >= 100)).ravel()
    ends = np.cumsum(nd + 1)
    sep = ends - 1
    buf = np.empty(int(ends[-1]), dtype=np.uint8)
    buf[sep] = 32
    buf[sep.reshape(n, m)[:, -1]] = 10
    vf = v.ravel()
    buf[sep - 1] = 48 + vf % 10
    two, three = nd >= 2, nd >= 3
    buf[(sep - 2)[two]] = 48 + (vf[two] // 10) % 10
    buf[(sep - 3)[three]] = 48 + vf[three] // 100
    return buf.tobytes().decode("ascii").split("\n")[:-1]


def _write_ferplus(root: Path, sc: _Ferplus, rng, gstar_strength: float):
    sizes = {"Training": sc.n_train, "PublicTest": sc.n_val, "PrivateTest": sc.n_test}
    tiny = sc.n_train < 100
    usage, classes, kind, identity_id = [], [], [], []
    id_offset = 0
    for name, n in sizes.items():
        if tiny:  # every class in every split; one unreadable face and one non-face in training
            cls = np.resize(np.arange(_K), n)
            k = np.zeros(n, dtype=np.int64)
            if name == "Training":
                k[-2:] = (1, 2)
        else:
            cls = rng.choice(_K, size=n, p=FERPLUS_PRIOR)
            k = rng.choice(3, size=n, p=(0.983, 0.01, 0.007))
        perm = rng.permutation(n)
        cls, k = cls[perm], k[perm]
        # a pool of people per split (no one appears in two splits)
        pool = max(8, n // 3)
        usage += [name] * n
        classes.append(cls)
        kind.append(k)
        identity_id.append(id_offset + rng.integers(0, pool, n))
        id_offset += pool
    classes, kind, identity_id = np.concatenate(classes), np.concatenate(kind), np.concatenate(identity_id)
    usage = np.array(usage)
    n = len(classes)
    if not tiny and n > 60:  # as in the release, one of the first rows is not a face
        kind[59] = 2
    people = draw.draw_identities(rng, id_offset)
    identity = people[identity_id]
    intensity = rng.uniform(0.4, 1.0, n)
    va = draw_states(rng, classes, intensity)
    pose = draw.draw_poses(rng, n, rot_deg=9.0, shift=0.07, scale=(1.08, 1.32))
    pose[:, 2] -= 0.03  # FER2013 crops are tight: hair line near the top edge, chin near the bottom one
    looks = draw.draw_looks(rng, n, colour=False, noise=(0.02, 0.07), occlusion=0.12, light=0.4)
    hidden = np.flatnonzero(kind == 1)
    _big_occluders(rng, looks, hidden)
    images, expr = _render(rng, classes, intensity, va, gstar_strength, identity, pose, looks, 48, False)
    nonface = np.flatnonzero(kind == 2)
    if len(nonface):
        images[nonface] = draw.render_nonfaces(rng, len(nonface), 48)
    p = vote_probabilities(classes, intensity, kind, va)
    votes = rng.multinomial(10, p)
    # FER2013's own label: one more annotator's reading, on its 7 classes
    cdf = np.cumsum(p[:, :_K], axis=1) / p[:, :_K].sum(axis=1, keepdims=True)
    reading = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), _K - 1)
    emotion = np.where(kind == 2, rng.integers(0, 7, n), _FER_TO_FER2013[reading])

    named = kind != 2
    number = np.cumsum(named) - 1  # names number the named rows only: they drift from the row index
    names = np.where(named, np.char.add(np.char.add("fer", np.char.zfill(number.astype(str), 7)), ".png"), "")
    pix = _pixel_strings(images)
    lines = [",".join(FER2013_HEADER) + "\n"]
    lines += [f"{e},{s},{u}\n" for e, s, u in zip(emotion.tolist(), pix, usage.tolist())]
    (root / FER2013_NAME).write_text("".join(lines), encoding="ascii")
    lines = [",".join(FERPLUS_HEADER) + "\n"]
    vote_text = [",".join(map(str, r)) for r in votes.tolist()]
    lines += [f"{u},{nm},{v}\n" for u, nm, v in zip(usage.tolist(), names.tolist(), vote_text)]
    (root / FERPLUS_NAME).write_text("".join(lines), encoding="ascii")
    _write_truth(root, "ferplus", np.arange(n), va, classes, intensity, gstar_strength)

    truth = {"true_class": classes.astype(np.int8), "kind": kind.astype(np.int8),
             "identity": identity_id.astype(np.int32), "intensity": intensity.astype(np.float32),
             "pose": pose.astype(np.float32), "expression": expr.astype(np.float32),
             "occluded": looks["occluded"], "votes": votes.astype(np.int8)}
    facts = {"image_size": [48, 48], "colour": False, "n_rows": {k: int(v) for k, v in sizes.items()},
             "kind_codes": {"0": "face", "1": "occluded face (votes mostly unknown)", "2": "not a face (NF)"},
             "vote_model": {"voters": 10, "misread": np.round(MISREAD, 3).tolist(),
                            "misread_rate": MISREAD_RATE.tolist(), "p_unknown": _P_UNKNOWN, "p_nf": _P_NF},
             "pose_columns": ["rotation_deg", "shift_x", "shift_y", "scale"]}
    return truth, facts


# --------------------------------------------------------------------------------------------
# AffectNet-mini and AffectNet
# --------------------------------------------------------------------------------------------
#: Classes present in the simulated AffectNet-mini (all but contempt).
MINI_CLASSES = tuple(c for c in FER_CLASSES if c != "contempt")


def _affectnet_looks(rng, n):
    pose = draw.draw_poses(rng, n, rot_deg=12.0, shift=0.08, scale=(0.78, 0.98))
    looks = draw.draw_looks(rng, n, colour=True, noise=(0.01, 0.04), occlusion=0.15, light=0.55)
    return pose, looks


def _write_mini(root: Path, sc: _Mini, rng, gstar_strength: float):
    classes = _class_sequence(rng, [_C[c] for c in MINI_CLASSES], sc.per_class)
    n = len(classes)
    identity = draw.draw_identities(rng, n)
    intensity = rng.uniform(0.5, 1.0, n)
    va = draw_states(rng, classes, intensity)  # the V/A labels are the states themselves
    valence, arousal = va[:, 0], va[:, 1]
    pose, looks = _affectnet_looks(rng, n)
    images, expr = _render(rng, classes, intensity, va, gstar_strength, identity, pose, looks, 96, True)
    (root / "images").mkdir()
    rows = ["path,label,valence,arousal\n"]
    rels = [f"images/{i + 1:06d}.jpg" for i in range(n)]
    for i, rel in enumerate(rels):
        _save_jpeg(root / rel, images[i])
        rows.append(f"{rel},{FER_CLASSES[classes[i]]},{valence[i]:.3f},{arousal[i]:.3f}\n")
    (root / MANIFEST_NAME).write_text("".join(rows), encoding="ascii")
    _write_truth(root, "affectnet-mini", np.array(rels), va, classes, intensity, gstar_strength)
    truth = {"true_class": classes.astype(np.int8), "identity": np.arange(n, dtype=np.int32),
             "intensity": intensity.astype(np.float32), "pose": pose.astype(np.float32),
             "expression": expr.astype(np.float32), "occluded": looks["occluded"],
             "valence": valence.astype(np.float32), "arousal": arousal.astype(np.float32)}
    facts = {"image_size": [96, 96], "colour": True, "format": "JPEG", "present_classes": list(MINI_CLASSES),
             "va_model": "the affect state (affect_state: within the class's region, radius following intensity)",
             "pose_columns": ["rotation_deg", "shift_x", "shift_y", "scale"]}
    return truth, facts


_FER_TO_AFFECTNET = {v: k for k, v in AFFECTNET_TO_FER.items()}


def _write_affectnet(root: Path, sc: _AffectNet, rng, gstar_strength: float):
    canvas, face = 144, 96
    lists = root / LISTS_DIR
    lists.mkdir()
    (root / AFFECTNET_IMAGES).mkdir()
    truth_parts = []
    for list_name, per_code in (("training.csv", sc.train_per_code), ("validation.csv", sc.val_per_code)):
        code = rng.permutation(np.repeat(np.arange(11), per_code))
        n = len(code)
        fer = np.array([AFFECTNET_TO_FER.get(int(c), 0) for c in code])
        classes = np.where(code < 8, fer, rng.integers(0, _K, n))  # "none": some other expression
        intensity = np.where(code == 8, rng.uniform(0.1, 0.4, n), rng.uniform(0.5, 1.0, n))
        identity = draw.draw_identities(rng, n)
        va = draw_states(rng, classes, intensity)  # the V/A labels (-2 for codes 9 and 10) are the states
        pose, looks = _affectnet_looks(rng, n)
        _big_occluders(rng, looks, np.flatnonzero(code == 9))
        valence = np.where(code >= 9, -2.0, va[:, 0])
        arousal = np.where(code >= 9, -2.0, va[:, 1])
        offset = rng.integers(0, canvas - face + 1, (n, 2))
        n_dirs = max(1, n // 500)
        sub = rng.integers(1, n_dirs + 1, n)
        names = [f"{int(h):016x}.jpg" for h in rng.integers(0, 2**63, n)]
        rows = [",".join(AFFECTNET_HEADER) + "\n"]
        expr_all = np.zeros((n, len(draw.EXPRESSION_PARAMS)))
        for a in range(0, n, _RENDER_CHUNK):
            sl = slice(a, min(a + _RENDER_CHUNK, n))
            lk = {k: v[sl] for k, v in looks.items()}
            faces, expr = _render(rng, classes[sl], intensity[sl], va[sl], gstar_strength, identity[sl], pose[sl], lk,
                                  face, True)
            expr_all[sl] = expr
            backs = draw.render_nonfaces(rng, sl.stop - sl.start, canvas, colour=True)
            nonface = code[sl] == 10
            if nonface.any():
                faces[nonface] = draw.render_nonfaces(rng, int(nonface.sum()), face, colour=True)
            lmk = draw.landmarks68(identity[sl], expr, pose[sl])
            for j, i in enumerate(range(sl.start, sl.stop)):
                x0, y0 = (int(o) for o in offset[i])
                img = backs[j]
                img[y0:y0 + face, x0:x0 + face] = faces[j]
                rel = f"{sub[i]}/{names[i]}"
                (root / AFFECTNET_IMAGES / str(sub[i])).mkdir(exist_ok=True)
                _save_jpeg(root / AFFECTNET_IMAGES / rel, img)
                pts = (lmk[j] + 1.0) / 2.0 * face + np.array([x0, y0])
                lm = ";".join(f"{p:.2f}" for p in pts.ravel())
                rows.append(f'{rel},{x0},{y0},{face},{face},{lm},{code[i]},{valence[i]:.3f},{arousal[i]:.3f}\n')
        (lists / list_name).write_text("".join(rows), encoding="ascii")
        truth_parts.append({"true_class": classes, "expression_code": code, "intensity": intensity, "va": va,
                            "key": np.array([f"{AFFECTNET_IMAGES}/{s}/{m}" for s, m in zip(sub, names)]),
                            "pose": pose, "expression": expr_all, "occluded": looks["occluded"],
                            "list": np.full(n, 0 if list_name == "training.csv" else 1)})
    truth = {k: np.concatenate([t[k] for t in truth_parts]) for k in truth_parts[0]}
    _write_truth(root, "affectnet", truth.pop("key"), truth["va"], truth["true_class"], truth["intensity"],
                 gstar_strength)
    del truth["va"]
    dtypes = {"true_class": np.int8, "expression_code": np.int8, "intensity": np.float32, "pose": np.float32,
              "expression": np.float32, "list": np.int8}
    truth = {k: v.astype(dtypes.get(k, v.dtype)) for k, v in truth.items()}
    facts = {"image_size": [canvas, canvas], "face_box_size": face, "colour": True, "format": "JPEG",
             "list_codes": {"0": "training.csv", "1": "validation.csv"},
             "n_rows": {"training.csv": int(sum(sc.train_per_code)), "validation.csv": int(sum(sc.val_per_code))},
             "pose_columns": ["rotation_deg", "shift_x", "shift_y", "scale"]}
    return truth, facts


# --------------------------------------------------------------------------------------------
# CK+
# --------------------------------------------------------------------------------------------
# CK+'s labelled sequences per code 1-7 in the release (anger, contempt, disgust, fear, happy,
# sadness, surprise)
_CK_FULL_COUNTS = (45, 18, 59, 25, 69, 28, 83)
_FER_TO_CK = {v: k for k, v in CKPLUS_TO_FER.items()}


def _write_ckplus(root: Path, sc: _CKPlus, rng, gstar_strength: float):
    size = 96
    if sum(_CK_FULL_COUNTS) == sc.n_labelled:
        ck_codes = np.repeat(np.arange(1, 8), _CK_FULL_COUNTS)
    else:
        ck_codes = np.resize(np.arange(1, 8), sc.n_labelled)
    n_seq = sc.n_sequences
    codes = np.concatenate([ck_codes, rng.integers(1, 8, n_seq - sc.n_labelled)])
    labelled = np.arange(n_seq) < sc.n_labelled
    perm = rng.permutation(n_seq)
    codes, labelled = codes[perm], labelled[perm]
    # subjects: sparse S numbers, each with at least one sequence
    s_numbers = np.sort(rng.choice(np.arange(5, 1000), sc.n_subjects, replace=False))
    owner = np.concatenate([np.arange(sc.n_subjects), rng.integers(0, sc.n_subjects, n_seq - sc.n_subjects)])
    owner = np.sort(owner)
    people = draw.draw_identities(rng, sc.n_subjects)
    n_frames = rng.integers(sc.frames[0], sc.frames[1] + 1, n_seq)
    seq_no = np.zeros(n_seq, dtype=np.int64)
    for s in range(sc.n_subjects):
        mine = np.flatnonzero(owner == s)
        seq_no[mine] = np.sort(rng.choice(np.arange(1, 12), len(mine), replace=False)) if len(mine) <= 11 \
            else np.arange(1, len(mine) + 1)
    img_root, emo_root = root / CKPLUS_IMAGES, root / EMOTION_DIR
    fr_seq, fr_idx, fr_int = [], [], []
    frames_all = []
    peaks = np.empty(n_seq)
    for q in range(n_seq):
        f = int(n_frames[q])
        peaks[q] = peak = rng.uniform(0.85, 1.0)
        ramp = peak * (0.5 - 0.5 * np.cos(np.pi * np.arange(f) / (f - 1)))
        fr_seq.append(np.full(f, q))
        fr_idx.append(np.arange(1, f + 1))
        fr_int.append(ramp)
    fr_seq, fr_idx, fr_int = np.concatenate(fr_seq), np.concatenate(fr_idx), np.concatenate(fr_int)
    fer_class = np.array([CKPLUS_TO_FER[int(c)] for c in codes])
    # the sequence's state at its peak; each frame moves from the origin (neutral) to it with the ramp
    seq_va = draw_states(rng, fer_class, peaks)
    va = np.round(seq_va[fr_seq] * (fr_int / peaks[fr_seq])[:, None], 3)
    n_fr = len(fr_seq)
    # the sequence's own expression offset, shared by its frames; small head motion per frame
    seq_jitter = rng.normal(size=(n_seq, len(draw.EXPRESSION_PARAMS))) * 0.08
    seq_pose = draw.draw_poses(rng, n_seq, rot_deg=4.0, shift=0.03, scale=(0.95, 1.05))
    pose = seq_pose[fr_seq] + rng.normal(0, 1, (n_fr, 4)) * np.array([0.6, 0.004, 0.004, 0.004])
    seq_looks = draw.draw_looks(rng, n_seq, colour=False, noise=(0.01, 0.03), occlusion=0.0, light=0.25)
    looks = {k: v[fr_seq] for k, v in seq_looks.items()}
    identity = people[owner[fr_seq]]
    neutral = draw.CLASS_EXPRESSIONS[0]
    anchor = draw.CLASS_EXPRESSIONS[fer_class[fr_seq]]
    expr = neutral + fr_int[:, None] * (anchor - neutral) + seq_jitter[fr_seq] \
        + draw.gstar_offset(va, gstar_strength, n_fr)
    noise_rng = np.random.default_rng(rng.integers(2**63))
    for a in range(0, n_fr, _RENDER_CHUNK):
        sl = slice(a, min(a + _RENDER_CHUNK, n_fr))
        lk = {k: v[sl] for k, v in looks.items()}
        frames_all.append(draw.render_faces(noise_rng, identity[sl], expr[sl], pose[sl], lk, size, False))
    frames = np.concatenate(frames_all)
    emo_root.mkdir()
    keys = np.empty(n_fr, dtype=object)
    for q in range(n_seq):
        subj = f"S{s_numbers[owner[q]]:03d}"
        seq = f"{seq_no[q]:03d}"
        d = img_root / subj / seq
        d.mkdir(parents=True)
        mine = np.flatnonzero(fr_seq == q)
        for i in mine:
            name = f"{subj}_{seq}_{fr_idx[i]:08d}.png"
            _save_png(d / name, frames[i])
            keys[i] = f"{CKPLUS_IMAGES}/{subj}/{seq}/{name}"
        if labelled[q] or q % 2 == 0:  # the release has empty Emotion folders for some unlabelled sequences
            (emo_root / subj / seq).mkdir(parents=True)
        if labelled[q]:
            last = fr_idx[mine[-1]]
            (emo_root / subj / seq / f"{subj}_{seq}_{last:08d}_emotion.txt").write_text(
                f"   {float(codes[q]):.7e}\n", encoding="ascii")
    # a first frame (intensity 0) is a neutral face at the origin, as the reader labels it
    frame_class = np.where(fr_int == 0, _C["neutral"], fer_class[fr_seq])
    _write_truth(root, "ckplus", keys.astype(str), va, frame_class, fr_int, gstar_strength)
    truth = {"frame_sequence": fr_seq.astype(np.int32), "frame_number": fr_idx.astype(np.int32),
             "frame_intensity": fr_int.astype(np.float32), "frame_pose": pose.astype(np.float32),
             "frame_expression": expr.astype(np.float32),
             "sequence_subject": s_numbers[owner].astype(np.int32), "sequence_number": seq_no.astype(np.int32),
             "sequence_code": codes.astype(np.int8), "sequence_class": fer_class.astype(np.int8),
             "sequence_labelled": labelled}
    facts = {"image_size": [size, size], "colour": False, "format": "PNG", "n_subjects": sc.n_subjects,
             "n_sequences": n_seq, "n_labelled": sc.n_labelled,
             "intensity_ramp": "peak * (1 - cos(pi * k / (n_frames - 1))) / 2, peak ~ U(0.85, 1)",
             "pose_columns": ["rotation_deg", "shift_x", "shift_y", "scale"]}
    return truth, facts
