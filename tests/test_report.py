"""The report's own pieces: Markdown tables as self-contained HTML, the Performance table from benchmark
files, reports/README.md, class names in the data summary."""

from __future__ import annotations

import re

import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.cli import main
from neuroaffect.report import (
    benchmark_table, benchmarks_markdown, compose_readme, markdown_to_html, render_markdown, summary_markdown,
)

MD = """# deap valence binary dgcnn trial-holdout

Data: simulated, `snr 2`. <script src="https://example.com/x.js"></script>

| model | accuracy | n subjects |
|---|---|---|
| dgcnn | 61.2 ± 4.0 | 4 |
| majority | - / - | 4 |

![remote](https://example.com/x.png)
"""

BENCH_HEAD = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_markdown_tables_become_html_tables_that_load_nothing():
    page = markdown_to_html(MD)
    assert page.startswith("<!DOCTYPE html>") and "<title>deap valence binary dgcnn trial-holdout</title>" in page
    assert page.count("<table>") == 1 and "<th>accuracy</th>" in page
    assert '<td class="num">61.2 ± 4.0</td>' in page and '<td class="num">- / -</td>' in page
    assert "<td>dgcnn</td>" in page  # text stays left-aligned
    assert "<code>snr 2</code>" in page
    # raw HTML is escaped and image syntax stays text: nothing is loaded from another file or host
    assert "<script" not in page and "<img" not in page and "<link" not in page
    assert not re.search(r"""<[a-z]+[^>]*\ssrc\s*=""", page)


def test_render_markdown_writes_atomically_and_names_a_bad_file(tmp_path):
    md = tmp_path / "t.md"
    md.write_text(MD, encoding="utf-8")
    out = render_markdown(md, tmp_path / "out" / "t.html", title="T")
    assert out.read_text(encoding="utf-8").count("<table>") == 1 and "<title>T</title>" in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["t.html"]  # no temporary file left behind
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"| a |\n|---|\n| \xff\xfe |\n")
    with pytest.raises(DatasetFormatError, match=r"bad\.md: expected UTF-8 Markdown"):
        render_markdown(bad, tmp_path / "bad.html")


def _bench(path, wall, rss, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCH_HEAD + f"{wall}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")
    return path


def test_benchmark_table_sums_wall_time_and_keeps_the_largest_peak_memory(tmp_path):
    a = _bench(tmp_path / "sweeps/a.tsv", 10.5, 900.0, 9.0)
    b = _bench(tmp_path / "sweeps/b.tsv", 4.5, 1200.0, 4.0)
    c = _bench(tmp_path / "simulate/deap.tsv", 2.0, "NA", 1.0)  # too short for memory to be sampled
    df = benchmark_table({"run_sweep": [a, b], "simulate": [c], "unused": []})
    assert list(df["rule"]) == ["run_sweep", "simulate"]
    sweep = df.set_index("rule").loc["run_sweep"]
    assert sweep["jobs"] == 2 and sweep["wall_s_total"] == pytest.approx(15.0)
    assert sweep["wall_s_max"] == pytest.approx(10.5) and sweep["max_rss_mb"] == pytest.approx(1200.0)
    assert sweep["cpu_s_total"] == pytest.approx(13.0)
    md = benchmarks_markdown(df)
    assert "| run_sweep | 2 | 15.0 | 10.5 | 1200 | 13.0 |" in md
    assert "| simulate | 1 | 2.0 | 2.0 | - | 1.0 |" in md
    assert "| **all rules** | 3 | 17.0 | 10.5 | 1200 | 14.0 |" in md


def test_a_file_that_is_no_benchmark_is_refused_by_name(tmp_path):
    bad = tmp_path / "x.tsv"
    bad.write_text("wall\n3\n")
    with pytest.raises(DatasetFormatError, match=r"x\.tsv: expected a Snakemake benchmark file .* columns \['wall'\]"):
        benchmark_table({"r": [bad]})


def test_tabulate_benchmarks_command_groups_files_by_rule(tmp_path, capsys):
    a = _bench(tmp_path / "a.tsv", 3.0, 100.0, 2.0)
    b = _bench(tmp_path / "b.tsv", 5.0, 300.0, 4.0)
    out = tmp_path / "reports/performance"
    assert main(["tabulate-benchmarks", "--rule", "extract_features", str(a), str(b),
                 "--rule", "summarize", str(a), "--out", str(out)]) == 0
    md = (tmp_path / "reports/performance.md").read_text()
    assert "| extract_features | 2 | 8.0 | 5.0 | 300 | 6.0 |" in md and "| summarize | 1 | 3.0 |" in md
    assert (tmp_path / "reports/performance.csv").read_text().startswith("rule,jobs,wall_s_total")


