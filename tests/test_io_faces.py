"""Face readers on simulated files in the real layouts (FERPlus, AffectNet-mini, AffectNet, CK+), their
label rules and their error messages."""

import json
import re
import shutil

import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.io.faces import (
    FACE_DATASETS, SPLITS, FaceSet, read_affectnet, read_affectnet_mini, read_ckplus, read_faces, read_ferplus,
)
from neuroaffect.io.faces._common import parse_pixels
from neuroaffect.io.faces.ferplus import FER2013_NAME, FERPLUS_HEADER, FERPLUS_NAME, VOTE_COLUMNS
from neuroaffect.labels import AFFECTNET_TO_FER, CKPLUS_TO_FER, FER_CLASSES
from neuroaffect.simulate.faces import _pixel_strings

C = {c: k for k, c in enumerate(FER_CLASSES)}


@pytest.fixture(scope="module")
def roots(sim_root):
    return {d: sim_root(d) for d in FACE_DATASETS}


@pytest.fixture(scope="module")
def ferplus(roots):
    return read_ferplus(roots["ferplus"])


def _copy(root, tmp_path):
    dst = tmp_path / root.name
    shutil.copytree(root, dst)
    return dst


def _lines(fname):
    return fname.read_text().splitlines(keepends=True)


# --------------------------------------------------------------------------------------------
# the reader contract, every dataset
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", FACE_DATASETS)
def test_reader_contract(roots, dataset):
    fs = read_faces(dataset, roots[dataset])
    assert isinstance(fs, FaceSet) and fs.dataset == dataset and len(fs) > 0
    assert fs.labels.dtype == np.int64 and fs.labels.shape == (len(fs),)
    assert fs.labels.min() >= 0 and fs.labels.max() < len(FER_CLASSES)
    assert set(fs.split.tolist()) <= set(SPLITS)
    assert fs.meta["files"] and all(isinstance(f, str) for f in fs.meta["files"])
    if fs.images is not None:
        assert fs.images.dtype == np.uint8 and fs.images.shape[1:] == (48, 48)
    else:
        assert len(fs.paths) == len(fs) and all(isinstance(p, str) for p in fs.paths)
        img = fs.image(0)
        assert img.dtype == np.uint8 and img.ndim in (2, 3)
    if fs.soft_labels is not None:
        np.testing.assert_allclose(fs.soft_labels.sum(axis=1), 1.0, rtol=1e-6)
        assert (fs.soft_labels.argmax(axis=1) == fs.labels).all()
    for va in (fs.valence, fs.arousal):
        if va is not None:
            ok = va[np.isfinite(va)]
            assert ok.size and ok.min() >= -1 and ok.max() <= 1
    expected = {"ferplus": set(SPLITS), "affectnet-mini": {"test"}, "affectnet": {"train", "test"},
                "ckplus": {"test"}}[dataset]
    assert set(fs.split.tolist()) == expected
    sub = fs.subset(np.arange(min(3, len(fs))))
    assert len(sub) == min(3, len(fs)) and sub.dataset == dataset


def test_read_faces_refuses_unknown_dataset(roots):
    with pytest.raises(ValueError, match="Allowed values are 'ferplus', 'affectnet-mini'"):
        read_faces("fer2013", roots["ferplus"])


# --------------------------------------------------------------------------------------------
# FERPlus
# --------------------------------------------------------------------------------------------
def test_ferplus_matches_the_written_truth(roots, ferplus):
    truth = np.load(roots["ferplus"].parent / "simulation.npz")
    card = json.loads((roots["ferplus"].parent / "simulation.json").read_text())
    n_rows = sum(card["n_rows"].values())
    assert ferplus.meta["n_rows"] == n_rows
    rows = ferplus.meta["row"]
    np.testing.assert_array_equal(ferplus.meta["votes"], truth["votes"][rows])
    # the non-face and the hidden face of the tiny set are dropped, and counted
    assert ferplus.meta["dropped"]["not_face"] == int((truth["kind"] == 2).sum())
    assert ferplus.meta["dropped"]["unknown"] >= 1
    assert sum(ferplus.meta["dropped"].values()) == n_rows - len(ferplus)
    assert not np.isin(rows, np.flatnonzero(truth["kind"] > 0)).any()
    # splits follow Usage and the row order Training, PublicTest, PrivateTest
    n_tr = card["n_rows"]["Training"]
    assert (ferplus.split == np.where(rows < n_tr, "train", np.where(rows < n_tr + card["n_rows"]["PublicTest"],
                                                                      "val", "test"))).all()
    # the pixels are the CSV's, byte for byte
    lines = _lines(roots["ferplus"] / FER2013_NAME)
    first = lines[1 + rows[0]].split(",")[1]
    np.testing.assert_array_equal(ferplus.images[0].ravel(), np.array(first.split(), dtype=np.uint8))


