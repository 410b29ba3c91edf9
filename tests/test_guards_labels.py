"""Face label tables pinned against the datasets' published documentation, not against the code.

The expected tables below are typed from the datasets' own documentation: FERPlus's
``fer2013new.csv`` vote columns (neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt), CK+'s emotion codes (Lucey et al. 2010: 0 neutral, 1 anger, 2 contempt, 3 disgust,
4 fear, 5 happy, 6 sadness, 7 surprise) and AffectNet's expression codes (Mollahosseini et al.
2017: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt), and the
valence/arousal anchors from the table of ``docs/distillation.md`` (two decimals). The readers are
run on files written here by hand, so a wrong table cannot round-trip through the simulator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuroaffect.labels import AFFECTNET_TO_FER, CKPLUS_TO_FER, FER_CLASSES, fer_va_anchors

#: FERPlus's vote columns, in file order.
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
#: CK+ emotion code -> the FERPlus class of that name.
CKPLUS_PUBLISHED = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness",
                    6: "sadness", 7: "surprise"}
#: AffectNet expression code -> the FERPlus class of that name.
AFFECTNET_PUBLISHED = {0: "neutral", 1: "happiness", 2: "sadness", 3: "surprise", 4: "fear", 5: "disgust",
                       6: "anger", 7: "contempt"}
#: docs/distillation.md, "Class anchors on the valence/arousal plane": (valence, arousal).
DOCS_ANCHORS = {"neutral": (0.00, 0.00), "happiness": (0.75, 0.27), "surprise": (0.27, 0.75),
                "fear": (-0.27, 0.75), "anger": (-0.46, 0.66), "disgust": (-0.69, 0.40),
                "contempt": (-0.79, 0.14), "sadness": (-0.73, -0.34)}


def test_ferplus_class_order_is_the_vote_column_order():
    assert tuple(FER_CLASSES) == FERPLUS_COLUMNS


def test_ckplus_codes_map_to_the_classes_of_their_published_names():
    assert set(CKPLUS_TO_FER) == set(range(8))
    assert {code: FERPLUS_COLUMNS[k] for code, k in CKPLUS_TO_FER.items()} == CKPLUS_PUBLISHED


def test_affectnet_codes_map_to_the_classes_of_their_published_names():
    assert set(AFFECTNET_TO_FER) == set(range(8))  # 8 none, 9 uncertain, 10 non-face have no class
    assert {code: FERPLUS_COLUMNS[k] for code, k in AFFECTNET_TO_FER.items()} == AFFECTNET_PUBLISHED


def _png(path, value):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 12), value, np.uint8)).save(path)


def test_ckplus_reader_labels_hand_written_sequences_by_the_published_codes(tmp_path):
    from neuroaffect.io.faces import read_ckplus

    for code in range(8):  # subject 10 + code, one sequence of three frames, peak = the last
        s, seq = f"S{10 + code:03d}", "001"
        for f in (1, 2, 3):
            _png(tmp_path / "cohn-kanade-images" / s / seq / f"{s}_{seq}_{f:08d}.png", 20 * f)
        efile = tmp_path / "Emotion" / s / seq / f"{s}_{seq}_{3:08d}_emotion.txt"
        efile.parent.mkdir(parents=True)
        efile.write_text(f"   {code:.7e}\n")
    fs = read_ckplus(tmp_path)
    peak = np.asarray(fs.meta["frame_role"]) == "peak"
    got = {int(sub) - 10: FERPLUS_COLUMNS[lab] for sub, lab in zip(fs.subject[peak], fs.labels[peak])}
    assert got == CKPLUS_PUBLISHED
    assert all(FERPLUS_COLUMNS[k] == "neutral" for k in fs.labels[~peak])  # first frames


def test_affectnet_mini_reader_maps_codes_and_names_alike(tmp_path):
    from neuroaffect.io.faces import read_affectnet_mini

    rows = ["path,label"] + [f"c{code}.png,{code}" for code in range(8)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    fs = read_affectnet_mini(tmp_path, check_files=False)
    assert [FERPLUS_COLUMNS[k] for k in fs.labels] == [AFFECTNET_PUBLISHED[c] for c in range(8)]
    names = ["path,label"] + [f"n{k}.png,{name}" for k, name in enumerate(("happy", "sad", "anger", "surprise"))]
    (tmp_path / "labels.csv").write_text("\n".join(names) + "\n")
    fs = read_affectnet_mini(tmp_path, check_files=False)
    assert [FERPLUS_COLUMNS[k] for k in fs.labels] == ["happiness", "sadness", "anger", "surprise"]


def test_circumplex_anchors_match_the_documented_table():
    va = fer_va_anchors()
    for k, name in enumerate(FERPLUS_COLUMNS):
        assert va[k] == pytest.approx(DOCS_ANCHORS[name], abs=0.0051), name
    # at radius r every emotional class sits on the circle of radius r; neutral at the origin
    r = fer_va_anchors(radius=0.5)
    norms = np.hypot(r[:, 0], r[:, 1])
    assert norms[0] == 0 and norms[1:] == pytest.approx(np.full(7, 0.5))


@pytest.mark.parametrize("name, valence_sign, arousal_sign", [
    ("happiness", +1, +1), ("surprise", +1, +1), ("fear", -1, +1), ("anger", -1, +1), ("disgust", -1, +1),
    ("contempt", -1, +1), ("sadness", -1, -1),
])
def test_circumplex_quadrants_follow_russell(name, valence_sign, arousal_sign):
    """Russell (1980): pleasant states +V; anger and fear unpleasant and aroused; sadness unpleasant and low."""
    v, a = fer_va_anchors()[FERPLUS_COLUMNS.index(name)]
    assert math.copysign(1, v) == valence_sign and abs(v) > 0.1
    assert math.copysign(1, a) == arousal_sign and abs(a) > 0.1
    assert v ** 2 + a ** 2 == pytest.approx(0.64)


def test_affectnet_reader_maps_the_published_codes_and_drops_the_unmapped(tmp_path):
    from neuroaffect.io.faces import read_affectnet

    (tmp_path / "Manually_Annotated_Images").mkdir()
    lists = tmp_path / "Manually_Annotated_file_lists"
    lists.mkdir()
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
    train = [header] + [f"1/t{code}.jpg,0,0,50,50,1;2,{code},0.1,-0.2" for code in range(11)]
    (lists / "training.csv").write_text("\n".join(train) + "\n")
    (lists / "validation.csv").write_text(header + "\n1/v6.jpg,0,0,50,50,1;2,6,-0.5,0.5\n")
    fs = read_affectnet(tmp_path, check_files=False)
    train_rows = fs.split == "train"
    assert [FERPLUS_COLUMNS[k] for k in fs.labels[train_rows]] == [AFFECTNET_PUBLISHED[c] for c in range(8)]
    assert [FERPLUS_COLUMNS[k] for k in fs.labels[~train_rows]] == ["anger"]  # validation.csv serves as test
    assert set(fs.split[~train_rows]) == {"test"}
    assert fs.meta["dropped"]["none"] == fs.meta["dropped"]["uncertain"] == fs.meta["dropped"]["non_face"] == 1