def test_compose_readme_puts_each_report_under_one_title(tmp_path):
    one = tmp_path / "results.md"
    one.write_text("# Results\n\nText.\n\n## Protocol comparison\n\n| a |\n|---|\n| 1 |\n")
    two = tmp_path / "performance.md"
    two.write_text("# Performance\n\n| rule |\n|---|\n| x |\n")
    text = compose_readme([one, two], tmp_path / "README.md", intro="Demo run on simulated data.")
    assert (tmp_path / "README.md").read_text() == text
    heads = re.findall(r"^(#+) (.+)$", text, flags=re.M)
    assert heads == [("#", "Headline results"), ("##", "Results"), ("###", "Protocol comparison"),
                     ("##", "Performance")]
    assert text.index("Demo run on simulated data.") < text.index("## Results") < text.index("## Performance")


def test_data_summary_names_class_codes():
    """SEED's emotion codes appear with their names; ratings stay numbers."""
    base = {"root": "r", "n_subjects": 1, "n_trials": 3, "n_chans": 62, "sfreq": 200.0,
            "trial_seconds": {"min": 1.0, "max": 2.0}, "peripheral_sfreq": {}, "subjects": []}
    seed = summary_markdown({**base, "dataset": "seed",
                             "labels": {"emotion": {"range": [-1, 1], "histogram": {"-1": 1, "0": 1, "1": 1}}}})
    assert "negative (-1): 1, neutral (0): 1, positive (1): 1" in seed
    deap = summary_markdown({**base, "dataset": "deap",
                             "labels": {"valence": {"range": [1, 9], "histogram": {"1": 2, "9": 1}}}})
    assert "| valence | [1, 9] | 1: 2, 9: 1 |" in deap


def test_table_writer_rows_columns_and_formats():
    """The one pipe-table writer: rows as lists, mappings or a DataFrame; formats; missing values; empty cells."""
    import math

    import pandas as pd

    from neuroaffect.report import table, table_lines, table_row

    assert table([["a", 1], ["b", 2]], ["name", "n"]) == "| name | n |\n|---|---|\n| a | 1 |\n| b | 2 |"
    rows = [{"x": 0.12345, "y": None}, {"x": math.nan, "y": 3}]
    assert table_lines(rows, {"x": "score", "y": "count"}, {"x": ".2f", "y": ".0f"}) == [
        "| score | count |", "|---|---|", "| 0.12 | - |", "| - | 3 |"]
    df = pd.DataFrame({"rule": ["r"], "jobs": [2], "s": [1.25]})
    assert table_lines(df, {"rule": "rule", "s": "wall s"}, {"s": ".1f"})[2] == "| r | 1.2 |"
    assert table_lines(df, ["rule", "jobs"], {"jobs": lambda v: f"{v} jobs"})[2] == "| r | 2 jobs |"
    assert table_lines([], ["a", "b"]) == ["| a | b |", "|---|---|"]
    assert table_row(["a", "", "b"]) == "| a |  | b |"
    assert table_row(["a", "", "b"], tight_empty=True) == "| a | | b |"


