"""A permanent corpus of crafted pickles, and a runner that loads every one of them.

:func:`cases` writes the files: code-execution gadgets across protocols 0-5 and every way a
pickle calls something (``GLOBAL``/``STACK_GLOBAL`` with ``REDUCE``, ``INST``, ``OBJ``,
``NEWOBJ``, ``NEWOBJ_EX``, a bare reference, a gadget next to valid arrays), opcode tricks
(persistent ids, extension codes, ``BUILD`` on other objects, memo tricks, out-of-band
buffers, deep nesting), the admitted globals outside their roles (``numpy.ndarray`` called,
views, ``V`` dtypes with field offsets, deep dtype specs, other codecs), amplification (declared
lengths and shapes far beyond the file, the same bytes used for many arrays), and the few
legitimate pickles that must be read (zero-size arrays, every plain numeric dtype, both byte
orders, Fortran order, scalars, DEAP-shaped dicts).

Each gadget writes ``marker_dir(tmp_dir) / <case>`` if it runs: a correct loader leaves that
folder empty, and :func:`runs_unrestricted` names the cases whose bytes do run under
``pickle.load`` (so the corpus is live). A case to be read has its expected arrays in
``<file>.npz``.

:func:`main` loads every case with ``safe_load``, ``load_arrays_hashed`` and ``read_deap`` (the
file as ``sNN.dat`` of a DEAP folder) in this process, under an address-space limit, and prints
one JSON record per case and loader.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shlex
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Where gadgets write their markers, below the corpus folder.
MARKERS = "markers"
#: Forms of a call that run a function under ``pickle.load`` (``NEWOBJ`` runs only classes' ``__new__``).
_CALLING_FORMS = ("reduce", "reduce_global", "inst", "obj", "hidden")
N_BASE = 384  # DEAP baseline samples


# --------------------------------------------------------------------------------------------
# a small pickle assembler
# --------------------------------------------------------------------------------------------
@dataclass
class Glob:
    """A reference to ``module.name``; ``opcode``: ``GLOBAL``, ``STACK_GLOBAL`` or by protocol."""

    module: str
    name: str
    opcode: str | None = None


@dataclass
class Call:
    """``module.name(*args)`` through one opcode form."""

    module: str
    name: str
    args: tuple = ()
    form: str = "reduce"  # reduce | reduce_global | inst | obj | newobj | newobj_ex
    kwargs: dict = field(default_factory=dict)


@dataclass
class Reduce:
    """``REDUCE`` of any stack value (not only a global) with ``args``."""

    func: object
    args: object


@dataclass
class Build:
    """``obj`` then ``state`` then ``BUILD``."""

    obj: object
    state: object


@dataclass
class Put:
    """``obj``, memoised at ``index``."""

    obj: object
    index: int


@dataclass
class Get:
    """The memo entry at ``index``."""

    index: int


@dataclass
class Raw:
    """Opcode bytes as given."""

    data: bytes


@dataclass
class Seq:
    """Several values pushed in turn (for stack tricks)."""

    items: tuple


def _str_p0(s: str) -> bytes:
    for a, b in (("\\", "\\u005c"), ("\0", "\\u0000"), ("\n", "\\u000a"), ("\r", "\\u000d"), ("\x1a", "\\u001a")):
        s = s.replace(a, b)
    return b"V" + s.encode("raw-unicode-escape") + b"\n"


def _int(p: int, x: int) -> bytes:
    if p == 0:
        return b"I%d\n" % x
    if 0 <= x < 256:
        return b"K" + bytes([x])
    if 0 <= x < 65536:
        return b"M" + struct.pack("<H", x)
    if -(1 << 31) <= x < (1 << 31):
        return b"J" + struct.pack("<i", x)
    if p >= 2:
        data = x.to_bytes((x.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(data)]) + data
    return b"L%dL\n" % x


def _glob(p: int, g: Glob) -> bytes:
    if g.opcode == "STACK_GLOBAL" or (g.opcode is None and p >= 4):
        return val(p, g.module) + val(p, g.name) + b"\x93"
    return b"c" + g.module.encode() + b"\n" + g.name.encode() + b"\n"


def _items(p: int, xs) -> bytes:
    return b"".join(val(p, x) for x in xs)


def val(p: int, x) -> bytes:
    """Opcodes (protocol ``p``) that push ``x``."""
    if isinstance(x, Raw):
        return x.data
    if isinstance(x, Seq):
        return _items(p, x.items)
    if x is None:
        return b"N"
    if isinstance(x, bool):
        return (b"\x88" if x else b"\x89") if p >= 2 else (b"I01\n" if x else b"I00\n")
    if isinstance(x, int):
        return _int(p, x)
    if isinstance(x, float):
        return b"G" + struct.pack(">d", x) if p >= 1 else b"F%r\n" % x
    if isinstance(x, str):
        data = x.encode("utf-8", "surrogatepass")
        if p == 0:
            return _str_p0(x)
        if p >= 4 and len(data) < 256:
            return b"\x8c" + bytes([len(data)]) + data
        return b"X" + struct.pack("<I", len(data)) + data
    if isinstance(x, bytearray) and p >= 5:
        return b"\x96" + struct.pack("<Q", len(x)) + bytes(x)
    if isinstance(x, (bytes, bytearray)):
        x = bytes(x)
        if p >= 3:
            return (b"C" + bytes([len(x)]) if len(x) < 256 else b"B" + struct.pack("<I", len(x))) + x
        if p == 0:  # a Python 2 str
            return b"S'" + x.decode("latin1").encode("unicode-escape").replace(b"'", b"\\'") + b"'\n"
        return (b"U" + bytes([len(x)]) if len(x) < 256 else b"T" + struct.pack("<i", len(x))) + x
    if isinstance(x, tuple):
        if p >= 2 and 1 <= len(x) <= 3:
            return _items(p, x) + (b"\x85", b"\x86", b"\x87")[len(x) - 1]
        if p >= 1 and not x:
            return b")"
        return b"(" + _items(p, x) + b"t"
    if isinstance(x, list):
        if p == 0:
            return b"(" + _items(p, x) + b"l"
        return b"]" + (b"(" + _items(p, x) + b"e" if x else b"")
    if isinstance(x, dict):
        kv = [y for item in x.items() for y in item]
        if p == 0:
            return b"(" + _items(p, kv) + b"d"
        return b"}" + (b"(" + _items(p, kv) + b"u" if kv else b"")
    if isinstance(x, Glob):
        return _glob(p, x)
    if isinstance(x, Call):
        return _call(p, x)
    if isinstance(x, Reduce):
        return val(p, x.func) + val(p, x.args) + b"R"
    if isinstance(x, Build):
        return val(p, x.obj) + val(p, x.state) + b"b"
    if isinstance(x, Put):
        put = (b"p%d\n" % x.index if p == 0 else
               b"q" + bytes([x.index]) if x.index < 256 else b"r" + struct.pack("<I", x.index))
        return val(p, x.obj) + put
    if isinstance(x, Get):
        return (b"g%d\n" % x.index if p == 0 else
                b"h" + bytes([x.index]) if x.index < 256 else b"j" + struct.pack("<I", x.index))
    raise TypeError(f"cannot assemble {type(x).__name__}")


def _call(p: int, c: Call) -> bytes:
    g = Glob(c.module, c.name)
    if c.form == "reduce":
        return _glob(p, g) + val(p, tuple(c.args)) + b"R"
    if c.form == "reduce_global":
        return _glob(p, Glob(c.module, c.name, "GLOBAL")) + val(p, tuple(c.args)) + b"R"
    if c.form == "inst":
        return b"(" + _items(p, c.args) + b"i" + c.module.encode() + b"\n" + c.name.encode() + b"\n"
    if c.form == "obj":
        return b"(" + _glob(p, g) + _items(p, c.args) + b"o"
    if c.form == "newobj":
        return _glob(p, g) + val(p, tuple(c.args)) + b"\x81"
    if c.form == "newobj_ex":
        return _glob(p, g) + val(p, tuple(c.args)) + val(p, dict(c.kwargs)) + b"\x92"
    raise ValueError(c.form)


def assemble(p: int, obj) -> bytes:
    """A whole pickle of protocol ``p`` whose object is ``obj``."""
    return (b"\x80" + bytes([p]) if p >= 2 else b"") + val(p, obj) + b"."


# --------------------------------------------------------------------------------------------
# pieces of numpy's own pickles
# --------------------------------------------------------------------------------------------
CORE = "numpy._core"


def dtype(code, state_order="<", copy=True, state=None):
    """``numpy.dtype(code, False, copy)`` with its ``BUILD`` state."""
    state = (3, state_order, None, None, None, -1, -1, 0) if state is None else state
    return Build(Call("numpy", "dtype", (code, False, copy)), state)


def array(shape, dt, data, fortran=False, core=CORE, typecode=b"b"):
    """``_reconstruct(ndarray, (0,), 'b')`` with the state ``(1, shape, dt, fortran, data)``."""
    stub = Call(f"{core}.multiarray", "_reconstruct", (Glob("numpy", "ndarray"), (0,), typecode))
    return Build(stub, (1, tuple(shape), dt, fortran, data))


def _arr_node(a: np.ndarray, p: int):
    order = {"=": "<" if sys.byteorder == "little" else ">", "|": "|"}.get(a.dtype.byteorder, a.dtype.byteorder)
    code = f"{a.dtype.kind}{a.dtype.itemsize}"
    data = np.ascontiguousarray(a).tobytes()
    if p < 3:  # bytes as Python 3 pickles them below protocol 3
        data = Call("_codecs", "encode", (data.decode("latin1"), "latin1")) if data else Call("__builtin__", "bytes")
    return array(a.shape, dtype(code, order), data)


def _deap_arrays(seed=0, n_trials=2):
    """A valid DEAP ``sNN.dat`` dict: a baseline and one second of noise in uV, ratings in [1, 9]."""
    rng = np.random.default_rng(seed)
    return {"data": rng.normal(0, 10, (n_trials, 40, N_BASE + 128)),
            "labels": rng.uniform(1, 9, (n_trials, 4)).round(2)}


def _py2_bytes(arrays: dict) -> bytes:
    from neuroaffect.simulate.deap import write_py2_pickle

    buf = io.BytesIO()
    write_py2_pickle(buf, arrays)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------------------------
def _gadgets(marker: Path, inner: Path) -> list:
    """``(module, name, args)`` of gadgets that write ``marker`` (``inner``: a pickle for numpy.load)."""
    m = str(marker)
    code = f"open({m!r}, 'w').close()"
    touch = f"touch {shlex.quote(m)}"
    return [
        ("posix", "system", (touch,)),
        ("os", "system", (touch,)),
        ("builtins", "eval", (code,)),
        ("__builtin__", "eval", (code,)),
        ("builtins", "exec", (code,)),
        ("builtins", "open", (m, "w")),
        ("subprocess", "check_call", (["touch", m],)),
        ("subprocess", "Popen", (["touch", m],)),  # a class, whose __new__ runs nothing
        ("numpy", "load", (str(inner), None, True)),
        ("numpy", "memmap", (m, "u1", "w+", 0, (1,))),
        ("numpy", "savetxt", (m, [0])),
        ("numpy.testing", "runstring", (code, {})),
        ("numpy.lib.format", "open_memmap", (m, "w+", "u1", (1,))),
    ]


def _forms(p: int) -> list[str]:
    forms = ["reduce", "inst", "ref"]
    if p >= 1:
        forms.append("obj")
    if p >= 2:
        forms += ["newobj", "hidden"]
    if p >= 4:
        forms += ["reduce_global", "newobj_ex"]
    return forms


def runs_unrestricted(name: str) -> bool:
    """True if the gadget case ``name`` runs its payload under plain ``pickle.load``."""
    if not name.startswith("gadget/"):
        return False
    _, target, form, proto = name.split("/")
    if target.startswith("__builtin__.") and int(proto[1:]) > 2:
        return False  # Python 2 names are mapped to builtins only below protocol 3
    return form in _CALLING_FORMS or (form in ("newobj", "newobj_ex") and target == "numpy.memmap")


def marker_dir(tmp_dir: Path) -> Path:
    """The folder of the markers gadgets write if they run (empty after a correct load)."""
    return Path(tmp_dir) / MARKERS


def marker_for(tmp_dir: Path, name: str) -> Path:
    """The marker file the gadget case ``name`` writes if it runs."""
    return marker_dir(tmp_dir) / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _gadget_cases(tmp_dir: Path, out: Path) -> list:
    cases = []
    small = np.arange(6.0).reshape(2, 3)
    for p in range(6):
        for form in _forms(p):
            for k in range(len(_gadgets(Path(), Path()))):
                module, fname = _gadgets(Path(), Path())[k][:2]
                name = f"gadget/{module}.{fname}/{form}/p{p}"
                marker, inner = marker_for(tmp_dir, name), out / "inner" / f"{len(cases)}.pkl"
                args = _gadgets(marker, inner)[k][2]
                if module == "numpy" and fname == "load":
                    inner.parent.mkdir(exist_ok=True)
                    inner.write_bytes(assemble(2, Call("posix", "system", (f"touch {shlex.quote(str(marker))}",))))
                if form == "ref":
                    obj = {"data": Glob(module, fname)}
                elif form == "hidden":
                    obj = {"data": _arr_node(small, p), "labels": Call(module, fname, args)}
                else:
                    obj = Call(module, fname, args, form)
                cases.append((name, assemble(p, obj), "reject"))
    return cases


def _opcode_cases() -> list:
    ok_dt = dtype("f8")
    good = array((2,), ok_dt, np.arange(2.0).tobytes())
    deep_tuple = b"\x80\x02)" + b"\x85" * 220_000  # 220k nested 1-tuples: hashing them crashes CPython
    nested = b")" + b"\x85" * 3  # ((((),),),): refused by the same rule, at a cost a test can afford
    return [
        ("opcode/persid/p0", b"Pfoo\n."),
        ("opcode/binpersid/p2", b"\x80\x02X\x03\x00\x00\x00fooQ."),
        ("opcode/ext1-unregistered/p2", b"\x80\x02\x82\xfe)R."),
        ("opcode/ext2-unregistered/p2", b"\x80\x02\x83\xf0\xff)R."),
        ("opcode/ext4-unregistered/p2", b"\x80\x02\x84\xf0\xff\xff\x7f)R."),
        ("opcode/build-on-dict/p2", assemble(2, Build({"a": 1}, {"__class__": 1}))),
        ("opcode/build-on-list-slotstate/p2", assemble(2, Build([1], (None, {"append": 1})))),
        ("opcode/build-on-global/p2", assemble(2, Build(Glob("numpy", "ndarray"), {"__reduce__": 1}))),
        ("opcode/build-on-scalar/p2", assemble(2, Build(Call(f"{CORE}.multiarray", "scalar",
                                                             (ok_dt, np.float64(1).tobytes())),
                                                        (1, (10**6,), ok_dt, False, b"")))),
        ("opcode/build-array-twice/p2", assemble(2, {"a": Put(good, 9),
                                                     "b": Build(Get(9), (1, (2,), dtype("f8"), False, bytes(16)))})),
        ("opcode/build-array-twice-grow/p2", assemble(2, {"data": Build(good, (1, (4,), ok_dt, False, bytes(32)))})),
        ("opcode/build-dtype-twice/p2", assemble(2, {"a": array((1,), Put(dtype("f8"), 3), bytes(8)),
                                                     "b": Build(Get(3), (3, ">", None, None, None, -1, -1, 0))})),
        ("opcode/dtype-used-before-state/p2", assemble(2, array((1,), Call("numpy", "dtype", ("f8", False, True)),
                                                              bytes(8)))),
        ("opcode/dtype-singleton-state/p2", assemble(2, dtype("f8", ">", copy=False))),
        ("opcode/setitem-on-array/p2", assemble(2, Seq((good, 0, 5.0, Raw(b"s"))))),
        ("opcode/append-on-bytearray/p5", b"\x80\x05\x96" + struct.pack("<Q", 2) + b"abK\x01a."),
        ("opcode/memo-get-missing/p2", b"\x80\x02h\x05."),
        ("opcode/memo-long-get-huge/p2", b"\x80\x02j\xff\xff\xff\xff."),
        ("opcode/memo-put-empty-stack/p2", b"\x80\x02q\x00."),
        ("opcode/out-of-band-buffer/p5", b"\x80\x05\x97."),
        ("opcode/readonly-buffer/p5", b"\x80\x05\x97\x98."),
        ("opcode/unknown-opcode/p2", b"\x80\x02\xff."),
        ("opcode/protocol-6/p5", b"\x80\x06N."),
        ("opcode/stack-global-non-str/p4", b"\x80\x04K\x01K\x02\x93."),
        ("opcode/stack-global-deep-tuple/p4", b"\x80\x04)" + b"\x85" * 60_000 + b"\x8c\x04load\x93."),
        ("opcode/inst-admitted-dtype/p0", b"(S'f8'\nI0\nI1\ninumpy\ndtype\n."),
        ("opcode/obj-admitted-ndarray/p1", b"(cnumpy\nndarray\n(K\x00t" + b"o."),
        ("opcode/newobj-ndarray/p2", assemble(2, Call("numpy", "ndarray", ((1 << 20,), "f8"), "newobj"))),
        ("opcode/newobj-ex-dtype/p4", assemble(4, Call("numpy", "dtype", ("f8",), "newobj_ex", {"align": False}))),
        ("opcode/deep-tuple-key-setitems/p2", b"\x80\x02}(" + deep_tuple[2:] + b"K\x01u."),
        ("opcode/nested-tuple-key-setitem/p2", b"\x80\x02}" + nested + b"K\x01s."),
        ("opcode/nested-tuple-key-dict/p0", b"(" + nested + b"I1\nd."),
        ("opcode/nested-tuple-set-item/p4", b"\x80\x04\x8f(" + nested + b"\x90."),
        ("opcode/nested-tuple-frozenset/p4", b"\x80\x04(" + nested + b"\x91."),
        ("opcode/deep-list-result/p2", b"\x80\x02" + b"]" * 1000 + b"a" * 999 + b"."),
        ("opcode/unbuilt-array/p2", assemble(2, {"data": Call(f"{CORE}.multiarray", "_reconstruct",
                                                             (Glob("numpy", "ndarray"), (0,), b"b"))})),
        ("opcode/admitted-global-as-value/p2", assemble(2, {"data": Glob("numpy", "dtype")})),
        ("opcode/call-non-global/p2", assemble(2, Reduce(1, ()))),
        ("opcode/container-flood/p4", b"\x80\x04" + b"\x8f" * 300_000 + b"."),
        ("opcode/mark-flood/p2", b"\x80\x02" + b"(" * 300_000 + b"N."),
        ("opcode/truncated-array/p2", pickle.dumps({"data": np.ones(1000)}, protocol=2)[:-700]),
        ("opcode/empty-file/p0", b""),
        ("opcode/no-stop/p2", b"\x80\x02N"),
    ]


def _abuse_cases() -> list:
    f8 = dtype("f8")
    nd = Glob("numpy", "ndarray")
    # [('a', [('a', ... 'f8' ...)])] 5000 deep, assembled flat (numpy's parser of it recurses)
    spec_node = Raw((b"](" + val(2, "a")) * 5000 + val(2, "f8") + b"\x86e" * 5000)
    v8_fields = (3, "|", None, ("a",), {"a": (f8, 1 << 20)}, 8, 1, 16)
    cases = [
        ("abuse/ndarray-called-deap/p2", assemble(2, {"data": Call("numpy", "ndarray", ((40, 40, 8064), "f8")),
                                                      "labels": Call("numpy", "ndarray", ((40, 4), "f8"))})),
        ("abuse/ndarray-called-deap/p4", assemble(4, {"data": Call("numpy", "ndarray", ((40, 40, 8064), f8)),
                                                      "labels": Call("numpy", "ndarray", ((40, 4), f8))})),
        ("abuse/ndarray-zero-stride-view/p3", assemble(3, {"data": Call("numpy", "ndarray", (
            (40, 40, 8064), "f8", bytes(8), 0, (0, 0, 0))), "labels": Call("numpy", "ndarray", ((40, 4), "f8"))})),
        ("abuse/reconstruct-huge-shape/p2", assemble(2, Call(f"{CORE}.multiarray", "_reconstruct",
                                                             (nd, (10**9,), b"f8")))),
        ("abuse/reconstruct-shape-built/p2", assemble(2, Build(Call(f"{CORE}.multiarray", "_reconstruct",
                                                                    (nd, (1000,), b"b")),
                                                               (1, (0,), f8, False, b"")))),
        ("abuse/reconstruct-other-class/p2", assemble(2, Call(f"{CORE}.multiarray", "_reconstruct",
                                                              (Glob("numpy", "dtype"), (0,), b"b")))),
        ("abuse/reconstruct-numpy-core-spelling-huge/p2", assemble(2, Call("numpy.core.multiarray", "_reconstruct",
                                                                           (nd, (1 << 28,), "f8")))),
        ("abuse/dtype-V8-field-offset/p2", assemble(2, {"data": array((4,), dtype("V8", state=v8_fields), bytes(32)),
                                                        "labels": array((1, 4), f8, bytes(32))})),
        ("abuse/dtype-f8-state-with-fields/p2", assemble(2, array((4,), dtype("f8", state=v8_fields), bytes(32)))),
        ("abuse/dtype-subarray-state/p2", assemble(2, dtype("f8", state=(3, "<", (f8, (1000, 1000)), None, None,
                                                                         -1, -1, 0)))),
        ("abuse/dtype-metadata-state/p2", assemble(2, dtype("f8", state=(4, "<", None, None, None, -1, -1, 0,
                                                                         {"a": 1})))),
        ("abuse/dtype-big-elsize-state/p2", assemble(2, array((4,), dtype("f8", state=(3, "<", None, None, None,
                                                                                       1 << 20, 8, 0)), bytes(32)))),
        ("abuse/dtype-list-spec/p2", assemble(2, Call("numpy", "dtype", ([("a", "f8")], False, True)))),
        ("abuse/dtype-deep-spec/p2", assemble(2, Call("numpy", "dtype", (spec_node, False, True)))),
        ("abuse/dtype-bad-order/p2", assemble(2, dtype("f8", "<>"))),
        ("abuse/dtype-empty-order/p2", assemble(2, array((1,), dtype("f8", ""), bytes(8)))),
        ("abuse/dtype-align/p2", assemble(2, Call("numpy", "dtype", ("f8", True, True)))),
        ("abuse/codecs-unknown/p2", assemble(2, Call("_codecs", "encode", ("abc", "no-such-codec")))),
        ("abuse/codecs-utf16/p2", assemble(2, Call("_codecs", "encode", ("abc", "utf-16")))),
        ("abuse/codecs-errors-arg/p2", assemble(2, Call("_codecs", "encode", ("abc", "latin1", "strict")))),
        ("abuse/codecs-unencodable/p2", assemble(2, Call("_codecs", "encode", ("\u0100", "latin1")))),
        ("abuse/bytes-with-size/p2", assemble(2, Call("__builtin__", "bytes", (10**10,)))),
        ("abuse/bytes-of-gadget/p2", assemble(2, Call("builtins", "bytes", ("abc", "utf-8")))),
        ("abuse/scalar-wrong-size/p2", assemble(2, Call(f"{CORE}.multiarray", "scalar", (f8, b"abc")))),
        ("abuse/scalar-object-dtype/p2", assemble(2, Call(f"{CORE}.multiarray", "scalar",
                                                          (dtype("O8", "|"), Call("posix", "system", ("true",)))))),
        ("abuse/scalar-V-huge/p2", assemble(2, Call(f"{CORE}.multiarray", "scalar", (dtype("V1048576", "|"), b"")))),
        ("abuse/scalar-unbuilt-dtype/p2", assemble(2, Call(f"{CORE}.multiarray", "scalar",
                                                           (Call("numpy", "dtype", ("f8", False, True)), bytes(8))))),
        ("abuse/frombuffer-huge-shape/p5", assemble(5, Call(f"{CORE}.numeric", "_frombuffer",
                                                            (bytearray(8), f8, (10**12,), "C")))),
        ("abuse/frombuffer-order-K/p5", assemble(5, Call(f"{CORE}.numeric", "_frombuffer",
                                                         (bytearray(8), f8, (1,), "K")))),
        ("abuse/frombuffer-negative-dim/p5", assemble(5, Call(f"{CORE}.numeric", "_frombuffer",
                                                              (bytearray(8), f8, (-1,), "C")))),
        ("abuse/frombuffer-V-dtype/p5", assemble(5, Call(f"{CORE}.numeric", "_frombuffer", (
            bytearray(8), dtype("V8", "|", state=v8_fields), (1,), "C")))),
        ("abuse/array-state-short-data/p2", assemble(2, array((10**6,), f8, bytes(8)))),
        ("abuse/array-state-negative-dim/p2", assemble(2, array((-1, 8), f8, bytes(8)))),
        ("abuse/array-state-bool-dim/p2", assemble(2, array((True,), f8, bytes(8)))),
        ("abuse/array-state-list-data/p2", assemble(2, array((1,), dtype("O8", "|"), [Call("posix", "system",
                                                                                          ("true",))]))),
        ("abuse/array-state-four-tuple/p2", assemble(2, Build(Call(f"{CORE}.multiarray", "_reconstruct",
                                                                   (nd, (0,), b"b")), ((1,), f8, False, bytes(8))))),
        ("abuse/array-state-version-2/p2", assemble(2, Build(Call(f"{CORE}.multiarray", "_reconstruct",
                                                                  (nd, (0,), b"b")), (2, (1,), f8, False, bytes(8))))),
        ("abuse/array-state-longdouble/p2", assemble(2, array((1,), dtype("f16"), bytes(16)))),
        ("abuse/array-state-datetime/p2", assemble(2, array((1,), dtype("M8", state=(4, "<", None, None, None, -1,
                                                                                     -1, 0, ("s", 1, 1, 1))),
                                                            bytes(8)))),
        ("abuse/array-state-unicode/p3", assemble(3, array((1,), dtype("U8"), bytes(32)))),
    ]
    for code in ("O8", "V8", "S8", "U8", "M8", "m8", "f16", "c32", "i3", "b", "f8,f8"):
        cases.append((f"abuse/dtype-code-{code.replace(',', '_')}/p2", assemble(2, Call("numpy", "dtype",
                                                                                        (code, False, True)))))
    return cases


def _amplification_cases() -> list:
    f8 = dtype("f8")
    one_mib = bytes(1 << 20)
    again = Raw(val(3, array((1 << 17,), f8, Get(1))))  # assembled once, repeated
    reused = {"a0": array((1 << 17,), f8, Put(one_mib, 1)), **{f"a{i}": again for i in range(1, 3000)}}
    encode_again = Raw(val(2, Call("_codecs", "encode", (Get(1), "latin1"))))
    frombuffer_again = Raw(val(5, Call(f"{CORE}.numeric", "_frombuffer", (Get(1), f8, (1 << 17,), "C"))))
    hex_chain = b"\x80\x03C\x10" + bytes(16)
    for _ in range(40):
        hex_chain = b"\x80\x03c_codecs\nencode\n" + hex_chain[2:] + b"\x8c\x03hex\x86R"
    return [
        ("amplify/binbytes8/p4", b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"xx."),
        ("amplify/binbytes8-1gib/p4", b"\x80\x04\x8e" + struct.pack("<Q", 1 << 30) + b"xx."),
        ("amplify/binunicode8/p4", b"\x80\x04\x8d" + struct.pack("<Q", 1 << 62) + b"xx."),
        ("amplify/bytearray8/p5", b"\x80\x05\x96" + struct.pack("<Q", 1 << 40) + b"xx."),
        ("amplify/bytearray8-1gib/p5", b"\x80\x05\x96" + struct.pack("<Q", 1 << 30) + b"xx."),
        ("amplify/frame/p4", b"\x80\x04\x95" + struct.pack("<Q", 1 << 60) + b"N."),
        ("amplify/long4/p2", b"\x80\x02\x8b" + struct.pack("<i", (1 << 31) - 1) + b"xx."),
        ("amplify/binstring/p1", b"T" + struct.pack("<i", (1 << 31) - 1) + b"xx."),
        ("amplify/binbytes/p3", b"\x80\x03B" + struct.pack("<I", (1 << 32) - 1) + b"xx."),
        ("amplify/binunicode/p1", b"X" + struct.pack("<I", (1 << 32) - 1) + b"xx."),
        ("amplify/array-huge-shape/p2", assemble(2, array((1 << 40,), f8, bytes(8)))),
        ("amplify/array-shape-overflow/p3", assemble(3, array((1 << 33, 1 << 31), f8, b""))),
        ("amplify/array-bytes-reused-3gib/p3", assemble(3, reused)),
        ("amplify/codecs-hex-doubling/p3", hex_chain + b"."),
        ("amplify/codecs-encode-reused-3gib/p2", assemble(2, [
            Call("_codecs", "encode", (Put("\0" * (1 << 20), 1), "latin1")), *[encode_again] * 2999])),
        ("amplify/frombuffer-bytearray-reused/p5", assemble(5, {
            "a0": Call(f"{CORE}.numeric", "_frombuffer", (Put(bytearray(one_mib), 1), f8, (1 << 17,), "C")),
            **{f"a{i}": frombuffer_again for i in range(1, 3000)}})),
    ]


def _read_cases() -> list:
    """(name, pickle bytes, arrays expected) of legitimate pickles."""
    rng = np.random.default_rng(7)
    typed = {f"{np.dtype(c).name}{'_be' if c[0] == '>' else ''}": rng.integers(0, 100, (3, 2)).astype(c)
             for c in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
                       ">f8", ">i4", ">c16")}
    typed["fortran"] = np.asfortranarray(rng.normal(size=(3, 5)))
    typed["scalar"] = np.float64(3.5)
    typed["scalar_i4"] = np.int32(-7)
    empty = {"data": np.zeros((0, 40, 10)), "labels": np.zeros((0, 4)), "e1": np.zeros(0, ">i2"),
             "e2": np.zeros((3, 0), np.complex64)}
    out_cases = []
    for p in range(6):
        out_cases.append((f"read/zero-size/p{p}", pickle.dumps(empty, protocol=p), empty))
        out_cases.append((f"read/numeric-dtypes/p{p}", pickle.dumps(typed, protocol=p), typed))
    deap = _deap_arrays(3, n_trials=2)
    for p in (2, 3, 4, 5):
        out_cases.append((f"read/deap-shaped/p{p}", pickle.dumps(deap, protocol=p), deap))
    out_cases.append(("read/deap-shaped/py2", _py2_bytes(deap), deap))
    be = {"data": deap["data"].astype(">f8"), "labels": deap["labels"].astype(">f8")}
    # memoised between its REDUCE and its BUILD, as cPickle does: the second array reuses it
    f8be = Build(Put(Call("numpy", "dtype", ("f8", False, True)), 7), (3, ">", None, None, None, -1, -1, 0))
    raw = assemble(2, {"data": array(be["data"].shape, f8be, be["data"].tobytes()),
                       "labels": array(be["labels"].shape, Get(7), be["labels"].tobytes())})
    out_cases.append(("read/deap-shaped-big-endian-shared-dtype/p2", raw, be))
    return out_cases


def cases(tmp_dir: Path) -> list[tuple[str, Path, str]]:
    """Write the corpus below ``tmp_dir``; ``(name, file, expect)`` with ``expect`` "reject" or "read".

    A "read" case's expected arrays are in ``<file>.npz`` (its keys and values; scalars as 0-d
    arrays). Gadgets write ``marker_dir(tmp_dir) / <case>`` if they ever run.
    """
    tmp_dir = Path(tmp_dir)
    out = tmp_dir / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    marker_dir(tmp_dir).mkdir(exist_ok=True)
    listed = _gadget_cases(tmp_dir, out)
    listed += [(n, b, "reject") for n, b in _opcode_cases() + _abuse_cases() + _amplification_cases()]
    read = _read_cases()
    listed += [(n, b, "read") for n, b, _ in read]
    expected = {n: e for n, _, e in read}
    result = []
    for i, (name, data, expect) in enumerate(listed):
        path = out / f"{i:04d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.pkl"
        path.write_bytes(data)
        if expect == "read":
            np.savez(f"{path}.npz", **{k: np.asarray(v) for k, v in expected[name].items()})
        result.append((name, path, expect))
    names = [n for n, _, _ in result]
    assert len(set(names)) == len(names), "case names must be unique"
    return result


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
def _same(got, want_file: str) -> bool:
    if not isinstance(got, dict):
        return False
    got = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in got.items()}
    with np.load(want_file) as want:
        if set(got) != set(want.files):
            return False
        # numpy's own unpickling swaps big-endian arrays to native order; values and type must agree
        return all(np.asarray(got[k]).dtype.newbyteorder("=") == want[k].dtype.newbyteorder("=")
                   and np.asarray(got[k]).shape == want[k].shape and np.array_equal(np.asarray(got[k]), want[k])
                   for k in want.files)


def _outcome(fn, fname: Path) -> dict:
    from neuroaffect._utils import DatasetFormatError
    from neuroaffect.io._pickle import UnsafePickleError

    try:
        return {"outcome": "read", "value": fn()}
    except UnsafePickleError as err:
        return {"outcome": "refused", "message": str(err)[:400], "names_file": str(fname) in str(err)}
    except DatasetFormatError as err:
        return {"outcome": "rejected", "message": str(err)[:400], "names_file": str(fname) in str(err)}
    except BaseException as err:  # noqa: BLE001 - an escape is what this runner reports
        if isinstance(err, KeyboardInterrupt):
            raise
        return {"outcome": "escape", "message": f"{type(err).__name__}: {str(err)[:300]}"}


def run(listing: list[tuple[str, Path, str]], deap_dir: Path):
    """Load every case with each loader; yield one record (a dict) per case and loader."""
    from neuroaffect.io._pickle import load_arrays_hashed, safe_load
    from neuroaffect.io.deap import read_deap

    for i, (name, path, expect) in enumerate(listing):
        path = Path(path)
        rec = _outcome(lambda: safe_load(path), path)
        if rec["outcome"] == "read":
            value = rec.pop("value")
            rec["matches"] = _same(value, f"{path}.npz") if expect == "read" else None
        yield {"name": name, "expect": expect, "loader": "safe_load", **rec}

        rec = _outcome(lambda: load_arrays_hashed(path), path)
        if rec["outcome"] == "read":
            value = rec.pop("value")
            rec["outcome"] = "declined" if value is None else "read"
            rec["matches"] = _same(value[0], f"{path}.npz") if value is not None and expect == "read" else None
        yield {"name": name, "expect": expect, "loader": "load_arrays_hashed", **rec}

        dat = deap_dir / f"{i:04d}" / "data_preprocessed_python" / "s01.dat"
        dat.parent.mkdir(parents=True, exist_ok=True)
        if not dat.exists():
            os.link(path, dat)
        rec = _outcome(lambda: read_deap(dat, ratings=False), dat)
        if rec["outcome"] == "read":
            (r,) = rec.pop("value")
            want = dict(np.load(f"{path}.npz")) if expect == "read" else None
            rec["matches"] = bool(want is not None and "data" in want and np.array_equal(
                r.eeg, want["data"][:, :32, N_BASE:].astype(np.float64) * 1e-6))
        yield {"name": name, "expect": expect, "loader": "read_deap", **rec}


def main(argv: list[str] | None = None) -> int:
    """``python -m reliability.pickle_corpus LISTING.json DEAP_DIR [AS_LIMIT_BYTES]``: JSON lines out."""
    import resource

    argv = sys.argv[1:] if argv is None else argv
    listing = json.loads(Path(argv[0]).read_text())
    if len(argv) > 2:
        limit = int(argv[2])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    f8_before = np.dtype("f8").str
    for rec in run(listing, Path(argv[1])):
        print(json.dumps(rec), flush=True)
    print(json.dumps({"done": True, "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0],
                      "f8_unchanged": np.dtype("f8").str == f8_before}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