def test_ferplus_pairs_rows_by_position_not_by_image_name(roots, ferplus, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FERPLUS_NAME
    lines = _lines(fname)
    rows = [ln.split(",") for ln in lines[1:]]
    names = [r[1] for r in rows]
    rng = np.random.default_rng(0)
    shuffled = [names[i] for i in rng.permutation(len(names))]
    kept = ferplus.meta["row"]
    blank = kept[[0, 5]]
    for i, r in enumerate(rows):
        r[1] = "" if i in blank else (shuffled[i] or "fer9999999.png")
    fname.write_text(lines[0] + "".join(",".join(r) for r in rows))
    fs = read_ferplus(root)
    assert fs.meta["dropped"]["no_image_name"] == 2
    still = ~np.isin(kept, blank)
    np.testing.assert_array_equal(fs.meta["row"], kept[still])
    np.testing.assert_array_equal(fs.images, ferplus.images[still])
    np.testing.assert_array_equal(fs.labels, ferplus.labels[still])


def _write_ferplus(root, votes, usage=None, names=None, pixels=None):
    root.mkdir(exist_ok=True)
    n = len(votes)
    usage = usage or ["Training"] * n
    names = names or [f"fer{i:07d}.png" for i in range(n)]
    pix = pixels if pixels is not None else np.arange(n * 2304, dtype=np.int64).reshape(n, 2304) % 256
    strings = _pixel_strings(pix.astype(np.uint8))
    (root / FER2013_NAME).write_text("emotion,pixels,Usage\n" + "".join(
        f"{i % 7},{s},{u}\n" for i, (s, u) in enumerate(zip(strings, usage))))
    (root / FERPLUS_NAME).write_text(",".join(FERPLUS_HEADER) + "\n" + "".join(
        f"{u},{nm}," + ",".join(map(str, v)) + "\n" for u, nm, v in zip(usage, names, votes)))
    return root


def _votes(**cols):
    v = [0] * len(VOTE_COLUMNS)
    for k, n in cols.items():
        v[VOTE_COLUMNS.index(k)] = n
    return v


def test_ferplus_label_rules_and_ties(tmp_path):
    votes = [
        _votes(happiness=6, neutral=4),          # 0: happiness
        _votes(fear=4, surprise=4, sadness=2),   # 1: tie between emotions
        _votes(anger=4, unknown=4, disgust=2),   # 2: tie between an emotion and unknown
        _votes(NF=7, neutral=3),                 # 3: not a face
        _votes(unknown=5, fear=3, NF=2),         # 4: unknown
        _votes(),                                # 5: no votes
        _votes(contempt=3, neutral=2, unknown=2, NF=2, happiness=1),  # 6: contempt
    ]
    root = _write_ferplus(tmp_path / "fp", votes)
    fs = read_ferplus(root)
    assert fs.meta["dropped"] == {"no_votes": 1, "not_face": 1, "unknown": 1, "tie": 2, "no_image_name": 0}
    np.testing.assert_array_equal(fs.meta["row"], [0, 6])
    np.testing.assert_array_equal(fs.labels, [C["happiness"], C["contempt"]])
    np.testing.assert_allclose(fs.soft_labels[1], np.array([2, 1, 0, 0, 0, 0, 0, 3]) / 6, rtol=1e-6)
    first = read_ferplus(root, ties="first")
    np.testing.assert_array_equal(first.meta["row"], [0, 1, 2, 6])
    np.testing.assert_array_equal(first.labels, [C["happiness"], C["surprise"], C["anger"], C["contempt"]])
    assert first.meta["dropped"]["tie"] == 0
    with pytest.raises(ValueError, match="'ties' parameter"):
        read_ferplus(root, ties="random")


def test_ferplus_missing_file(roots, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    (root / FERPLUS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{FERPLUS_NAME}: expected FERPlus's {FERPLUS_NAME}.*no such file"):
        read_ferplus(root)
    with pytest.raises(FileNotFoundError, match="expected a folder holding fer2013.csv"):
        read_ferplus(tmp_path / "nowhere")


def test_ferplus_row_count_mismatch(roots, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FERPLUS_NAME
    fname.write_text("".join(_lines(fname)[:-3]))
    n = len(_lines(root / FER2013_NAME)) - 1
    with pytest.raises(DatasetFormatError, match=rf"{FERPLUS_NAME}: expected one row per row of .*{FER2013_NAME} "
                                                 rf"\({n} rows; the files are matched by row position\), but found "
                                                 rf"{n - 3} rows"):
        read_ferplus(root)


def test_ferplus_truncated_pixel_string(roots, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FER2013_NAME
    lines = _lines(fname)
    emo, pix, usage = lines[4].split(",")
    lines[4] = f"{emo},{' '.join(pix.split()[:2000])},{usage}"
    fname.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=rf"{FER2013_NAME}: expected 2304 space-separated integers 0-255 in "
                                                 r"column 'pixels', but found 2000 values on line 5"):
        read_ferplus(root)
    # a file cut in the middle of its last row
    n = len(lines)
    fname.write_text(fname.read_text()[:-1000])
    with pytest.raises(DatasetFormatError, match=rf"{FER2013_NAME}: expected Usage in .*, but found an empty or "
                                                 rf"missing cell on line {n} \(a truncated file\?\)"):
        read_ferplus(root)


@pytest.mark.parametrize("bad, found", [("2x5", "'2x5'"), ("256", "'256'"), ("-1", "'-1'")])
def test_ferplus_bad_pixel_value(roots, tmp_path, bad, found):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FER2013_NAME
    lines = _lines(fname)
    emo, pix, usage = lines[3].split(",")
    vals = pix.split()
    vals[17] = bad
    lines[3] = f"{emo},{' '.join(vals)},{usage}"
    fname.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=rf"integers 0-255 in column 'pixels', but found {found} on line 4"):
        read_ferplus(root)


def test_ferplus_non_numeric_vote(roots, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FERPLUS_NAME
    lines = _lines(fname)
    cells = lines[6].rstrip("\n").split(",")
    cells[2 + VOTE_COLUMNS.index("fear")] = "three"
    lines[6] = ",".join(cells) + "\n"
    fname.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=rf"{FERPLUS_NAME}: expected whole numbers in \[0, 10\] in column "
                                                 r"'fear', but found 'three' on line 7"):
        read_ferplus(root)


def test_ferplus_usage_mismatch_and_bad_usage(roots, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FERPLUS_NAME
    lines = _lines(fname)
    lines[2] = lines[2].replace("Training", "PublicTest", 1)
    fname.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=rf"{FERPLUS_NAME}: expected the Usage of .*{FER2013_NAME} on every "
                                                 r"row .*, but found 'PublicTest' on line 3 \(1 rows differ\)"):
        read_ferplus(root)
    lines[2] = lines[2].replace("PublicTest", "Train", 1)
    fname.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=r"expected Usage in \{Training, PublicTest, PrivateTest\}, but "
                                                 r"found 'Train' on line 3 \(1 such rows\)"):
        read_ferplus(root)


def test_ferplus_missing_column_and_malformed_csv(roots, tmp_path):
    root = _copy(roots["ferplus"], tmp_path)
    fname = root / FERPLUS_NAME
    lines = _lines(fname)
    fname.write_text(lines[0].replace(",contempt", ",contempt_") + "".join(lines[1:]))
    with pytest.raises(DatasetFormatError, match=r"expected a FERPlus vote table with the columns Usage,Image name,"
                                                 r".*\(missing: contempt\)"):
        read_ferplus(root)
    lines[3] = lines[3].rstrip("\n") + ",7\n"
    fname.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=rf"{FERPLUS_NAME}: expected .*same number of fields on every line, "
                                                 r"but found a malformed table"):
        read_ferplus(root)
    fname.write_text("")
    with pytest.raises(DatasetFormatError, match="but found an empty file"):
        read_ferplus(root)


def test_pixel_parser_round_trip():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 2304)).astype(np.uint8)
    x[0, :6] = (0, 9, 10, 99, 100, 255)
    strings = _pixel_strings(x)
    assert strings[0].startswith("0 9 10 99 100 255 ")
    np.testing.assert_array_equal(parse_pixels(strings, "f.csv", "pixels", 2304), x)
    padded = [" " + s.replace(" ", "  ") + " " for s in strings]  # extra blanks are fine
    np.testing.assert_array_equal(parse_pixels(padded, "f.csv", "pixels", 2304), x)
    assert parse_pixels(["007 " + strings[0][2:]], "f.csv", "pixels", 2304)[0, 0] == 7