def test_report_loads_its_modules_on_first_use():
    """``import neuroaffect.report`` and its pages import neither pandas nor torch (rendering stays cheap)."""
    import subprocess
    import sys

    code = ("import sys, neuroaffect.report, neuroaffect.report.pages; "
            "print(sorted(m for m in ('pandas', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    import neuroaffect.report as report

    assert {"table", "tabulate", "sweep_markdown", "ablation_markdown", "PUBLISHED", "render_markdown"} <= set(
        report.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        report.nothing  # noqa: B018


def _sweep_file(path, model, summary, records, task="binary"):
    import json

    meta = {"dataset": "deap", "target": "valence", "task": task, "model": model, "protocol": "trial-holdout"}
    path.write_text(json.dumps({"metadata": meta, "model": model, "task": "classification", "summary": summary,
                                "records": records, "folds": [{"trial_overlap": 0.0, "sample_overlap": 0.0}]}))
    return path


def test_results_md_gives_every_metric_of_every_row(tmp_path):
    """reports/results.md: the new metrics (kappa, weighted F1, AUROC) of the model and its reference rows,
    window / trial level, from the sweep's summary; undefined AUROC folds are counted; the headline table
    keeps its columns."""
    from neuroaffect.report.results import METRICS as REPORTED, tabulate
    from neuroaffect.training.metrics import METRICS

    assert REPORTED == METRICS
    full = {"accuracy": 0.6, "macro_f1": 0.55, "balanced_accuracy": 0.58, "cohen_kappa": 0.2, "weighted_f1": 0.57,
            "auroc": 0.71}
    row = {f"{m}_mean": v for m, v in full.items()} | {"n_units": 2}
    summary = {"window": {"net": row, "majority": {"accuracy_mean": 0.5, "cohen_kappa_mean": 0.0, "auroc_mean": 0.5},
                          "chance": {"accuracy_mean": 0.5, "auroc_mean": 0.5}, "net (shuffled labels)": row},
               "trial": {"net": {**row, "auroc_mean": None}}}
    records = [{"model": "net", "level": "trial", "auroc": None, "auroc_note": "test set lacks class(es) [1]"},
               {"model": "net", "level": "trial", "auroc": None, "auroc_note": "test set lacks class(es) [0]"},
               {"model": "net", "level": "window", "auroc": 0.71}]
    md = tabulate([_sweep_file(tmp_path / "s.json", "net", summary, records)], tmp_path / "results")
    head = ("| dataset | target | task | protocol | model | score | margin | majority / mean | logistic / ridge | "
            "chance | shuffled | oracle | trial overlap % | sample overlap % |")
    assert head in md
    assert ("| dataset | target | task | protocol | model | row | accuracy | macro-F1 | balanced accuracy | "
            "Cohen's kappa | weighted F1 | AUROC |") in md
    assert "| deap | valence | binary | trial-holdout | net | net | 60.0 / 60.0 | 55.0 / 55.0 | 58.0 / 58.0 | " \
           "0.200 / 0.200 | 57.0 / 57.0 | 0.710 / - |" in md
    assert "| net | majority | 50.0 / - | - / - | - / - | 0.000 / - | - / - | 0.500 / - |" in md
    assert "| net | chance | 50.0 / - |" in md and "| net | shuffled | 60.0 / - |" in md
    assert "| net | logistic |" not in md  # a row the sweep does not have is left out
    assert "net trial-holdout, net: 2 of 3" in md
    assert md.index("| row |") < md.index("AUROC undefined")
    csv = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert csv[-5:] == ["macro_f1", "balanced_accuracy", "cohen_kappa", "weighted_f1", "auroc"]


def test_sweep_table_gives_the_new_metrics_and_says_where_auroc_is_undefined():
    """The per-sweep table: kappa and AUROC with three decimals, weighted F1 in %, an AUROC undefined on a
    fold left out of its mean (and said so), '-' where it is undefined everywhere."""
    from neuroaffect.report import sweep_markdown
    from neuroaffect.training.results import SweepResult

    def rec(model, fold, auroc, note=None):
        r = {"subject": 1, "fold": fold, "model": model, "level": "window", "accuracy": 0.5 + 0.1 * fold,
             "macro_f1": 0.5, "balanced_accuracy": 0.5, "cohen_kappa": 0.1 * fold, "weighted_f1": 0.4,
             "auroc": auroc}
        return r | ({"auroc_note": note} if note else {})

    records = [rec("net", 0, 0.6), rec("net", 1, float("nan"), "test set lacks class(es) [1]"),
               rec("logistic", 0, float("nan"), "no class scores"), rec("logistic", 1, float("nan"), "no class scores")]
    folds = [{"subject": 1, "fold": f, "trial_overlap": 0.0, "sample_overlap": 0.0} for f in (0, 1)]
    res = SweepResult(model_name="net", protocol="trial-holdout", n_classes=2, records=records, folds=folds,
                      predictions=[], histories=[], config={})
    md = sweep_markdown(res)
    assert ("| model | accuracy | macro-F1 | balanced accuracy | Cohen's kappa | weighted F1 | AUROC | n subjects |"
            in md)
    assert "| net | 55.0 ± 0.0 | 50.0 ± 0.0 | 50.0 ± 0.0 | 0.050 ± 0.000 | 40.0 ± 0.0 | 0.600 ± 0.000 | 1 |" in md
    assert "| logistic |" in md and md.split("| logistic |")[1].split("\n")[0].endswith("| - | 1 |")
    assert ("AUROC is undefined (-) on 3 of 4 fold rows: test set lacks class(es) [1] (net); no class scores "
            "(logistic)") in md
