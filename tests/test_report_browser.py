"""The Snakemake report, opened in a real browser (headless Chromium).

A stub workflow in a temporary folder runs the project's report rules (workflow/rules/report.smk), its
landing page (workflow/report/workflow.rst), its captions and the real ``neuroaffect plot-sweep`` on small
hand-written inputs, then ``snakemake --report`` builds the page. Chromium renders it: the landing page, a
table and a figure shown in the page, and a screenshot; a network log and the page's own markup show
that nothing is loaded from anywhere but the file itself.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SWEEP = "deap_valence_binary_dgcnn_trial-holdout"

pytestmark = pytest.mark.slow


def _chromium() -> str:
    """The Chromium binary; skips the test (saying why) where none is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium not found (Debian: apt-get install chromium; .ci/run installs it when apt "
                "is available)")


STUB = """
configfile: "{root}/config/config.yaml"


report: "{root}/workflow/report/workflow.rst"


def benchmark_inputs(wc):
    return {{"run_sweep": ["bench/sweep.tsv"], "summarize": ["bench/summarize.tsv"]}}


def readme_sections(wc):  # compose_readme is not run here (tests/test_report.py covers it)
    return []


include: "{root}/workflow/rules/report.smk"


rule all:
    input:
        "reports/results.html",
        "reports/sweeps/{sweep}.html",
        "reports/sweeps/{sweep}.png",
        "reports/summary/deap.html",
        "reports/performance.html",


# as workflow/rules/training.smk's plot_sweep, on a hand-written sweep result
rule plot_sweep:
    input:
        "results/sweeps/deap/valence_binary_dgcnn_trial-holdout.json",
    output:
        report("reports/sweeps/{sweep}.png", caption="{root}/workflow/report/sweep_figure.rst",
               category="EEG models", subcategory="deap"),
    params:
        dataset="deap",
    shell:
        "neuroaffect plot-sweep --sweep {{input}} --out {{output}}"
"""

RESULTS_MD = """# Results (mean over subjects; every cell: window level / trial level)

| dataset | target | task | protocol | model | score | margin | majority / mean | logistic / ridge |
|---|---|---|---|---|---|---|---|---|
| deap | valence | binary | trial-holdout | dgcnn | 61.2 / 63.0 | +5.1 / +6.0 | 56.1 / 57.0 | 60.0 / 62.5 |
"""

SWEEP_MD = """# deap valence binary dgcnn trial-holdout

## window level

| model | accuracy | macro-F1 | balanced accuracy | n subjects |
|---|---|---|---|---|
| dgcnn | 61.2 ± 4.0 | 58.0 ± 3.0 | 59.0 ± 3.5 | 4 |
| majority | 56.1 ± 9.0 | 35.0 ± 3.0 | 50.0 ± 0.0 | 4 |
"""

BENCH = ("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
         "{s}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t1.0\n")


def _sweep_json():
    rng = np.random.default_rng(0)
    hist = [{"train_loss": list(np.linspace(1.0, 0.5, 6) + rng.normal(0, 0.02, 6)),
             "val_loss": list(np.linspace(0.9, 0.7, 6) + rng.normal(0, 0.02, 6))} for _ in range(3)]
    row = {"accuracy_mean": 0.612, "accuracy_std": 0.04}
    return {"metadata": {"dataset": "deap", "target": "valence", "task": "binary", "model": "dgcnn",
                         "protocol": "trial-holdout"},
            "model": "dgcnn", "task": "binary", "metrics": ["accuracy", "macro_f1", "balanced_accuracy"],
            "summary": {"window": {"dgcnn": row, "majority": {"accuracy_mean": 0.561},
                                   "logistic": {"accuracy_mean": 0.60}}},
            "histories": hist, "confusion": [[30, 20], [15, 35]]}


