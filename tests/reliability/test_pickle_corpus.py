"""The crafted-pickle corpus: every file refused (or, if legitimate, read exactly), nothing run.

All cases load in one subprocess under an address-space limit (``RLIMIT_AS``), through the three
ways the package reads a pickle: ``safe_load``, the opcode fast path ``load_arrays_hashed`` and
``read_deap`` on the file as ``data_preprocessed_python/s01.dat``. A crash, a hang or an
allocation beyond the limit ends the subprocess early, which fails these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from reliability.pickle_corpus import cases, marker_dir, marker_for, runs_unrestricted

#: Address-space limit of the loading subprocess (numpy and the package need ~150 MB).
AS_LIMIT = 2 << 30
TESTS_DIR = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pickle_corpus")
    listing = cases(tmp)
    listing_file = tmp / "listing.json"
    listing_file.write_text(json.dumps([[n, str(p), e] for n, p, e in listing]))
    res = subprocess.run(
        [sys.executable, "-m", "reliability.pickle_corpus", str(listing_file), str(tmp / "deap"), str(AS_LIMIT)],
        cwd=TESTS_DIR, env=ENV, capture_output=True, text=True, timeout=600,
    )
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    done = lines[-1] if lines and lines[-1].get("done") else None
    records = [r for r in lines if "loader" in r]
    markers = sorted(os.listdir(marker_dir(tmp)))  # before anything else may run a payload
    return {"tmp": tmp, "listing": listing, "res": res, "done": done, "records": records, "markers": markers}


@pytest.mark.slow
def test_corpus_covers_every_category_protocol_and_call_form(corpus):
    names = [n for n, _, _ in corpus["listing"]]
    kinds = Counter(n.split("/")[0] for n in names)
    assert kinds["gadget"] >= 400 and kinds["opcode"] >= 30 and kinds["abuse"] >= 40 and kinds["amplify"] >= 10
    assert kinds["read"] >= 15
    gadgets = [n.split("/") for n in names if n.startswith("gadget/")]
    assert {p for *_, p in gadgets} == {f"p{i}" for i in range(6)}
    assert {f for _, _, f, _ in gadgets} == {"reduce", "reduce_global", "inst", "obj", "newobj", "newobj_ex",
                                            "ref", "hidden"}
    numpy_targets = {t for _, t, _, _ in gadgets if t.startswith("numpy")}
    assert {"numpy.load", "numpy.memmap", "numpy.savetxt", "numpy.testing.runstring"} <= numpy_targets
    assert all(e in ("reject", "read") for _, _, e in corpus["listing"])


def test_loader_subprocess_ran_every_case_under_the_limit_and_exited_cleanly(corpus):
    res, done = corpus["res"], corpus["done"]
    assert res.returncode == 0, (res.returncode, res.stderr[-3000:])
    assert done is not None and done["rlimit_as"] == AS_LIMIT
    assert done["f8_unchanged"]  # no pickle changed numpy's own float64 dtype
    assert len(corpus["records"]) == 3 * len(corpus["listing"])


def test_no_payload_ran(corpus):
    assert corpus["markers"] == []


def test_no_foreign_exception_escapes(corpus):
    escapes = [(r["name"], r["loader"], r["message"]) for r in corpus["records"] if r["outcome"] == "escape"]
    assert escapes == []


def test_every_crafted_file_is_refused_naming_the_file(corpus):
    wrong = []
    for r in corpus["records"]:
        if r["expect"] != "reject":
            continue
        if r["loader"] == "load_arrays_hashed":
            ok = r["outcome"] == "declined"  # the fast path never reads a crafted file itself
        else:
            ok = r["outcome"] in ("refused", "rejected") and r["names_file"]
        if not ok:
            wrong.append((r["name"], r["loader"], r["outcome"], r.get("message")))
    assert wrong == []


def test_gadgets_are_refused_as_unsafe_by_name(corpus):
    wrong = []
    for r in corpus["records"]:
        if r["name"].startswith("gadget/") and r["loader"] != "load_arrays_hashed":
            target = r["name"].split("/")[1]
            if r["outcome"] != "refused" or f"{target} " not in r["message"] + " ":
                wrong.append((r["name"], r["loader"], r["outcome"], r.get("message")))
    assert wrong == []


def test_admitted_globals_outside_their_roles_are_refused_as_unsafe(corpus):
    wrong = [(r["name"], r["outcome"], r.get("message")) for r in corpus["records"]
             if r["loader"] == "safe_load" and r["name"].split("/")[1] in (
                 "ndarray-called-deap", "ndarray-zero-stride-view", "reconstruct-huge-shape",
                 "dtype-V8-field-offset", "dtype-f8-state-with-fields", "dtype-deep-spec", "codecs-unknown",
                 "codecs-hex-doubling", "bytes-with-size", "frombuffer-V-dtype")
             and r["outcome"] != "refused"]
    assert wrong == []


def test_legitimate_files_are_read_exactly(corpus):
    wrong = []
    for r in corpus["records"]:
        if r["expect"] != "read":
            continue
        deap_shaped = r["name"].startswith("read/deap-shaped")
        if r["loader"] == "safe_load":
            ok = r["outcome"] == "read" and r["matches"]
        elif r["loader"] == "load_arrays_hashed":
            ok = r["outcome"] == "declined" or (r["outcome"] == "read" and r["matches"])
        else:  # read_deap: DEAP-shaped files are read; others fail its layout checks, not the unpickler's
            ok = (r["outcome"] == "read" and r["matches"]) if deap_shaped else r["outcome"] in ("read", "rejected")
        if not ok:
            wrong.append((r["name"], r["loader"], r["outcome"], r.get("message")))
    assert wrong == []
    fast = {r["name"] for r in corpus["records"] if r["loader"] == "load_arrays_hashed" and r["outcome"] == "read"}
    assert {"read/deap-shaped/py2", "read/deap-shaped/p3", "read/deap-shaped/p4",
            "read/deap-shaped-big-endian-shared-dtype/p2"} <= fast


def test_the_gadgets_do_run_under_plain_pickle(corpus):
    """The corpus is live: the same bytes run their payload under ``pickle.load``."""
    live = [(n, str(p)) for n, p, _ in corpus["listing"] if runs_unrestricted(n)]
    assert len(live) >= 250
    code = (
        "import json, pickle, sys\n"
        "for name, path in json.load(open(sys.argv[1])):\n"
        "    try:\n"
        "        obj = pickle.load(open(path, 'rb'))\n"
        "    except BaseException:\n"
        "        continue\n"
        "    for o in (obj.values() if isinstance(obj, dict) else [obj]):\n"
        "        if hasattr(o, 'wait') and hasattr(o, 'pid'):\n"
        "            o.wait()  # subprocess.Popen\n"
    )
    listing = corpus["tmp"] / "live.json"
    listing.write_text(json.dumps(live))
    res = subprocess.run([sys.executable, "-c", code, str(listing)], cwd=corpus["tmp"], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    ran = set(os.listdir(marker_dir(corpus["tmp"])))
    missing = [n for n, _ in live if marker_for(corpus["tmp"], n).name not in ran]
    assert missing == []