# --------------------------------------------------------------------------------------------
# AffectNet-mini
# --------------------------------------------------------------------------------------------
def test_affectnet_mini_contents(roots):
    fs = read_affectnet_mini(roots["affectnet-mini"])
    truth = np.load(roots["affectnet-mini"].parent / "simulation.npz")
    np.testing.assert_array_equal(fs.labels, truth["true_class"])
    np.testing.assert_allclose(fs.valence, truth["valence"], atol=1e-6)
    assert C["contempt"] not in fs.present_classes and len(fs.present_classes) == 7
    img = fs.image(0)
    assert img.shape == (96, 96, 3)
    assert fs.meta["label_column_kind"] == "name"
    assert read_affectnet_mini(roots["affectnet-mini"] / "labels.csv").labels.tolist() == fs.labels.tolist()


def test_affectnet_mini_codes_names_and_split(roots, tmp_path):
    img = next((roots["affectnet-mini"] / "images").iterdir())
    man = tmp_path / "m.csv"
    man.write_text(f"path,label,split\n{img},2,train\n{img},Happy,val\n{img},sadness,test\n{img},6.0,test\n")
    fs = read_affectnet_mini(man)
    np.testing.assert_array_equal(fs.labels, [AFFECTNET_TO_FER[2], C["happiness"], C["sadness"], C["anger"]])
    assert fs.labels[0] == C["sadness"]  # an integer is an AffectNet code, not a FERPlus index
    assert fs.split.tolist() == ["train", "val", "test", "test"] and fs.valence is None
    assert fs.meta["label_column_kind"] == "mixed"


