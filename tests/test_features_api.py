"""The public names of ``neuroaffect.features``, loaded lazily from their submodules."""

import importlib
import subprocess
import sys

import pytest

import neuroaffect.features as features


def test_every_public_name_is_its_submodules_object():
    assert "extract_features" in features.__all__ and "make_topomaps" in features.__all__
    for name in features.__all__:
        module = importlib.import_module(f"neuroaffect.features.{features._MODULE[name]}")
        assert getattr(features, name) is getattr(module, name), name
    assert set(features.__all__) <= set(dir(features))
    with pytest.raises(AttributeError, match="no attribute 'nosuchname'"):
        features.nosuchname  # noqa: B018


@pytest.mark.slow
def test_figures_do_not_import_the_extraction_stack():
    """A sweep's figure needs the topomap geometry only: scipy.signal, xarray and the physiology code
    (what extraction needs) stay unloaded."""
    code = ("import sys, neuroaffect.viz, neuroaffect.features as f; f.make_topomaps; "
            "print(sorted(m for m in ('scipy.signal', 'xarray', 'neurokit2', 'neuroaffect.features.bde') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