def _snakemake(workdir, *args):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg"}
    res = subprocess.run([str(BIN / "snakemake"), "-s", str(workdir / "Snakefile"), "--directory", str(workdir),
                          "--cores", "2", *args], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """(report.html, its results entries) of the stub workflow."""
    from neuroaffect.report import summary_markdown

    _chromium()  # no browser: skip before building anything
    wd = tmp_path_factory.mktemp("report")
    (wd / "Snakefile").write_text(STUB.format(root=ROOT.as_posix(), sweep=SWEEP))
    for name, text in {"reports/results.md": RESULTS_MD, f"reports/sweeps/{SWEEP}.md": SWEEP_MD,
                       "bench/sweep.tsv": BENCH.format(s=12.5, rss=900.0),
                       "bench/summarize.tsv": BENCH.format(s=2.0, rss=300.0),
                       "results/sweeps/deap/valence_binary_dgcnn_trial-holdout.json": json.dumps(_sweep_json()),
                       "reports/summary/deap.md": summary_markdown({
                           "dataset": "deap", "root": "results/sim/deap/deap", "n_subjects": 1, "n_trials": 2,
                           "n_chans": 32, "sfreq": 128.0, "trial_seconds": {"min": 60.0, "max": 60.0},
                           "peripheral_sfreq": {}, "subjects": [],
                           "labels": {"valence": {"range": [1, 9], "histogram": {"2": 1, "7": 1}}}})}.items():
        (wd / name).parent.mkdir(parents=True, exist_ok=True)
        (wd / name).write_text(text)
    _snakemake(wd)
    _snakemake(wd, "--report", "report.html")
    page = (wd / "report.html").read_text(encoding="utf-8")
    results = json.loads(re.search(r"var results = (\{.*?\});\s*</script>", page, re.S).group(1))
    return wd / "report.html", results


def _decode(data_uri: str) -> bytes:
    head, _, data = data_uri.partition(",")
    return base64.b64decode(data) if head.endswith(";base64") else data.encode()


class _Refs(HTMLParser):
    """Every URL an element would load: src / href of scripts, styles, images, frames and media."""

    LOADERS = {"script": "src", "img": "src", "iframe": "src", "frame": "src", "embed": "src", "source": "src",
               "audio": "src", "video": "src", "track": "src", "input": "src", "link": "href", "object": "data"}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.LOADERS and attrs.get(self.LOADERS[tag]):
            self.urls.append(attrs[self.LOADERS[tag]])
        if attrs.get("srcset"):
            self.urls.append(attrs["srcset"])


def _remote(html_text: str) -> list:
    p = _Refs()
    p.feed(html_text)
    return [u for u in p.urls if re.match(r"\s*(https?:|ftp:|ws:|wss:|//)", u, re.I)]


def _browse(url: str, tmp: Path, *args, name: str) -> tuple[str, list]:
    """Run headless Chromium on ``url``; return (stdout, URLs the page requested) from its network log."""
    chromium = _chromium()
    netlog = tmp / f"{name}.netlog.json"
    cmd = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
           f"--log-net-log={netlog}", "--virtual-time-budget=10000", *args, url]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    log = json.loads(netlog.read_text() or "{}")
    names = {v: k for k, v in log.get("constants", {}).get("logEventTypes", {}).items()}
    page_requests = []
    for ev in log.get("events", []):
        p = ev.get("params", {})
        # requests of the page (and its frames) have the file's site in their network isolation key; the
        # browser's own background requests have none ("not an origin")
        if names.get(ev["type"]) == "URL_REQUEST_START_JOB" and "file://" in p.get("network_isolation_key", ""):
            page_requests.append(p["url"])
    return res.stdout, page_requests


def _assert_local(requests):
    remote = [u for u in requests if not re.match(r"(file|data|blob|about|chrome):", u)]
    assert not remote, f"the report loaded from the network: {remote}"


def _inject(report_html: Path, script: str, out: Path) -> str:
    """A copy of the report that runs ``script`` once the app has rendered (as a click would)."""
    page = report_html.read_text(encoding="utf-8")
    hook = f"<script>window.addEventListener('load', () => setTimeout(() => {{ {script} }}, 200));</script>"
    head, tag, tail = page.rpartition("</body>")  # the last one: the bundled scripts hold the string too
    out.write_text(head + hook + tag + tail, encoding="utf-8")
    return out.as_uri()


