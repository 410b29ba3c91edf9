"""The restricted unpickler: numpy arrays load, anything else is refused before it runs."""

import copyreg
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.io._pickle import ALLOWED_GLOBALS, UnsafePickleError, safe_load
from neuroaffect.io.deap import read_deap
from neuroaffect.simulate.deap import write_py2_pickle

ENV_KEY = "NEUROAFFECT_PICKLE_PAYLOAD_RAN"


class _Reduce:
    """Pickles as ``func(*args)``: what a crafted file would call on load."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _dump(path, obj, protocol=2):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"data": rng.normal(size=(2, 40, 512)), "labels": rng.uniform(1, 9, (2, 4))}


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_pickles_load_under_every_protocol(tmp_path, protocol):
    d = _arrays()
    out = safe_load(_dump(tmp_path / "a.pkl", d, protocol))
    assert set(out) == {"data", "labels"}
    for k in d:
        np.testing.assert_array_equal(out[k], d[k])
        assert out[k].dtype == np.float64


def test_python2_style_pickle_needs_latin1_and_loads(tmp_path):
    d = _arrays(1)
    f = tmp_path / "s01.dat"
    with open(f, "wb") as fh:
        write_py2_pickle(fh, d)
    raw = f.read_bytes()
    assert raw[:2] == b"\x80\x02" and b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert len(raw) - sum(a.nbytes for a in d.values()) < 300  # raw bytes, no text re-encoding
    with pytest.raises(UnicodeDecodeError):  # like the real DEAP files under Python 3 defaults
        pickle.loads(raw)
    out = safe_load(f)
    for k in d:
        np.testing.assert_array_equal(out[k], d[k])
    keys = safe_load(f, encoding="bytes")
    assert set(keys) == {b"data", b"labels"}


def test_allowed_globals_are_exactly_numpy_reconstruction():
    expected = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
    for core in ("numpy.core", "numpy._core"):
        expected |= {(f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
                     (f"{core}.numeric", "_frombuffer")}
    assert ALLOWED_GLOBALS == expected


def test_os_system_payload_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "marker_system"
    payload = _Reduce(os.system, f"touch {marker}")
    f = _dump(tmp_path / "evil.dat", payload)
    with pytest.raises(UnsafePickleError) as err:
        safe_load(f)
    msg = str(err.value)
    assert str(f) in msg and f"{os.system.__module__}.system" in msg and "refused" in msg
    assert not marker.exists()
    # The same bytes do run under the unrestricted unpickler: the check above can fail.
    res = subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.load(open(sys.argv[1],'rb'))", str(f)],
                         capture_output=True)
    assert res.returncode == 0 and marker.exists()


def test_exec_payload_setting_env_var_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    payload = _Reduce(exec, f"import os; os.environ[{ENV_KEY!r}] = '1'")
    f = _dump(tmp_path / "evil.dat", payload)
    with pytest.raises(UnsafePickleError, match=r"(__builtin__|builtins)\.exec"):
        safe_load(f)
    assert ENV_KEY not in os.environ
    pickle.loads(f.read_bytes())  # unrestricted: it runs
    assert os.environ.get(ENV_KEY) == "1"


def test_payload_hidden_next_to_valid_arrays_is_refused_by_the_reader(tmp_path):
    marker = tmp_path / "marker_open"
    d = _arrays()
    d["labels"] = _Reduce(open, str(marker), "w")
    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir()
    f = _dump(folder / "s01.dat", d)
    with pytest.raises(UnsafePickleError) as err:
        read_deap(tmp_path, ratings=False)
    assert str(f) in str(err.value) and "io.open" in str(err.value)
    assert not marker.exists()


def test_object_array_payload_is_refused(tmp_path):
    marker = tmp_path / "marker_obj"
    arr = np.array([_Reduce(open, str(marker), "w")], dtype=object)
    f = _dump(tmp_path / "obj.dat", {"data": arr, "labels": np.ones((1, 4))})
    with pytest.raises(UnsafePickleError, match=r"io\.open"):
        safe_load(f)
    assert not marker.exists()


def test_refused_module_is_not_even_imported(tmp_path, capsys):
    code = (
        "import sys, pickle\n"
        "from neuroaffect.io._pickle import safe_load, UnsafePickleError\n"
        "assert 'this' not in sys.modules\n"
        "try:\n"
        "    safe_load(sys.argv[1])\n"
        "except UnsafePickleError as e:\n"
        "    print('REFUSED', e)\n"
        "print('IMPORTED' if 'this' in sys.modules else 'NOT_IMPORTED')\n"
    )
    f = tmp_path / "imp.dat"
    f.write_bytes(b"\x80\x02cthis\ns\nq\x00.")  # GLOBAL this.s (importing 'this' prints a poem)
    res = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "REFUSED" in res.stdout and "this.s" in res.stdout
    assert "NOT_IMPORTED" in res.stdout and "Beautiful is better" not in res.stdout


def test_extension_registry_goes_through_the_same_check(tmp_path):
    marker = tmp_path / "marker_ext"
    code = 0xF0
    copyreg.add_extension(open.__module__, "open", code)
    try:
        data = pickle.dumps(_Reduce(open, str(marker), "w"), protocol=2)
        assert b"\x82" + bytes([code]) in data  # EXT1 opcode, no GLOBAL
        f = tmp_path / "ext.dat"
        f.write_bytes(data)
        with pytest.raises(UnsafePickleError, match=r"io\.open"):
            safe_load(f)
    finally:
        copyreg.remove_extension(open.__module__, "open", code)
    assert not marker.exists()


def test_persistent_ids_are_refused(tmp_path):
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "pid" if isinstance(obj, str) and obj == "x" else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump({"data": "x"})
    f = tmp_path / "pid.dat"
    f.write_bytes(buf.getvalue())
    with pytest.raises(UnsafePickleError, match="persistent id"):
        safe_load(f)


def test_truncated_and_non_pickle_files(tmp_path):
    f = _dump(tmp_path / "full.dat", _arrays())
    raw = f.read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFormatError) as err:
        safe_load(cut)
    assert str(cut) in str(err.value) and "truncated" in str(err.value)
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"this is not a pickle at all\n" * 4)
    with pytest.raises(DatasetFormatError, match="junk.dat"):
        safe_load(junk)
    with pytest.raises(FileNotFoundError, match="missing.dat"):
        safe_load(tmp_path / "missing.dat")
