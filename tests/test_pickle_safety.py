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
from neuroaffect.io._pickle import ALLOWED_GLOBALS, UnsafePickleError, load_arrays_hashed, safe_load
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
    expected = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("__builtin__", "bytes"),
                ("builtins", "bytes")}
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
    with pytest.raises(UnsafePickleError, match=r"numpy\.dtype called with str 'O8'"):  # before io.open is met
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


# --------------------------------------------------------------------------------------------
# the allow-list is checked by (module, name): numpy's own callables are gadgets too
# --------------------------------------------------------------------------------------------
def _numpy_gadgets(marker, inner):
    code = f"open({str(marker)!r}, 'w').close()"
    return [("numpy", "load", (str(inner), None, True)), ("numpy", "memmap", (str(marker), "u1", "w+", 0, (1,))),
            ("numpy", "savetxt", (str(marker), [0])), ("numpy.testing", "runstring", (code, {})),
            ("numpy.lib.format", "open_memmap", (str(marker), "w+", "u1", (1,))),
            ("builtins", "open", (str(marker), "w"))]


@pytest.mark.parametrize("protocol", range(6))
def test_numpy_module_gadgets_are_refused_in_every_call_form(tmp_path, protocol):
    """``numpy.load`` & co. sit in the modules of admitted globals: only the exact pairs are admitted."""
    from reliability.pickle_corpus import Call, Glob, assemble

    forms = ["reduce", "inst", "ref"] + ["obj"] * (protocol >= 1) + ["newobj"] * (protocol >= 2) \
        + ["reduce_global", "newobj_ex"] * (protocol >= 4)
    ran = []
    for k, form in enumerate(forms):
        for j, (module, name, args) in enumerate(_numpy_gadgets(tmp_path / "m", tmp_path / "i")):
            marker, inner = tmp_path / f"marker_{k}_{j}", tmp_path / f"inner_{k}_{j}.pkl"
            args = _numpy_gadgets(marker, inner)[j][2]
            inner.write_bytes(pickle.dumps(_Reduce(open, str(marker), "w"), protocol=2))
            obj = {"data": Glob(module, name)} if form == "ref" else Call(module, name, args, form)
            f = tmp_path / f"g_{k}_{j}.dat"
            f.write_bytes(assemble(protocol, obj))
            with pytest.raises(UnsafePickleError) as err:
                safe_load(f)
            assert f"{module}.{name} " in str(err.value) and str(f) in str(err.value), str(err.value)
            assert not marker.exists()
            if form in ("reduce", "reduce_global", "inst", "obj"):  # the same bytes run under pickle itself
                try:
                    pickle.loads(f.read_bytes())
                except Exception:  # noqa: BLE001 - only whether the payload ran matters here
                    pass
                ran.append(marker.exists())
    assert ran and all(ran)


def test_find_class_admits_the_exact_pairs_only():
    from neuroaffect.io._pickle import NumpyOnlyUnpickler
    from numpy._core import multiarray

    up = NumpyOnlyUnpickler(io.BytesIO(b"."), fname="x.dat")
    for module, name in ALLOWED_GLOBALS:
        assert repr(up.find_class(module, name)) == f"{module}.{name}"
    for module, obj in (("numpy", np), ("numpy._core.multiarray", multiarray), ("numpy.core.multiarray", multiarray),
                        ("_codecs", __import__("_codecs")), ("builtins", __import__("builtins"))):
        others = [n for n in dir(obj) if (module, n) not in ALLOWED_GLOBALS]
        assert len(others) > 10
        for name in others:
            with pytest.raises(UnsafePickleError, match=rf"x\.dat: .*the global {module}\.{name} \(refused"):
                up.find_class(module, name)


def test_a_cached_extension_code_still_goes_through_the_allow_list(tmp_path):
    """copyreg caches resolved extension codes; a later load must not take the cached callable."""
    marker = tmp_path / "marker_ext_cache"
    code = 0xF3
    copyreg.add_extension("numpy.testing", "runstring", code)
    try:
        pickle.loads(b"\x80\x02\x82\xf3.")  # resolves (and caches) the code; calls nothing
        f = tmp_path / "ext.dat"
        f.write_bytes(b"\x80\x02\x82\xf3" + pickle.dumps((f"open({str(marker)!r}, 'w').close()", {}), 2)[2:-1]
                      + b"R.")
        with pytest.raises(UnsafePickleError, match=r"numpy\.testing\.runstring"):
            safe_load(f)
        assert not marker.exists()
        pickle.loads(f.read_bytes())  # unrestricted: it runs
        assert marker.exists()
    finally:
        copyreg.remove_extension("numpy.testing", "runstring", code)