def test_report_renders_tables_and_figures_and_loads_nothing(report, tmp_path):
    html_file, results = report
    page = html_file.read_text(encoding="utf-8")
    # the markup itself refers to no other host (scripts and styles are inline)
    assert not _remote(page)
    tables = {k: v for k, v in results.items() if v["mime_type"] == "text/html"}
    figures = {k: v for k, v in results.items() if v["mime_type"] == "image/png"}
    assert {Path(k).name for k in tables} >= {"results.html", f"{SWEEP}.html", "deap.html", "performance.html"}
    assert {Path(k).name for k in figures} == {f"{SWEEP}.png"}
    for k, v in tables.items():
        inner = _decode(v["data_uri"]).decode("utf-8")
        assert "<table>" in inner and not _remote(inner), k
        assert v["caption"].strip(), f"{k} has no caption"
    for k, v in figures.items():
        assert _decode(v["data_uri"]).startswith(b"\x89PNG\r\n\x1a\n"), k
    # captions follow the config: the shipped config simulates DEAP, and says so
    assert "simulated deap" in tables[next(k for k in tables if k.endswith(f"{SWEEP}.html"))]["caption"]

    # the landing page: rendered by the report's scripts, with the overview and every category in the menu
    dom, requests = _browse(html_file.as_uri(), tmp_path, "--dump-dom", name="landing")
    _assert_local(requests)
    assert "What ran." in dom and "Simulated deap" in dom and "Read an accuracy against its majority row" in dom
    for category in ("Data", "EEG models", "Performance"):
        assert f">{category}<" in dom, category

    shot = tmp_path / "report.png"
    _, requests = _browse(html_file.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1280,1600",
                          "--hide-scrollbars", name="screenshot")
    _assert_local(requests)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (1600, 1280) and img.std() > 5  # not a blank page

    # a table shown in the page, as a click on the results table shows it
    key = next(k for k in tables if k.endswith("results.html"))
    url = _inject(html_file, f"app.setView({{content: 'html', contentPath: results[{json.dumps(key)}].data_uri, "
                             f"resultPath: {json.dumps(key)}}});", tmp_path / "table_view.html")
    dom, requests = _browse(url, tmp_path, "--dump-dom", name="table")
    _assert_local(requests)
    assert re.search(r'<iframe[^>]+src="data:text/html', dom)
    # and what that frame holds, rendered on its own
    inner = tmp_path / "results_table.html"
    inner.write_bytes(_decode(tables[key]["data_uri"]))
    dom, requests = _browse(inner.as_uri(), tmp_path, "--dump-dom", name="table_page")
    _assert_local(requests)
    assert dom.count("<tr>") >= 2 and '<td class="num">61.2 / 63.0</td>' in dom

    # a figure shown in the page
    key = next(iter(figures))
    url = _inject(html_file, f"app.setView({{content: 'img', contentPath: results[{json.dumps(key)}].data_uri, "
                             f"resultPath: {json.dumps(key)}}});", tmp_path / "figure_view.html")
    dom, requests = _browse(url, tmp_path, "--dump-dom", name="figure")
    _assert_local(requests)
    assert re.search(r'<img[^>]+src="data:image/png;[^"]*base64,', dom)


def test_network_check_catches_a_remote_load(tmp_path):
    """The check above can fail: a page that fetches a script and an image is caught by both checks."""
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="https://example.com/x.png"><script src="//example.org/a.js"></script>'
                   "</body></html>")
    assert _remote(bad.read_text()) == ["https://example.com/x.png", "//example.org/a.js"]
    _, requests = _browse(bad.as_uri(), tmp_path, "--dump-dom", name="bad")
    with pytest.raises(AssertionError, match="loaded from the network"):
        _assert_local(requests)
