"""Fuzzed readers: every reader on corrupted variants of a small valid copy ends in a correct read or a
clean rejection; no foreign exception escapes, nothing hangs, memory stays bounded.

Each (reader, mutation) pair of :func:`reliability.mutate.targets` is one test; hypothesis draws the
mutation's parameters (offsets, byte masks, which trial, channel, row or column), seeded
(``derandomize``) so that every run tries the same variants. Each variant is read in a forked worker
under an address-space limit and a timeout (:func:`reliability.harness.run_case`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reliability import mutate
from reliability.harness import run_case

TARGETS = mutate.targets()
#: Parameter sets drawn per mutation: more where the draw is the whole mutation (offsets, masks).
EXAMPLES = {"truncate": 2, "flip": 2}
TIMEOUT_S = 30
PAIRS = [(name, i) for name, t in TARGETS.items() for i in range(len(t.mutations))]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """``prepared(name)``: the target's intact copy and the digests of its read, made once."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = mutate.prepare(TARGETS[name], tmp_path_factory.mktemp(name.replace("-", "_")))
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(TARGETS))
def test_intact_copy_reads(name, prepared):
    result = run_case(mutate.intact_case(prepared(name)), timeout_s=TIMEOUT_S)
    assert result.outcome == "read", result.detail


@pytest.mark.parametrize("name, index", PAIRS, ids=[f"{n}-{i:02d}-{TARGETS[n].mutations[i].name}" for n, i in PAIRS])
def test_mutation_is_read_correctly_or_refused(name, index, prepared, tmp_path):
    prep = prepared(name)
    mutation = prep.target.mutations[index]

    @settings(max_examples=EXAMPLES.get(mutation.name, 1), derandomize=True, database=None, deadline=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        def draw(lo, hi):
            return data.draw(st.integers(lo, hi))

        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            case = mutate.make_case(prep, mutation, draw, folder)
            result = run_case(case, timeout_s=TIMEOUT_S)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        assert result.outcome in ("read", "rejected"), f"{case.name} [{case.expect}]: {result.outcome}: {result.detail}"

    run()


def test_every_reader_and_every_kind_of_corruption_is_covered():
    """The harness covers the readers and the kinds of corruption the fault suite reports."""
    assert set(TARGETS) >= {"deap", "dreamer", "seed", "seed-iv", "mahnob", "ferplus", "affectnet-mini", "ckplus",
                            "features"}
    kinds = {m.name for t in TARGETS.values() for m in t.mutations}
    assert kinds >= {"truncate", "flip", "empty", "extension", "key", "shape", "dtype", "value", "size"}
    for name in ("deap", "dreamer", "seed", "mahnob", "amigos"):
        have = {m.name for m in TARGETS[name].mutations}
        assert have >= {"truncate", "flip", "empty", "key", "shape", "value", "size"}, name
