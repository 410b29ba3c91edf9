"""Opening the files of a face dataset: regular files only, with a size cap, and images by bit depth.

Every face reader and ``predict-faces`` read images with :func:`read_face_image` and text with
:func:`open_regular` / :func:`read_small_text`. A FIFO, a device or a folder is refused from its
``stat`` before it is opened for reading (reading a FIFO waits forever, ``/dev/zero`` never ends);
an image larger than :data:`MAX_FACE_PIXELS` is refused from its header, before it is decoded; an
image of 16 bits or of floats is scaled to 0-255 by its depth and value range, never clipped. Every
refusal is a :class:`~neuroaffect._utils.DatasetFormatError` naming the file, what was expected and
what was found (``FileNotFoundError`` for a missing file). Rules: ``docs/formats.md``, face section.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import numpy as np

from ..._utils import DatasetFormatError

__all__ = ["IMAGE_FORMATS", "MAX_FACE_PIXELS", "MAX_TABLE_BYTES", "open_regular", "read_face_image",
           "read_small_text"]

#: Largest image read, in pixels (width x height): 50 megapixels, far above any photograph of the
#: face datasets (AffectNet's largest are a few megapixels) and below Pillow's own bomb limit.
MAX_FACE_PIXELS = 50_000_000
#: Largest CSV table read, in bytes (FER2013's ``fer2013.csv`` is 287 MB).
MAX_TABLE_BYTES = 4 << 30
#: Image formats decoded (Pillow's names); others (EPS, which runs Ghostscript, PSD, ...) are refused.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
#: Modes converted to RGB (colour) and to L (grey) by Pillow without loss of range.
_COLOUR_MODES = ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "P", "PA")
_GREY_MODES = ("1", "L", "LA", "La")


def _kind(mode: int) -> str | None:
    """What a non-regular file is (``"a FIFO (named pipe)"`` ...), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(fname, what: str, *, max_bytes: int | None = None):
    """Open ``fname`` for binary reading if it is a regular file of at most ``max_bytes`` bytes.

    The file's ``stat`` (links followed) is checked before it is opened, and again on the open
    descriptor, so that a FIFO or device is never read (it is opened, if at all, non-blocking).

    Parameters
    ----------
    fname : path-like
    what : str
        What the file should be, for the messages (e.g. ``"a CK+ emotion file"``).
    max_bytes : int | None
        Largest size accepted; None accepts any size.

    Returns
    -------
    f : io.BufferedReader
        The open file (the caller closes it).

    Raises
    ------
    FileNotFoundError
        No such file.
    DatasetFormatError
        A folder, FIFO, device or socket, a file over ``max_bytes``, or a path the system refuses.
    """
    fname = Path(fname)
    try:
        st = os.stat(fname)
    except FileNotFoundError:
        raise FileNotFoundError(f"{fname}: expected {what}, but found no such file") from None
    except (OSError, ValueError) as err:
        raise DatasetFormatError(fname, what, f"a path that cannot be opened ({err})") from None
    _check_stat(st, fname, what, max_bytes)
    try:
        fd = os.open(fname, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{fname}: expected {what}, but found no such file") from None
    except (OSError, ValueError) as err:
        raise DatasetFormatError(fname, what, f"a path that cannot be opened ({err})") from None
    try:
        _check_stat(os.fstat(fd), fname, what, max_bytes)  # the file may have changed since the stat
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_stat(st, fname, what: str, max_bytes: int | None) -> None:
    kind = _kind(st.st_mode)
    if kind is not None:
        raise DatasetFormatError(fname, f"{what} (a regular file)", kind)
    if max_bytes is not None and st.st_size > max_bytes:
        raise DatasetFormatError(fname, f"{what} of at most {max_bytes} bytes", f"{st.st_size} bytes")


def read_small_text(fname, what: str, *, max_bytes: int = 1 << 16, encoding: str = "ascii") -> str:
    """The text of a small regular file (at most ``max_bytes``), decoded strictly.

    Raises ``FileNotFoundError`` for a missing file and
    :class:`~neuroaffect._utils.DatasetFormatError` for anything but a regular file of at most
    ``max_bytes`` bytes of ``encoding`` text.
    """
    with open_regular(fname, what, max_bytes=max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after the stat
        raise DatasetFormatError(fname, f"{what} of at most {max_bytes} bytes", "a larger file")
    try:
        return data.decode(encoding, errors="strict")
    except UnicodeDecodeError as err:
        raise DatasetFormatError(fname, f"{what} ({encoding} text)", f"undecodable bytes at byte {err.start}") from None


def read_face_image(fname, *, grey: bool = False, max_pixels: int = MAX_FACE_PIXELS) -> np.ndarray:
    """Read one face image as uint8, converting by bit depth and value range.

    Conversions (``docs/formats.md``, face section): 8-bit grey and colour as stored; palette
    images through their palette; alpha dropped (the stored colour is kept); 1-bit to 0/255;
    16-bit grey (``I;16``, and ``I`` of a stated 16-bit depth) scaled by 255/65535 and rounded; 32-bit float
    grey (``F``) scaled by 255 when its values lie in [0, 1], kept when they lie in [0, 255]. Any
    other mode or range (negative, NaN, 32-bit integers, ...) is refused.

    Parameters
    ----------
    fname : path-like
        A regular file in one of :data:`IMAGE_FORMATS` (only the first frame is read).
    grey : bool
        Convert colour to grey (Pillow's ``L``: ITU-R BT.601 luma). Without it a grey image is
        returned as (H, W) and any other as (H, W, 3).
    max_pixels : int
        Largest width x height accepted, checked from the header before any pixel is decoded.

    Returns
    -------
    image : ndarray of uint8, shape (H, W) (grey) or (H, W, 3) (RGB)

    Raises
    ------
    DatasetFormatError
        The file is missing, not a regular file, not a readable image of a known format, larger
        than ``max_pixels``, or of a mode or value range with no conversion to 0-255.
    """
    from PIL import Image, UnidentifiedImageError

    fname = Path(fname)
    try:
        f = open_regular(fname, "an image file")
    except FileNotFoundError:
        raise DatasetFormatError(fname, "an image file", "no such file") from None
    expected = f"a readable image ({', '.join(IMAGE_FORMATS)})"
    try:
        with f, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f, formats=IMAGE_FORMATS) as im:
                w, h = im.size
                if w * h > max_pixels or w <= 0 or h <= 0:
                    raise DatasetFormatError(fname, f"an image of at most {max_pixels} pixels (width x height)",
                                             f"{w} x {h} = {w * h} pixels")
                return _to_uint8(im, fname, grey)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:  # Pillow's own header check
        raise DatasetFormatError(fname, f"an image of at most {max_pixels} pixels (width x height) and within "
                                 "Pillow's decompression-bomb limit", f"a larger image ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as err:
        if isinstance(err, DatasetFormatError):
            raise
        raise DatasetFormatError(fname, expected, f"an unreadable file ({type(err).__name__}: {err})") from None


def _int_bits(im) -> int | None:
    """Stated bit depth (8 or 16) of a Pillow ``I`` image: 16 for PNG and PPM (their only ``I``
    images), TIFF's ``BitsPerSample``; None otherwise (a 32-bit integer image has no stated range)."""
    if im.format in ("PNG", "PPM"):
        return 16
    if im.format == "TIFF":
        bps = im.tag_v2.get(258)
        bps = bps[0] if isinstance(bps, tuple) and bps else bps
        return bps if bps in (8, 16) else None
    return None


def _to_uint8(im, fname, grey: bool) -> np.ndarray:
    """The pixels of the opened Pillow image ``im`` as uint8 (see :func:`read_face_image`)."""
    mode = im.mode
    if mode in _GREY_MODES:
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode in _COLOUR_MODES:
        rgb = im.convert("RGBA").convert("RGB") if mode in ("P", "PA") else im.convert("RGB")
        return np.asarray(rgb.convert("L") if grey else rgb, dtype=np.uint8)
    if mode.startswith("I;16") or mode == "I":
        bits = 16 if mode.startswith("I;16") else _int_bits(im)
        if bits is None:
            raise DatasetFormatError(fname, "grey integer pixels of a stated depth of 8 or 16 bits",
                                     f"Pillow mode I from {im.format} with no such depth (32-bit integers?)")
        a = np.asarray(im).astype(np.int64)
        top = (1 << bits) - 1
        if a.ndim != 2 or a.size == 0 or a.min() < 0 or a.max() > top:
            raise DatasetFormatError(fname, f"grey integer pixels of {bits} bits (0-{top})",
                                     f"mode {mode} with values in [{a.min()}, {a.max()}]" if a.size else "no pixels")
        return np.round(a * (255.0 / top)).astype(np.uint8)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        finite = np.isfinite(a).all()
        hi = float(a.max()) if finite else np.nan
        if a.ndim != 2 or not finite or a.min() < 0 or hi > 255:
            found = "NaN or infinite values" if not finite else f"values in [{a.min():g}, {hi:g}]"
            raise DatasetFormatError(fname, "float pixels in [0, 1] or [0, 255]", f"mode F with {found}")
        return np.round(a * 255.0 if hi <= 1.0 else a).astype(np.uint8)
    raise DatasetFormatError(fname, "an image of 8-bit grey or colour, palette, 16-bit grey or float grey pixels",
                             f"Pillow mode {mode}")