# --------------------------------------------------------------------------------------------
# the admitted globals only in their roles: every array backed by bytes of the file
# --------------------------------------------------------------------------------------------
def _crafted(tmp_path, obj, protocol=2, name="s01.dat"):
    from reliability.pickle_corpus import assemble

    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir(exist_ok=True)
    f = folder / name
    f.write_bytes(assemble(protocol, obj))
    return f


def test_ndarray_is_never_called(tmp_path):
    """A 1.4 KB s01.dat of ``numpy.ndarray(shape, 'f8')`` calls was read as 40 trials of zeros."""
    from reliability.pickle_corpus import Call

    f = _crafted(tmp_path, {"data": Call("numpy", "ndarray", ((40, 40, 8064), "f8")),
                            "labels": Call("numpy", "ndarray", ((40, 4), "f8"))})
    assert f.stat().st_size < 2000
    for load in (lambda: safe_load(f), lambda: read_deap(tmp_path, ratings=False)):
        with pytest.raises(UnsafePickleError, match=r"s01\.dat: .*numpy\.ndarray called directly"):
            load()


def test_zero_stride_view_is_refused(tmp_path):
    from reliability.pickle_corpus import Call

    f = _crafted(tmp_path, {"data": Call("numpy", "ndarray", ((40, 40, 8064), "f8", bytes(8), 0, (0, 0, 0))),
                            "labels": Call("numpy", "ndarray", ((40, 4), "f8"))}, protocol=3)
    with pytest.raises(UnsafePickleError, match="numpy.ndarray called directly"):
        read_deap(f, ratings=False)


def test_reconstruct_admits_only_the_empty_stub(tmp_path):
    from reliability.pickle_corpus import CORE, Call, Glob

    for args in (((Glob("numpy", "ndarray"), (10**9,), b"f8")), (Glob("numpy", "dtype"), (0,), b"b"),
                 (Glob("numpy", "ndarray"), (0,), b"f8")):
        f = _crafted(tmp_path, Call(f"{CORE}.multiarray", "_reconstruct", args))
        with pytest.raises(UnsafePickleError, match=r"_reconstruct called with other arguments"):
            safe_load(f)


def test_arrays_add_up_to_at_most_the_file_size(tmp_path):
    """The same bytes memoised and reused for many arrays are refused before any is allocated."""
    from reliability.pickle_corpus import Get, Put, array, dtype

    one = bytes(1 << 16)
    obj = {"a0": array((1 << 13,), dtype("f8"), Put(one, 1)),
           **{f"a{i}": array((1 << 13,), dtype("f8"), Get(1)) for i in range(1, 4)}}
    f = _crafted(tmp_path, obj, protocol=3)
    size = f.stat().st_size
    with pytest.raises(DatasetFormatError, match=rf"expected arrays of at most {size} bytes in all"):
        safe_load(f)
    assert load_arrays_hashed(f) is None
    # once is fine: the bytes back exactly one array
    g = _crafted(tmp_path, {"a0": array((1 << 13,), dtype("f8"), one)}, protocol=3, name="s02.dat")
    assert safe_load(g)["a0"].nbytes == len(one)


