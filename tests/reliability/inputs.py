"""Unusual inputs to the readers: classes of files that once hung, blew up or were read wrong.

:func:`cases` writes, below a folder, small inputs of each class and returns
``(name, loader, expect)`` triples like :func:`reliability.tamper.cases`: ``loader()`` reads the
input the way the package does and ``expect`` is ``"read"`` or ``"reject"``. A rejection must be
the package's own error naming the file (``DatasetFormatError``, or ``FileNotFoundError`` for a
missing file). Every ``"read"`` loader also carries ``loader.check(result) -> bool``, which
compares what was read with values computed here independently (a 16-bit image's mean near 128,
a float image in [0, 1] scaled by 255, a palette looked up): pass it as the harness's
``Case.check`` so that a silently wrong read counts as ``wrong``.

Classes (the first part of each name):

``image``
    Bit depths and modes: 8-bit grey, 16-bit grey PNG and TIFF, 32-bit float TIFF in [0, 1] and in
    [0, 255], palette, RGBA, grey + alpha, 1-bit (read and checked); float images with NaN,
    negative or too large values, 32-bit integers, a format outside the list (PCX), text named
    ``.png``, a truncated PNG (refused).
``special``
    A FIFO, a character device (``/dev/zero``, directly and through a symlink) and a folder
    given as an image, a CK+ emotion file, an AffectNet-mini manifest and a FERPlus table; an
    emotion file over its size cap (refused, and none may hang).
``bomb``
    PNG headers declaring 81 and 400 megapixels (refused before decoding).
``ferplus``
    A pixel cell of 5,000 digits, a quoted cell holding two images, every vote 0, every row
    ``unknown`` (refused); an intact file (read and checked).
``affectnet``, ``ckplus``
    Lists whose every row is dropped (refused); 16-bit frames and images read through the
    readers' ``FaceSet.image`` (read and checked).
``seed``
    A third session named ``.MAT``, or a FIFO, a short date, a subject short of a session, a session that a
    simulated copy's ``simulation.json`` declares but the folder lacks, another subject's prefix,
    mixed prefixes (refused); an intact three-session subject (read, checked).
``deap``
    Bytes, or a second pickle, after the pickle's STOP; an ``sNN.dat`` that is a FIFO, a link to
    ``/dev/zero`` or a folder; two files of one subject (refused); the intact file (read, checked).
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["cases", "write_ckplus", "write_ferplus", "write_png_header"]

Case = tuple[str, Callable[[], object], str]


def _checked(load: Callable[[], object], check: Callable[[object], bool]) -> Callable[[], object]:
    load.check = check
    return load


# --------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------
def _ramp16() -> np.ndarray:
    """A 64 x 64 ramp over the whole 16-bit range (mean 32767.5)."""
    return np.round(np.linspace(0, 65535, 64 * 64)).astype(np.uint16).reshape(64, 64)


def _close(got, want, tol: float = 1.0) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    return got.dtype == np.uint8 and got.shape == want.shape and \
        bool(np.abs(got.astype(np.float64) - want).max() <= tol)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_header(path: Path, width: int, height: int, rows: int = 16) -> Path:
    """An 8-bit grey PNG declaring ``width`` x ``height`` whose data holds only ``rows`` rows (0.1 MB
    or less on disk, whatever the size declared)."""
    data = zlib.compress(b"\x00" * ((width + 1) * rows), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))
    return path


def _image_files(folder: Path) -> list:
    """(name, file, expect, expected pixels or None) for every image class."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []

    def add(name, img, fmt, expect, want, **save):
        f = folder / f"{name}.{fmt.lower()}"
        img.save(f, format=fmt, **save)
        out.append((name, f, expect, want))

    grey8 = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    add("png-8bit-grey", Image.fromarray(grey8), "PNG", "read", grey8)
    r16 = _ramp16()
    add("png-16bit-grey", Image.fromarray(r16), "PNG", "read", r16 / 257.0)
    add("png-16bit-grey-constant", Image.fromarray(np.full((32, 32), 32768, np.uint16)), "PNG", "read",
        np.full((32, 32), 128.0))
    add("tiff-16bit-grey", Image.fromarray(r16), "TIFF", "read", r16 / 257.0)
    f01 = rng.uniform(0, 1, (40, 48)).astype(np.float32)
    add("tiff-float-0-1", Image.fromarray(f01), "TIFF", "read", f01 * 255.0)
    f255 = rng.uniform(0, 255, (40, 48)).astype(np.float32)
    f255[0, 0] = 200.0  # the maximum well above 1
    add("tiff-float-0-255", Image.fromarray(f255), "TIFF", "read", f255)
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    idx = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette(palette.ravel().tolist())
    add("png-palette", pal, "PNG", "read", palette[idx].astype(np.float64))
    rgb = rng.integers(0, 256, (32, 36, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((32, 36, 1), 255, np.uint8)], axis=2)
    add("png-rgba", Image.fromarray(rgba, mode="RGBA"), "PNG", "read", rgb.astype(np.float64))
    la = np.stack([grey8, np.full_like(grey8, 255)], axis=2)
    add("png-grey-alpha", Image.fromarray(la, mode="LA"), "PNG", "read", grey8.astype(np.float64))
    bits = rng.integers(0, 2, (24, 24)).astype(bool)
    add("png-1bit", Image.fromarray(bits), "PNG", "read", np.where(bits, 255.0, 0.0))
    for name, vals in (("nan", np.nan), ("negative", -0.5), ("above-255", 300.0)):
        f = rng.uniform(0, 1, (16, 16)).astype(np.float32)
        f[3, 4] = vals
        add(f"tiff-float-{name}", Image.fromarray(f), "TIFF", "reject", None)
    add("tiff-int32-large", Image.fromarray(np.full((16, 16), 1 << 20, np.int32), mode="I"), "TIFF", "reject", None)
    add("tiff-int32-small", Image.fromarray(np.full((16, 16), 100, np.int32), mode="I"), "TIFF", "reject", None)
    add("pcx-format", Image.fromarray(grey8), "PCX", "reject", None)
    text = folder / "text.png"
    text.write_text("not an image\n")
    out.append(("text-named-png", text, "reject", None))
    whole = (folder / "png-8bit-grey.png").read_bytes()
    cut = folder / "truncated.png"
    cut.write_bytes(whole[: len(whole) // 2])
    out.append(("png-truncated", cut, "reject", None))
    return out


def _image_cases(folder: Path) -> list[Case]:
    from neuroaffect.io.faces import read_face_image

    out = []
    for name, f, expect, want in _image_files(folder):
        load = (lambda f=f: read_face_image(f))
        if expect == "read":
            load = _checked(load, lambda img, want=want: _close(img, want))
        out.append((f"image/{name}", load, expect))
    for name, (w, h) in (("81-megapixels", (9000, 9000)), ("400-megapixels", (20000, 20000))):
        f = write_png_header(folder / f"bomb-{name}.png", w, h)
        out.append((f"bomb/png-{name}", lambda f=f: read_face_image(f), "reject"))
    return out


# --------------------------------------------------------------------------------------------
# FIFOs, devices, folders
# --------------------------------------------------------------------------------------------
def _special(folder: Path, name: str) -> dict:
    """{kind: path} of files that are no regular files, each named ``name`` inside its own folder."""
    out = {}
    for kind in ("fifo", "dev-zero-link", "folder"):
        d = folder / kind
        d.mkdir(parents=True, exist_ok=True)
        p = d / name
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "dev-zero-link":
            p.symlink_to("/dev/zero")
        else:
            p.mkdir()
        out[kind] = p
    return out


def write_ckplus(root: Path, frames: list, code: str = "   5.0000000e+00\n") -> Path:
    """A CK+ folder with one labelled sequence S005/001 of ``frames`` (arrays written as PNG)."""
    from PIL import Image

    seq = root / "cohn-kanade-images" / "S005" / "001"
    emo = root / "Emotion" / "S005" / "001"
    seq.mkdir(parents=True)
    emo.mkdir(parents=True)
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(seq / f"S005_001_{i:08d}.png")
    (emo / f"S005_001_{len(frames):08d}_emotion.txt").write_text(code)
    return root


def _special_cases(folder: Path) -> list[Case]:
    from neuroaffect.io.faces import read_affectnet_mini, read_ckplus, read_face_image, read_ferplus

    out = []
    for kind, p in _special(folder / "image", "face.png").items():
        out.append((f"special/image-{kind}", lambda p=p: read_face_image(p), "reject"))
    frames = [np.full((24, 24), 10 * i, np.uint8) for i in range(1, 4)]
    for kind in ("fifo", "dev-zero-link", "folder", "oversized"):
        root = write_ckplus(folder / "ckplus" / kind, frames)
        efile = next((root / "Emotion").glob("*/*/*_emotion.txt"))
        efile.unlink()
        if kind == "fifo":
            os.mkfifo(efile)
        elif kind == "dev-zero-link":
            efile.symlink_to("/dev/zero")
        elif kind == "folder":
            efile.mkdir()
        else:
            efile.write_text("   5.0000000e+00" + " " * (1 << 20) + "\n")
        out.append((f"special/ckplus-emotion-{kind}", lambda root=root: read_ckplus(root), "reject"))
    for kind, p in _special(folder / "affectnet-mini", "labels.csv").items():
        if kind != "folder":
            out.append((f"special/affectnet-manifest-{kind}", lambda p=p: read_affectnet_mini(p), "reject"))
    for kind, p in _special(folder / "ferplus", "fer2013.csv").items():
        (p.parent / "fer2013new.csv").write_text("Usage,Image name\n")
        out.append((f"special/ferplus-table-{kind}", lambda root=p.parent: read_ferplus(root), "reject"))
    return out


# --------------------------------------------------------------------------------------------
# FERPlus tables
# --------------------------------------------------------------------------------------------
def write_ferplus(root: Path, votes: list, pixels: list | None = None) -> Path:
    """``fer2013.csv`` and ``fer2013new.csv`` with one row per vote list (10 counts); ``pixels``: cells."""
    from neuroaffect.io.faces.ferplus import FERPLUS_HEADER

    root.mkdir(parents=True, exist_ok=True)
    n = len(votes)
    if pixels is None:
        pixels = [" ".join(str((i + k) % 256) for k in range(2304)) for i in range(n)]
    (root / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "".join(
        f"{i % 7},{cell},Training\n" for i, cell in enumerate(pixels)))
    (root / "fer2013new.csv").write_text(",".join(FERPLUS_HEADER) + "\n" + "".join(
        f"Training,fer{i:07d}.png," + ",".join(map(str, v)) + "\n" for i, v in enumerate(votes)))
    return root


def _ferplus_cases(folder: Path) -> list[Case]:
    from neuroaffect.io.faces import read_ferplus

    happy = [0, 8, 1, 0, 0, 0, 0, 0, 1, 0]  # happiness by 8 of 10
    ok = [" ".join(str((i + k) % 256) for k in range(2304)) for i in range(3)]
    want = np.array([[(i + k) % 256 for k in range(2304)] for i in range(3)]).reshape(3, 48, 48)
    intact = write_ferplus(folder / "intact", [happy] * 3, ok)
    out = [("ferplus/intact", _checked(lambda: read_ferplus(intact), lambda fs: _close(fs.images, want, 0)
                                       and fs.labels.tolist() == [1, 1, 1]), "read")]
    long_cell = ok[1].split(" ")
    long_cell[7] = "1" * 5000
    quoted = '"' + ok[1] + "\n" + ok[2] + '"'
    bad = {
        "pixel-5000-digits": ([happy] * 3, [ok[0], " ".join(long_cell), ok[2]]),
        "pixel-5000-digit-zeros": ([happy] * 3, [ok[0], ok[1].replace(" 1 ", " " + "0" * 4999 + "1 ", 1), ok[2]]),
        "two-images-in-a-quoted-cell": ([happy] * 3, [ok[0], quoted, ok[2]]),
        "every-vote-zero": ([[0] * 10] * 3, ok),
        "every-row-unknown": ([[0, 1, 0, 0, 0, 0, 0, 0, 9, 0]] * 3, ok),
    }
    for name, (votes, cells) in bad.items():
        root = write_ferplus(folder / name, votes, cells)
        expect = "read" if name == "pixel-5000-digit-zeros" else "reject"
        load = lambda root=root: read_ferplus(root)  # noqa: E731
        if expect == "read":  # leading zeros are only zeros: the value is 1, as written
            load = _checked(load, lambda fs: _close(fs.images, want, 0))
        out.append((f"ferplus/{name}", load, expect))
    return out


# --------------------------------------------------------------------------------------------
# AffectNet and CK+ through their readers
# --------------------------------------------------------------------------------------------
def _affectnet_cases(folder: Path) -> list[Case]:
    from PIL import Image

    from neuroaffect.io.faces import read_affectnet, read_affectnet_mini
    from neuroaffect.io.faces.affectnet import AFFECTNET_HEADER

    out = []
    root = folder / "full"
    (root / "Manually_Annotated_file_lists").mkdir(parents=True)
    (root / "Manually_Annotated_Images").mkdir()
    for name in ("training.csv", "validation.csv"):
        rows = [f"1/{name}{i}.jpg,0,0,96,96,,{code},-2,-2\n" for i, code in enumerate((8, 9, 10))]
        (root / "Manually_Annotated_file_lists" / name).write_text(",".join(AFFECTNET_HEADER) + "\n" + "".join(rows))
    out.append(("affectnet/every-row-dropped", lambda: read_affectnet(root), "reject"))
    mini = folder / "mini"
    mini.mkdir(parents=True)
    r16 = _ramp16()
    Image.fromarray(r16).save(mini / "a.png")
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(mini / "b.tif")
    (mini / "labels.csv").write_text("path,label\na.png,happy\nb.tif,sad\n")

    def read_mini():
        fs = read_affectnet_mini(mini)
        return fs.image(0), fs.image(1)
    out.append(("affectnet/mini-16bit-and-float-images", _checked(
        read_mini, lambda ims: _close(ims[0], r16 / 257.0) and _close(ims[1], np.full((8, 8), 127.5))), "read"))
    return out


def _ckplus_cases(folder: Path) -> list[Case]:
    from neuroaffect.io.faces import read_ckplus

    frames = [(np.full((16, 16), 20000 * i, np.uint16)) for i in range(1, 4)]
    root = write_ckplus(folder / "frames-16bit", frames)

    def read_peak():
        fs = read_ckplus(root)
        return fs.image(0), fs.labels
    want = np.full((16, 16), 60000 / 257.0)
    return [("ckplus/16bit-frames", _checked(read_peak, lambda r: _close(r[0], want) and r[1].tolist() == [1, 0]),
             "read")]


# --------------------------------------------------------------------------------------------
# SEED and DEAP
# --------------------------------------------------------------------------------------------
def _seed_trials(prefix: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {f"{prefix}_eeg{k}": rng.normal(0.0, 20.0, (62, 201)) for k in range(1, 16)}


def _seed_folder(root: Path, files: dict) -> Path:
    """``Preprocessed_EEG/`` with ``label.mat`` and ``{file name: trials}``."""
    import scipy.io

    from neuroaffect.labels import SEED_LABELS

    folder = root / "Preprocessed_EEG"
    folder.mkdir(parents=True)
    scipy.io.savemat(folder / "label.mat", {"label": np.asarray(SEED_LABELS, float)[None]})
    for name, trials in files.items():
        scipy.io.savemat(folder / name, trials)
    return root


def _seed_cases(folder: Path) -> list[Case]:
    from neuroaffect.io.seed import read_seed

    dates = ("20131027", "20131030", "20131107")
    three = {f"1_{d}.mat": _seed_trials("djc", i) for i, d in enumerate(dates)}
    intact = _seed_folder(folder / "intact", three)
    want = three[f"1_{dates[2]}.mat"]["djc_eeg15"] * 1e-6

    def check(recs):
        (rec,) = recs
        return len(rec.eeg) == 45 and rec.session_ids.tolist() == [1] * 15 + [2] * 15 + [3] * 15 \
            and np.array_equal(rec.eeg[44], want)
    out = [("seed/intact-three-sessions", _checked(lambda: read_seed(intact), check), "read")]
    first_two = {k: three[k] for k in list(three)[:2]}
    mixed = _seed_trials("djc")
    mixed["jl_eeg15"] = mixed.pop("djc_eeg15")
    variants = {
        "session-named-upper-case-MAT": {**first_two, f"1_{dates[2]}.MAT": three[f"1_{dates[2]}.mat"]},
        "session-with-short-date": {**first_two, "1_2013110.mat": three[f"1_{dates[2]}.mat"]},
        "subject-short-of-a-session": {**first_two, **{f"2_2014040{k}.mat": _seed_trials("jl", k) for k in (1, 2, 3)}},
        "prefix-of-another-subject": {**first_two, f"1_{dates[2]}.mat": _seed_trials("jl")},
        "prefixes-mixed-in-a-file": {f"1_{dates[0]}.mat": mixed},
    }
    for name, files in variants.items():
        root = _seed_folder(folder / name, files)
        out.append((f"seed/{name}", lambda root=root: read_seed(root), "reject"))
    # every subject short of the same session: only the simulator's card tells the copy is incomplete
    root = _seed_folder(folder / "declared-session-missing", first_two)
    card = {"dataset": "seed", "subjects": [{"subject": 1, "sessions": [{"session": k, "date": d}
                                                                       for k, d in enumerate(dates, start=1)]}]}
    (root / "simulation.json").write_text(json.dumps(card))
    out.append(("seed/declared-session-missing", lambda: read_seed(root), "reject"))
    fifo = _seed_folder(folder / "session-fifo", first_two)
    os.mkfifo(fifo / "Preprocessed_EEG" / f"1_{dates[2]}.mat")
    out.append(("seed/session-file-fifo", lambda: read_seed(fifo), "reject"))
    return out


def _deap_cases(folder: Path) -> list[Case]:
    from neuroaffect.io.deap import read_deap
    from neuroaffect.simulate.deap import write_py2_pickle

    rng = np.random.default_rng(0)
    arrays = {"data": rng.normal(0.0, 20.0, (2, 40, 512)), "labels": rng.uniform(1, 9, (2, 4))}
    out = []
    for name, tail in (("intact", b""), ("one-byte-after-stop", b"\x00"),
                       ("second-pickle-after-stop", pickle.dumps({"x": np.zeros(3)}, protocol=2))):
        d = folder / name / "data_preprocessed_python"
        d.mkdir(parents=True)
        with open(d / "s01.dat", "wb") as fh:
            write_py2_pickle(fh, arrays)
            fh.write(tail)
        load = (lambda root=d.parent: read_deap(root, ratings=False))
        if not tail:
            load = _checked(load, lambda recs: np.allclose(recs[0].labels["valence"], arrays["labels"][:, 0]))
        out.append((f"deap/{name}", load, "reject" if tail else "read"))
    for kind in ("fifo", "dev-zero-link", "folder", "second-file-of-subject-1"):
        d = folder / f"s02-{kind}" / "data_preprocessed_python"
        d.mkdir(parents=True)
        with open(d / "s01.dat", "wb") as fh:
            write_py2_pickle(fh, arrays)
        extra = d / ("s1.dat" if kind.startswith("second") else "s02.dat")
        if kind == "fifo":
            os.mkfifo(extra)
        elif kind == "dev-zero-link":
            extra.symlink_to("/dev/zero")
        elif kind == "folder":
            extra.mkdir()
        else:
            extra.write_bytes((d / "s01.dat").read_bytes())
        out.append((f"deap/s02-{kind}", lambda root=d.parent: read_deap(root, ratings=False), "reject"))
    return out


def cases(tmp_dir: Path) -> list[Case]:
    """Write every input class below ``tmp_dir``; ``(name, loader, expect)`` triples (module docstring)."""
    tmp = Path(tmp_dir)
    return [*_image_cases(tmp / "images"), *_special_cases(tmp / "special"), *_ferplus_cases(tmp / "ferplus"),
            *_affectnet_cases(tmp / "affectnet"), *_ckplus_cases(tmp / "ckplus"), *_seed_cases(tmp / "seed"),
            *_deap_cases(tmp / "deap")]