def test_affectnet_mini_errors(roots, tmp_path):
    root = _copy(roots["affectnet-mini"], tmp_path)
    man = root / "labels.csv"
    lines = _lines(man)
    gone = lines[3].split(",")[0]
    (root / gone).unlink()
    with pytest.raises(FileNotFoundError, match=rf"labels.csv: expected every listed image to exist, but found 1 of "
                                                rf"{len(lines) - 1} missing: .*{re.escape(gone)}"):
        read_affectnet_mini(root)
    for bad_line, pattern in [
        (lines[1].replace(lines[1].split(",")[1], "joy"), r"expected a class name \(.*\) or an AffectNet expression "
                                                          r"code 0-7 in column 'label', but found 'joy' on line 2"),
        (lines[1].replace(lines[1].split(",")[1], "9"), r"but found '9' on line 2"),
        (",".join(lines[1].split(",")[:2] + ["1.5", "0.1"]) + "\n",
         r"expected numbers in \[-1, 1\] in column 'valence', but found '1.5' on line 2"),
    ]:
        man.write_text(lines[0] + bad_line + "".join(lines[4:]))
        with pytest.raises(DatasetFormatError, match=pattern):
            read_affectnet_mini(root)
    man.write_text("file,label\nx.jpg,happy\n")
    with pytest.raises(DatasetFormatError, match=r"expected an AffectNet-mini manifest with the columns path,label, "
                                                 r"but found the header file,label \(missing: path\)"):
        read_affectnet_mini(man)
    with pytest.raises(FileNotFoundError, match="expected an AffectNet-mini manifest"):
        read_affectnet_mini(tmp_path / "none.csv")


# --------------------------------------------------------------------------------------------
# AffectNet (full release)
# --------------------------------------------------------------------------------------------
def test_affectnet_contents(roots):
    fs = read_affectnet(roots["affectnet"])
    truth = np.load(roots["affectnet"].parent / "simulation.npz")
    code = truth["expression_code"]
    assert fs.meta["dropped"] == {"none": int((code == 8).sum()), "uncertain": int((code == 9).sum()),
                                  "non_face": int((code == 10).sum()), "empty_face_box": 0}
    keep = code < 8
    np.testing.assert_array_equal(fs.meta["expression"], code[keep])
    np.testing.assert_array_equal(fs.labels, [AFFECTNET_TO_FER[int(c)] for c in code[keep]])
    assert fs.meta["face_box"].shape == (len(fs), 4) and (fs.meta["face_box"][:, 2:] == 96).all()
    x, y, w, h = fs.meta["face_box"][0]
    img = fs.image(0)
    assert img.shape == (144, 144, 3) and x + w <= 144 and y + h <= 144


