"""Export then load: a built grid written by ``export_prototype_grid`` comes back from ``load_grid``
with the same arrays and the same card (plus its checksums), through either array file, and the
same grid exports to the same bytes twice (``docs/prototypes.md``)."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest

from neuroaffect.prototypes import (
    ARRAYS, SCHEMA_VERSION, array_sha256, build_grid, export_prototype_grid, load_grid, ordering_test,
)
from neuroaffect.prototypes.io import write_grid_files


def _built(n=5, dim=6, seed=0):
    """A grid from two sources with some empty bins, and a card like the export's (provenance trimmed)."""
    rng = np.random.default_rng(seed)
    members = {}
    for name, m in (("dreamer", 30), ("mahnob", 12)):
        members[name] = (rng.standard_normal((m, dim)), rng.uniform(-1, 0.6, m), rng.uniform(-0.6, 1, m))
    g = build_grid(members, n)
    card = {"dim": dim, "grid_size": n, "axes": ["valence", "arousal"], "sources": ["dreamer", "mahnob"],
            "bin_edges": g.edges.tolist(), "bin_centres": g.centres.tolist(),
            "counts": {k: v.tolist() for k, v in g.counts.items()}, "filled": g.filled.astype(int).tolist(),
            "ordering": {"grid": ordering_test(g.prototypes, g.centres, ~g.filled, n_permutations=50)},
            "teacher": {"dataset": "dreamer", "note": "ünïcode survives"}}
    return SimpleNamespace(grid=g, card=card)


def _sha(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_export_then_load_gives_the_same_arrays_and_card(tmp_path):
    res = _built()
    g = res.grid
    assert g.filled.any() and not g.filled.all()  # the case with copied bins
    paths = export_prototype_grid(res, tmp_path / "grid")
    assert {p.name for p in paths.values()} == {"grid.safetensors", "grid.npz", "card.json"}
    loaded = [load_grid(tmp_path / "grid" / f) for f in ("", "grid.safetensors", "grid.npz", "card.json")]
    for lg in loaded:
        np.testing.assert_array_equal(lg.prototypes, g.prototypes)
        assert lg.prototypes.dtype == np.float32 and lg.prototypes.shape == (5, 5, 6)
        np.testing.assert_array_equal(lg.centres, g.centres)
        np.testing.assert_array_equal(lg.edges, g.edges)
        # counts stacked in the card's order of sources
        np.testing.assert_array_equal(lg.counts, np.stack([g.counts["dreamer"], g.counts["mahnob"]]))
        np.testing.assert_array_equal(lg.filled, g.filled)
        assert lg.filled.dtype == bool and lg.n == 5 and lg.dim == 6
        # the card: everything given, plus the schema version and the checksums
        added = {"schema_version", "arrays_sha256", "card_sha256"}
        assert set(lg.card) == set(res.card) | added
        assert {k: v for k, v in lg.card.items() if k not in added} == json.loads(json.dumps(res.card))
        assert lg.card["schema_version"] == SCHEMA_VERSION and set(lg.card["arrays_sha256"]) == set(ARRAYS)
        assert lg.sha256 == array_sha256(g.prototypes.astype(np.float32))
    assert loaded[0].card == loaded[2].card == json.loads((tmp_path / "grid" / "card.json").read_text())
    # the bins of the loaded grid are the grid's: a lookup returns the prototype of the bin the point is in
    np.testing.assert_array_equal(loaded[0].lookup(-0.45, 0.05), g.prototypes[1, 2])


def test_the_same_grid_exports_to_the_same_bytes_and_a_reload_re_exports_unchanged(tmp_path):
    res = _built(seed=1)
    export_prototype_grid(res, tmp_path / "a")
    export_prototype_grid(_built(seed=1), tmp_path / "b")
    assert _sha(tmp_path / "a") == _sha(tmp_path / "b")
    # a loaded grid written back (its card less what the export adds) gives the same files
    lg = load_grid(tmp_path / "a")
    card = {k: v for k, v in lg.card.items() if k not in ("schema_version", "arrays_sha256", "card_sha256")}
    arrays = {"prototypes": lg.prototypes, "centres": lg.centres, "edges": lg.edges, "counts": lg.counts,
              "filled": lg.filled.astype(np.uint8)}
    write_grid_files(tmp_path / "c", arrays, card)
    assert _sha(tmp_path / "c") == _sha(tmp_path / "a")
    # another grid: other bytes
    export_prototype_grid(_built(seed=2), tmp_path / "d")
    assert _sha(tmp_path / "d")["grid.npz"] != _sha(tmp_path / "a")["grid.npz"]


@pytest.mark.parametrize("n", [2, 3, 7])
def test_round_trip_at_other_grid_sizes(tmp_path, n):
    res = _built(n=n, dim=3, seed=n)
    export_prototype_grid(res, tmp_path)
    lg = load_grid(tmp_path)
    assert lg.prototypes.shape == (n, n, 3) and lg.counts.shape == (2, n, n)
    np.testing.assert_array_equal(lg.prototypes, res.grid.prototypes)
    np.testing.assert_array_equal(lg.filled, res.grid.filled)
    assert lg.bin_centres().shape == (n * n, 2)
