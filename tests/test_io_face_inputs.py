"""Face inputs that were read wrong, hung or blew up: images by bit depth, files that are no regular
files, pixel bombs, FERPlus cell bombs and lists left empty by the label rules."""

import contextlib
import os
import re
import signal

import numpy as np
import pytest
from PIL import Image

from neuroaffect._utils import DatasetFormatError
from neuroaffect.io.faces import (
    MAX_FACE_PIXELS, read_affectnet, read_affectnet_mini, read_ckplus, read_face_image, read_ferplus, read_image,
)
from neuroaffect.io.faces._common import read_table
from neuroaffect.io.faces.affectnet import AFFECTNET_HEADER
from reliability.inputs import write_ckplus, write_ferplus, write_png_header


@contextlib.contextmanager
def _deadline(seconds=5):
    """Fail instead of hanging when a read blocks (a FIFO opened for reading)."""
    def alarm(signum, frame):
        raise TimeoutError(f"the read blocked for {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _refused(fn, fname, *fragments):
    with _deadline(), pytest.raises(DatasetFormatError) as info:
        fn()
    msg = str(info.value)
    assert str(fname) in msg and "expected" in msg and "found" in msg, msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


# --------------------------------------------------------------------------------------------
# bit depth and value range
# --------------------------------------------------------------------------------------------
def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    """It read as 255 everywhere (mean 255): Pillow's conversion to 8 bits clips."""
    v = np.arange(0, 65536, 16, dtype=np.uint16).reshape(64, 64)
    Image.fromarray(v).save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.dtype == np.uint8 and img.shape == (64, 64)
    want = np.floor(v.astype(np.float64) * 255 / 65535 + 0.5)  # 0 -> 0, 65535 -> 255
    np.testing.assert_array_equal(img, want)
    assert img.mean() == pytest.approx(127.5, abs=0.6)
    assert read_image(tmp_path / "a.png", grey=True).mean() == pytest.approx(127.5, abs=0.6)


@pytest.mark.parametrize("high, scale", [(1.0, 255.0), (255.0, 1.0)])
def test_float_tiff_is_scaled_by_its_range(tmp_path, high, scale):
    """A float TIFF in [0, 1] read as black (0 and 1 only); one in [0, 255] keeps its values."""
    v = np.linspace(0, high, 30 * 20, dtype=np.float32).reshape(30, 20)
    Image.fromarray(v).save(tmp_path / "a.tif")
    img = read_face_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(img, np.floor(v.astype(np.float64) * scale + 0.5))
    assert img.max() == 255 and img.min() == 0


@pytest.mark.parametrize("value, found", [(np.nan, "NaN or infinite"), (-0.25, "values in [-0.25"),
                                          (300.0, "values in [0.5, 300]")])
def test_float_tiff_out_of_range_is_refused(tmp_path, value, found):
    v = np.full((8, 8), 0.5, np.float32)
    v[2, 3] = value
    Image.fromarray(v).save(tmp_path / "a.tif")
    _refused(lambda: read_face_image(tmp_path / "a.tif"), tmp_path / "a.tif", "float pixels in [0, 1] or [0, 255]",
             found)


def test_palette_rgba_and_grey_alpha(tmp_path):
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    idx = rng.integers(0, 256, (10, 12), dtype=np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_face_image(tmp_path / "p.png"), palette[idx])
    rgb = palette[idx]
    luma = read_face_image(tmp_path / "p.png", grey=True).astype(float)
    want = rgb @ np.array([0.299, 0.587, 0.114])  # ITU-R BT.601
    assert np.abs(luma - want).max() <= 1.0
    rgba = np.concatenate([rgb, rng.integers(0, 256, (10, 12, 1), dtype=np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_face_image(tmp_path / "a.png"), rgb)  # alpha dropped, colour kept
    la = np.stack([idx, np.zeros_like(idx)], axis=2)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_face_image(tmp_path / "la.png"), idx)


def test_other_modes_and_formats_are_refused(tmp_path):
    Image.fromarray(np.full((8, 8), 1 << 20, np.int32), mode="I").save(tmp_path / "i.tif")
    _refused(lambda: read_face_image(tmp_path / "i.tif"), tmp_path / "i.tif", "a stated depth of 8 or 16 bits",
             "mode I from TIFF")  # 32-bit integers: no range to scale from, whatever the values
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.pcx")
    (tmp_path / "a.pcx").rename(tmp_path / "pcx.png")
    _refused(lambda: read_face_image(tmp_path / "pcx.png"), tmp_path / "pcx.png", "PNG, JPEG, BMP, GIF, TIFF")


# --------------------------------------------------------------------------------------------
# files that are no regular files
# --------------------------------------------------------------------------------------------
def test_fifo_device_and_folder_images_are_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo.png")
    _refused(lambda: read_face_image(tmp_path / "fifo.png"), tmp_path / "fifo.png", "regular file",
             "a FIFO (named pipe)")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    _refused(lambda: read_image(tmp_path / "zero.png"), tmp_path / "zero.png", "a character device")
    (tmp_path / "dir.png").mkdir()
    _refused(lambda: read_image(tmp_path / "dir.png"), tmp_path / "dir.png", "a folder")
    _refused(lambda: read_image(tmp_path / "none.png"), tmp_path / "none.png", "no such file")


def _ckplus(tmp_path):
    root = write_ckplus(tmp_path / "ck", [np.full((8, 8), 40 * i, np.uint8) for i in range(1, 4)])
    efile = root / "Emotion" / "S005" / "001" / "S005_001_00000003_emotion.txt"
    assert read_ckplus(root).labels.tolist() == [1, 0]  # happy (5) -> happiness, then the first frame
    efile.unlink()
    return root, efile


def test_ckplus_emotion_fifo_does_not_hang(tmp_path):
    root, efile = _ckplus(tmp_path)
    os.mkfifo(efile)
    _refused(lambda: read_ckplus(root), efile, "a CK+ emotion file (a regular file)", "a FIFO")


def test_ckplus_emotion_file_too_large(tmp_path):
    """(Linked to /dev/zero it filled memory: that case runs under a memory limit in
    tests/reliability/test_inputs.py.)"""
    root, efile = _ckplus(tmp_path)
    efile.write_text("5" + " " * 5000)
    _refused(lambda: read_ckplus(root), efile, "of at most 4096 bytes", "5001 bytes")


def test_csv_tables_that_are_fifos_are_refused(tmp_path):
    os.mkfifo(tmp_path / "labels.csv")
    _refused(lambda: read_affectnet_mini(tmp_path), tmp_path / "labels.csv", "a FIFO")
    _refused(lambda: read_table(tmp_path / "labels.csv", "a table"), tmp_path / "labels.csv", "a FIFO")


# --------------------------------------------------------------------------------------------
# pixel bombs
# --------------------------------------------------------------------------------------------
def test_pixel_bomb_is_refused_from_its_header(tmp_path):
    f = write_png_header(tmp_path / "bomb.png", 20000, 20000)
    assert f.stat().st_size < 100_000
    # Pillow refuses it from the header before we see its size: its DecompressionBombError becomes our error
    _refused(lambda: read_face_image(f), f, f"at most {MAX_FACE_PIXELS} pixels", "400000000 pixels")
    small = write_png_header(tmp_path / "small.png", 9000, 9000)  # 81 Mpx: under Pillow's limits, over ours
    _refused(lambda: read_image(small), small, f"at most {MAX_FACE_PIXELS} pixels", "9000 x 9000 = 81000000")
    # with our limit raised, Pillow's warning (over 89 Mpx) is turned into the package's error too
    mid = write_png_header(tmp_path / "mid.png", 10000, 10000)
    _refused(lambda: read_face_image(mid, max_pixels=10**9), mid, "Pillow's decompression-bomb limit",
             "100000000 pixels")


def test_pixel_limit_is_a_parameter(tmp_path):
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "a.png")
    assert read_face_image(tmp_path / "a.png", max_pixels=600).shape == (20, 30)
    _refused(lambda: read_face_image(tmp_path / "a.png", max_pixels=599), tmp_path / "a.png", "30 x 20 = 600")


# --------------------------------------------------------------------------------------------
# FERPlus cells, empty results
# --------------------------------------------------------------------------------------------
HAPPY = [0, 8, 1, 0, 0, 0, 0, 0, 1, 0]


def _cells(n=3):
    return [" ".join(str((i * 7 + k) % 256) for k in range(2304)) for i in range(n)]


def test_ferplus_pixel_of_5000_digits(tmp_path):
    cells = _cells()
    vals = cells[1].split(" ")
    vals[10] = "9" * 5000
    root = write_ferplus(tmp_path / "fp", [HAPPY] * 3, [cells[0], " ".join(vals), cells[2]])
    _refused(lambda: read_ferplus(root), root / "fer2013.csv", "integers 0-255", f"{'9' * 20!r} on line 3")
    vals[10] = "0" * 4998 + "17"  # leading zeros: the value 17
    root = write_ferplus(tmp_path / "zeros", [HAPPY] * 3, [cells[0], " ".join(vals), cells[2]])
    fs = read_ferplus(root)
    assert fs.images[1].ravel()[10] == 17 and fs.images[1].ravel()[11] == (7 + 11) % 256


def test_ferplus_quoted_cell_holding_two_images(tmp_path):
    cells = _cells()
    root = write_ferplus(tmp_path / "fp", [HAPPY] * 3, [cells[0], f'"{cells[1]}\n{cells[2]}"', cells[2]])
    _refused(lambda: read_ferplus(root), root / "fer2013.csv", "a line break inside the quoted cell on line 3")


@pytest.mark.parametrize("votes, counts", [([0] * 10, "all 3 rows dropped (no_votes 3)"),
                                           ([0, 2, 0, 0, 0, 0, 0, 0, 8, 0], "all 3 rows dropped (unknown 3)")])
def test_ferplus_left_empty_by_the_label_rules(tmp_path, votes, counts):
    root = write_ferplus(tmp_path / "fp", [votes] * 3, _cells())
    _refused(lambda: read_ferplus(root), root / "fer2013new.csv", "at least one row kept by the label rules",
             counts)


def test_affectnet_left_empty_by_the_label_rules(tmp_path):
    lists = tmp_path / "Manually_Annotated_file_lists"
    lists.mkdir()
    (tmp_path / "Manually_Annotated_Images").mkdir()
    for name, codes in (("training.csv", (8, 9)), ("validation.csv", (10, 3))):
        rows = [f"1/{i}.jpg,0,0,{0 if code == 3 else 96},96,,{code},0.1,0.1\n" for i, code in enumerate(codes)]
        (lists / name).write_text(",".join(AFFECTNET_HEADER) + "\n" + "".join(rows))
    msg = _refused(lambda: read_affectnet(tmp_path), lists, "at least one image kept", "none of 4 rows")
    assert re.search(r"none 1, uncertain 1, non_face 1, empty_face_box 1", msg), msg