def test_affectnet_invalid_va_and_errors(roots, tmp_path):
    root = _copy(roots["affectnet"], tmp_path)
    fname = root / "Manually_Annotated_file_lists" / "validation.csv"
    lines = _lines(fname)
    head, row = lines[0], lines[1]
    fields = row.rstrip("\n").rsplit(",", 3)  # ..., expression, valence, arousal
    fields[1:] = ["3", "-2", "0.5"]
    fname.write_text(head + ",".join(fields) + "\n" + "".join(lines[2:]))
    fs = read_affectnet(root)
    i = np.flatnonzero(fs.split == "test")[0]
    assert np.isnan(fs.valence[i]) and fs.arousal[i] == pytest.approx(0.5) and fs.labels[i] == C["surprise"]
    fields[1:] = ["11", "0", "0"]
    fname.write_text(head + ",".join(fields) + "\n" + "".join(lines[2:]))
    with pytest.raises(DatasetFormatError, match=r"validation.csv: expected whole numbers in \[0, 10\] in column "
                                                 r"'expression', but found '11' on line 2"):
        read_affectnet(root)
    fields[1:] = ["3", "-1.5", "0"]
    fname.write_text(head + ",".join(fields) + "\n" + "".join(lines[2:]))
    with pytest.raises(DatasetFormatError, match=r"in \[-1, 1\] \(or -2\) in column 'valence', but found '-1.5'"):
        read_affectnet(root)
    fname.unlink()
    with pytest.raises(FileNotFoundError, match=r"validation.csv: expected AffectNet's validation.csv"):
        read_affectnet(root)


# --------------------------------------------------------------------------------------------
# CK+
# --------------------------------------------------------------------------------------------
def test_ckplus_peak_and_first_frames(roots):
    fs = read_ckplus(roots["ckplus"])
    truth = np.load(roots["ckplus"].parent / "simulation.npz")
    labelled = truth["sequence_labelled"]
    assert fs.meta["n_sequences"] == len(labelled) and fs.meta["n_unlabelled"] == int((~labelled).sum())
    assert len(fs) == 2 * int(labelled.sum())
    peak = fs.meta["frame_role"] == "peak"
    assert sorted(fs.meta["ckplus_code"][peak].tolist()) == sorted(truth["sequence_code"][labelled].tolist())
    np.testing.assert_array_equal(fs.labels[peak], [CKPLUS_TO_FER[int(c)] for c in fs.meta["ckplus_code"][peak]])
    assert (fs.labels[~peak] == C["neutral"]).all()
    for p, role in zip(fs.paths, fs.meta["frame_role"]):
        frame = int(p[-12:-4])
        assert (frame == 1) == (role == "first")
    assert set(fs.subject.tolist()) <= set(truth["sequence_subject"].tolist())
    s = fs.meta["sequence"][0].split("/")[0]
    assert fs.subject[0] == int(s[1:])
    assert fs.image(0).shape == (96, 96)


def _emotion_files(root):
    return sorted((root / "Emotion").glob("*/*/*_emotion.txt"))


@pytest.mark.parametrize("text, found", [("   9.0000000e+00\n", "'9.0000000e+00'"), ("happy\n", "'happy'"),
                                         ("   2.5\n", "'2.5'"), ("", "an empty file"), ("1 2\n", "2 values")])
def test_ckplus_bad_code(roots, tmp_path, text, found):
    root = _copy(roots["ckplus"], tmp_path)
    efile = _emotion_files(root)[0]
    efile.write_text(text)
    with pytest.raises(DatasetFormatError, match=rf"{efile.name}: expected one emotion code 0-7 .*, but found "
                                                 rf"{re.escape(found)}"):
        read_ckplus(root)


def test_ckplus_structure_errors(roots, tmp_path):
    root = _copy(roots["ckplus"], tmp_path)
    efile = _emotion_files(root)[0]
    seq = root / "cohn-kanade-images" / efile.parent.parent.name / efile.parent.name
    peak = seq / efile.name.replace("_emotion.txt", ".png")
    peak.rename(peak.with_name("moved.png"))
    with pytest.raises(FileNotFoundError, match=rf"{efile.name}: expected the peak frame it names, .*{peak.name}"):
        read_ckplus(root)
    shutil.rmtree(seq)
    with pytest.raises(FileNotFoundError, match=rf"{efile.name}: expected its image sequence .*, but found no such "
                                                r"folder"):
        read_ckplus(root)
    efile.rename(efile.with_name("S999_001_00000006_emotion.txt"))
    with pytest.raises(DatasetFormatError, match=r"expected an emotion file named Sxxx_yyy_zzzzzzzz_emotion.txt in "
                                                 r"the folder Emotion/Sxxx/yyy/"):
        read_ckplus(root)
    shutil.rmtree(root / "Emotion")
    with pytest.raises(FileNotFoundError, match=r"Emotion: expected CK\+'s folder of emotion files"):
        read_ckplus(root)