@pytest.mark.parametrize("code", ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"])
@pytest.mark.parametrize("order", ["<", ">"])
def test_plain_numeric_dtypes_load_in_both_byte_orders(tmp_path, code, order):
    a = np.arange(6).reshape(2, 3).astype(np.dtype(code).newbyteorder(order))
    for protocol in (0, 2, 4, 5):
        out = safe_load(_dump(tmp_path / "a.pkl", {"a": a}, protocol))["a"]
        assert out.dtype.newbyteorder("=") == a.dtype.newbyteorder("=")
        np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("code", ["O8", "V8", "S8", "U8", "M8", "m8", "f16", "c32", "i3", "f8,f8"])
def test_other_dtypes_are_refused_when_built(tmp_path, code):
    from reliability.pickle_corpus import Call

    f = _crafted(tmp_path, Call("numpy", "dtype", (code, False, True)))
    with pytest.raises(UnsafePickleError, match=rf"numpy\.dtype called with str '{code}'"):
        safe_load(f)


def test_dtype_states_with_fields_offsets_or_subarrays_are_refused_when_set(tmp_path):
    """A ``V8`` with a field at offset 1 MiB crashes numpy when cast: refused at its state."""
    from reliability.pickle_corpus import array, dtype

    f8 = dtype("f8")
    states = [(3, "|", None, ("a",), {"a": (f8, 1 << 20)}, 8, 1, 16),  # fields at an offset
              (3, "<", (f8, (1000, 1000)), None, None, -1, -1, 0),  # subarray
              (3, "<", None, None, None, 1 << 20, 8, 0),  # element size
              (4, "<", None, None, None, -1, -1, 0, {"a": 1})]  # metadata
    for state in states:
        f = _crafted(tmp_path, {"data": array((4,), dtype("f8", state=state), bytes(32))})
        with pytest.raises(UnsafePickleError, match=r"numpy\.dtype given the state"):
            safe_load(f)


def test_dtype_state_is_set_once_and_before_use(tmp_path):
    from reliability.pickle_corpus import Build, Call, Get, Put, array, dtype

    f = _crafted(tmp_path, array((1,), Call("numpy", "dtype", ("f8", False, True)), bytes(8)))
    with pytest.raises(UnsafePickleError, match=r"given the numpy.* \(admitted: a plain numeric numpy.dtype"):
        safe_load(f)
    f = _crafted(tmp_path, {"a": array((1,), Put(dtype("f8"), 3), bytes(8)),
                            "b": Build(Get(3), (3, ">", None, None, None, -1, -1, 0))})
    with pytest.raises(UnsafePickleError, match=r"object state \(BUILD\) set on a numpy"):
        safe_load(f)


@pytest.mark.parametrize("what", ["codec", "deep_dtype", "huge_length", "huge_bytearray", "huge_shape"])
def test_faults_inside_admitted_globals_end_in_project_errors(tmp_path, what):
    """LookupError, RecursionError and MemoryError escaped before; each names the file now."""
    from reliability.pickle_corpus import Call, Raw, array, dtype, val

    obj = {
        "codec": Call("_codecs", "encode", ("abc", "no-such-codec")),
        "deep_dtype": Call("numpy", "dtype", (Raw((b"](" + val(2, "a")) * 5000 + val(2, "f8") + b"\x86e" * 5000),
                                              False, True)),
        "huge_length": Raw(b"\x8e" + (1 << 62).to_bytes(8, "little") + b"xx"),
        "huge_bytearray": Raw(b"\x96" + (1 << 40).to_bytes(8, "little") + b"xx"),
        "huge_shape": array((1 << 40,), dtype("f8"), bytes(8)),
    }[what]
    f = _crafted(tmp_path, obj, protocol=5)
    with pytest.raises(DatasetFormatError) as err:
        safe_load(f)
    assert str(err.value).startswith(f"{f}: expected ")
    with pytest.raises(DatasetFormatError, match=str(f)):
        read_deap(f, ratings=False)


def test_scalar_and_frombuffer_obey_the_same_rules(tmp_path):
    from reliability.pickle_corpus import CORE, Call, dtype

    ok = {"s": np.float32(2.5), "i": np.int64(-3), "a": np.arange(4.0)}
    out = safe_load(_dump(tmp_path / "ok.pkl", ok, 5))
    assert out["s"] == np.float32(2.5) and out["s"].dtype == np.float32 and out["i"] == -3
    np.testing.assert_array_equal(out["a"], ok["a"])
    bad = [Call(f"{CORE}.multiarray", "scalar", (dtype("f8"), b"abc")),
           Call(f"{CORE}.multiarray", "scalar", (dtype("V1048576", "|"), b"")),
           Call(f"{CORE}.numeric", "_frombuffer", (bytearray(8), dtype("f8"), (10**12,), "C")),
           Call(f"{CORE}.numeric", "_frombuffer", (bytearray(8), dtype("f8"), (1,), "K")),
           Call(f"{CORE}.numeric", "_frombuffer", (bytearray(8), dtype("O8", "|"), (1,), "C"))]
    for obj in bad:
        f = _crafted(tmp_path, obj, protocol=5)
        with pytest.raises(DatasetFormatError, match=str(f)):
            safe_load(f)


@pytest.mark.parametrize("protocol", range(6))
def test_zero_size_arrays_pickled_by_python3_load(tmp_path, protocol):
    """``b''`` is pickled as ``bytes()`` below protocol 3: it was refused as unsafe."""
    d = {"data": np.zeros((0, 40, 10)), "labels": np.zeros((0, 4)), "e": np.zeros((3, 0), np.int16)}
    out = safe_load(_dump(tmp_path / "z.pkl", d, protocol))
    for k, v in d.items():
        assert out[k].shape == v.shape and out[k].dtype == v.dtype


# --------------------------------------------------------------------------------------------
# the opcode fast path: same rules, real DEAP files still take it
# --------------------------------------------------------------------------------------------
def test_real_deap_layout_takes_the_fast_path(sim_root):
    from neuroaffect._utils import sha256_file

    f = sim_root("deap") / "data_preprocessed_python" / "s01.dat"
    fast = load_arrays_hashed(f)
    assert fast is not None
    arrays, digest = fast
    assert digest == sha256_file(f)
    slow = safe_load(f, encoding="bytes")
    assert set(arrays) == set(slow) == {b"data", b"labels"}
    for k in arrays:
        np.testing.assert_array_equal(arrays[k], slow[k])


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_fast_path_reads_python3_pickles_of_arrays(tmp_path, protocol):
    d = _arrays(3)
    f = _dump(tmp_path / "a.dat", d, protocol)
    fast = load_arrays_hashed(f)
    if protocol == 2:  # bytes as _codecs.encode: left to the unpickler
        assert fast is None
        return
    for k in d:
        np.testing.assert_array_equal(fast[0][k], d[k])


def test_fast_path_applies_a_memoised_dtype_state_to_every_array(tmp_path):
    """cPickle memoises a dtype before its state: the second array must see the state too."""
    from reliability.pickle_corpus import Build, Call, Get, Put, array

    d = _arrays(4)
    be = {k: v.astype(">f8") for k, v in d.items()}
    f8be = Build(Put(Call("numpy", "dtype", ("f8", False, True)), 7), (3, ">", None, None, None, -1, -1, 0))
    f = _crafted(tmp_path, {"data": array(be["data"].shape, f8be, be["data"].tobytes()),
                            "labels": array(be["labels"].shape, Get(7), be["labels"].tobytes())})
    fast = load_arrays_hashed(f)
    assert fast is not None
    for k in d:
        np.testing.assert_array_equal(fast[0][k], d[k])
        np.testing.assert_array_equal(safe_load(f)[k], d[k])


def test_fast_path_declines_aliased_and_unbuilt_arrays(tmp_path):
    from reliability.pickle_corpus import CORE, Call, Get, Glob, Put, array, dtype

    a = array((2,), dtype("f8"), Put(np.arange(2.0).tobytes(), 1))  # read into an array, then memoised
    aliased = {"data": a, "labels": array((2,), dtype("f8"), Get(1))}
    unbuilt = {"data": Call(f"{CORE}.multiarray", "_reconstruct", (Glob("numpy", "ndarray"), (0,), b"b"))}
    f = _crafted(tmp_path, aliased, protocol=3)
    assert load_arrays_hashed(f) is None
    out = safe_load(f)  # the unpickler decides: two arrays from the same 16 bytes fit the file's size
    np.testing.assert_array_equal(out["data"], out["labels"])
    assert not np.shares_memory(out["data"], out["labels"])
    f = _crafted(tmp_path, unbuilt, protocol=3)
    assert load_arrays_hashed(f) is None
    with pytest.raises(DatasetFormatError, match=rf"{f}: expected every reconstructed array followed by its state"):
        safe_load(f)


@pytest.mark.parametrize("tail", [b"\x00", b"garbage after the end", "second pickle"])
def test_bytes_after_stop_are_refused(tmp_path, tail):
    """A DEAP file with anything after its pickle's STOP (an appended payload, a second pickle) was read."""
    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir()
    f = folder / "s01.dat"
    with open(f, "wb") as fh:
        write_py2_pickle(fh, _arrays(5))
    body = f.read_bytes()
    extra = pickle.dumps({"x": 1}, protocol=2) if tail == "second pickle" else tail
    f.write_bytes(body + extra)
    stop_at = len(body) - 1
    assert body[stop_at:] == pickle.STOP
    for load in (lambda: safe_load(f), lambda: read_deap(tmp_path, ratings=False)):
        with pytest.raises(DatasetFormatError) as err:
            load()
        msg = str(err.value)
        assert str(f) in msg and "STOP" in msg and f"{len(extra)} more bytes" in msg, msg
        assert f"at byte {stop_at} of {len(body) + len(extra)}" in msg, msg
    assert load_arrays_hashed(f) is None  # the fast path leaves it to the unpickler, which refuses it
