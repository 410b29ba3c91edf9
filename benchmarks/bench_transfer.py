"""The transfer experiment: does the EEG grid put something into the face student that other grids do not?

Runs the experiment fixed in docs/distillation.md ("The transfer experiment") on simulated data, on CPU:
the teacher pipeline's grid on simulated DREAMER at EEG snr 0, 1 and 2; the shuffled, coordinate-only
and oracle grids; B1 without a grid. Every arm trains the same small student (B2 loss, per-image
Proto-KD targets; by default the second design of docs/distillation.md, "Amendment after the first
run": V/A-labelled training faces, Proto-KD weight 1, faces at G* strength 2) for each of ``--seeds``
paired seeds, keeps the epoch of best FERPlus validation macro-F1, and is scored once on every endpoint
((e), the G* read-out, is the primary one). Prints each grid's own RSA with G* and with the bin
coordinates, the arms x endpoints table (mean and 95 % interval over seeds), the power check (oracle vs
coordinate on the primary endpoint), the EEG grid's position at each snr with
Holm-corrected paired tests, TOST equivalence tests and the dose-response slope, with the load average,
the machine calibration and the wall time.

    python benchmarks/bench_transfer.py --out benchmarks/out/transfer            # the full run (10 seeds)
    python benchmarks/bench_transfer.py --seeds 2 --epochs 2 --out /tmp/t        # a smoke run

Runs are cached per (arm, seed) under ``--out/runs``: a killed benchmark resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The arms of the experiment (docs/distillation.md), in table order; EEG arms are added per snr.
FIXED_ARMS = ("B1", "shuffled", "coordinate", "oracle")
#: Endpoints: key, label, TOST margin (fixed in docs/distillation.md).
ENDPOINTS = (("gstar_ccc", "(e) G* read-out CCC", 0.05), ("macro_f1", "(a) FERPlus test macro-F1", 0.010),
             ("ccc", "(b) V/A read-out CCC", 0.05), ("rsa", "(c) RSA with G*", 0.05),
             ("pair_acc", "(d) fear vs surprise acc.", 0.02),
             ("gstar_ccc_backbone", "(f) G* read-out from the backbone, post hoc", 0.05))
#: The endpoint that decides, the power check's included (docs/distillation.md, "Amendment").
PRIMARY = "gstar_ccc"


def _load() -> str:
    return "load average %.2f / %.2f / %.2f" % os.getloadavg()


def eeg_grid(work: Path, snr: float, args, *, support: bool = True) -> Path:
    """The teacher pipeline's grid on simulated DREAMER at EEG ``snr`` (cached): with the MAHNOB-HCI
    support windows (the exported grid), or labelled-only (``support=False``, the same teacher)."""
    from neuroaffect.pipeline import export_prototypes, train_teacher
    from neuroaffect.simulate import simulate
    from neuroaffect.training import TrainConfig

    out = work / (f"grid_snr{snr:g}" + ("" if support else "_labelled"))
    if (out / "card.json").is_file():
        return out
    sim, teacher = work / f"sim_snr{snr:g}", work / f"teacher_snr{snr:g}"
    d = simulate("dreamer", args.eeg_scale, sim / "dreamer", seed=0, snr=snr)
    cfg = {"holdout": 0.5, "cv_folds": 0, "model_kwargs": {"width": 8}}
    if not (teacher / "teacher.json").is_file():
        train_teacher(teacher, "dreamer", root=d, feature_params={"physio": False}, config=cfg,
                      train_cfg=TrainConfig(epochs=args.teacher_epochs, batch_size=32, lr=2e-3, weight_decay=1e-2,
                                            device="cpu"))
    m = simulate("mahnob", args.eeg_scale, sim / "mahnob", seed=0, snr=snr) if support else None
    export_prototypes(out, teacher, "dreamer", root=d, support_root=m, feature_params={"physio": False},
                      support_params={"physio": False, "window": 256, "stride": 256}, config=cfg)
    return out


def make_grids(work: Path, args) -> dict:
    """Every arm's grid file: EEG at each snr, and the shuffled / coordinate / oracle arms of the top snr's."""
    from neuroaffect.prototypes import grid_arm, load_grid, save_grid_arm

    grids = {"B1": None}
    for snr in args.snrs:
        grids[f"eeg-snr{snr:g}"] = eeg_grid(work, snr, args)
    top = max(args.snrs)
    grids[f"eeg-snr{top:g}-labelled"] = eeg_grid(work, top, args, support=False)
    source = load_grid(grids[f"eeg-snr{top:g}"])
    for kind in ("shuffled", "coordinate", "oracle"):
        out = work / f"grid_{kind}"
        if not (out / "card.json").is_file():
            save_grid_arm(grid_arm(source, kind, seed=0), out)
        grids[kind] = out
    return grids


def make_faces(work: Path, args) -> dict:
    """Simulated FERPlus (training, validation, test) and AffectNet-mini (V/A read-out) roots (cached)."""
    from neuroaffect.simulate.faces import face_root, simulate_faces

    roots, faces = {}, work / ("faces" if args.gstar_strength == 1 else f"faces_g{args.gstar_strength:g}")
    for name in ("ferplus", "affectnet-mini"):
        root = face_root(name, faces)
        roots[name] = str(root if root.exists() else simulate_faces(name, args.face_scale, faces, seed=0,
                                                                    gstar_strength=args.gstar_strength))
    return roots


_CACHE: dict = {}


def _sets(roots: dict):
    if "sets" not in _CACHE:
        from neuroaffect.io.faces import read_affectnet_mini, read_ferplus
        from neuroaffect.simulate.faces import load_face_truth

        fer = read_ferplus(roots["ferplus"])
        mini = read_affectnet_mini(roots["affectnet-mini"])
        _CACHE["sets"] = (fer, mini, load_face_truth(roots["ferplus"], fer))
    return _CACHE["sets"]


def _die_with_parent() -> None:
    """Worker initializer: on Linux, ask for SIGTERM when the benchmark's process dies, so that a killed
    benchmark leaves no training workers behind (elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _backbone_readout(model, fer, truth) -> float:
    """(f): the G* read-out of (e) from the backbone's pooled features instead of the projected embedding,
    z-scored with the validation images' mean and SD (the projector, which Proto-KD trains, left out)."""
    import copy

    from neuroaffect.distill import gstar_readout_ccc, predict_outputs

    feats = copy.copy(model)  # the same modules; its own ``project``, the identity, gives pooled features
    feats.project = lambda f: f
    v = predict_outputs(feats, fer.select_split("val"), device="cpu")["embedding"]
    t = predict_outputs(feats, fer.select_split("test"), device="cpu")["embedding"]
    mu, sd = v.mean(0), v.std(0) + 1e-6
    return gstar_readout_ccc((v - mu) / sd, truth.gstar[fer.split == "val"], (t - mu) / sd,
                             truth.gstar[fer.split == "test"])


def run_one(job: dict) -> dict:
    """Train one (arm, seed) and score it on the four endpoints; cached as JSON."""
    import torch

    torch.set_num_threads(1)
    out = Path(job["out"])
    if out.is_file():
        return json.loads(out.read_text())
    from neuroaffect.distill import (fer_metrics, gstar_readout_ccc, pair_accuracy, predict_outputs, rsa_score,
                                     train_student, va_readout_ccc)
    from neuroaffect.training import TrainConfig

    fer, mini, truth = _sets(job["roots"])
    train = fer.select_split("train")
    if job["va_source"] == "truth":  # V/A labels on the training faces, as AffectNet's annotators give
        import dataclasses

        va = truth.va[fer.split == "train"]
        train = dataclasses.replace(train, valence=va[:, 0].astype(np.float32), arousal=va[:, 1].astype(np.float32))
    t0 = time.perf_counter()
    cfg = TrainConfig(epochs=job["epochs"], batch_size=job["batch_size"], lr=job["lr"], weight_decay=0.05,
                      grad_clip=1.0, device="cpu", patience=None)
    arm = "B1" if job["grid"] is None else "B2"
    res = train_student(train, fer.select_split("val"), job["grid"], arm, cfg, seed=job["seed"],
                        arch=job["arch"], in_size=job["in_size"], small_input=False,
                        loss_options={"proto_mode": "image", "weights": {"proto": job["proto_weight"]}})
    test = fer.select_split("test")
    o = predict_outputs(res.model, test, device="cpu")
    v = predict_outputs(res.model, fer.select_split("val"), device="cpu")
    m = predict_outputs(res.model, mini, device="cpu")
    va = np.column_stack([mini.valence, mini.arousal])
    half = np.random.default_rng(0).permutation(len(mini)) < len(mini) // 2  # the fixed read-out split
    row = {"arm": job["arm"], "seed": job["seed"], "selected_epoch": res.selected_epoch,
           "val_macro_f1": res.val_macro_f1, "macro_f1": fer_metrics(test.labels, o["logits"].argmax(1))["macro_f1"],
           "ccc": va_readout_ccc(m["embedding"][half], va[half], m["embedding"][~half], va[~half])["ccc"],
           "rsa": rsa_score(o["embedding"], truth.gstar[fer.split == "test"]),
           "gstar_ccc": gstar_readout_ccc(v["embedding"], truth.gstar[fer.split == "val"], o["embedding"],
                                          truth.gstar[fer.split == "test"]),
           "pair_acc": pair_accuracy(o["logits"], test.labels),
           "gstar_ccc_backbone": _backbone_readout(res.model, fer, truth), "seconds": time.perf_counter() - t0}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, indent=1))
    os.replace(tmp, out)
    return row


def _by(rows, arm, key, seeds):
    d = {r["seed"]: r.get(key, np.nan) for r in rows if r["arm"] == arm}
    return np.array([d.get(s, np.nan) for s in seeds])


def comparisons(arms) -> list:
    """The comparisons of each endpoint's family (docs/distillation.md), as (a, b) arm pairs."""
    eeg = [a for a in arms if a.startswith("eeg-") and not a.endswith("-labelled")]
    pairs = [("oracle", "coordinate"), ("coordinate", "shuffled")]
    pairs += [(e, "coordinate") for e in eeg] + [(e, "shuffled") for e in eeg]
    pairs += [(eeg[-1], "B1")] if eeg else []
    return [(a, b) for a, b in pairs if a in arms and b in arms]


def analyse(rows, arms, seeds) -> dict:
    """Per arm and endpoint summaries, Holm-corrected paired tests, TOSTs and the dose-response slope."""
    from neuroaffect.training import holm, mean_ci, paired_test, tost_paired

    out = {"summary": {}, "tests": {}, "slope": {}}
    for key, _, margin in [e for e in ENDPOINTS if any(e[0] in r for r in rows)]:
        out["summary"][key] = {a: mean_ci(_by(rows, a, key, seeds)) for a in arms}
        tests = [{"a": a, "b": b, **paired_test(_by(rows, a, key, seeds), _by(rows, b, key, seeds)),
                  "tost_p": tost_paired(_by(rows, a, key, seeds), _by(rows, b, key, seeds), margin)["p"]}
                 for a, b in comparisons(arms)]
        for name, col in (("p_holm", "p"), ("tost_p_holm", "tost_p")):
            adj = holm([t[col] for t in tests])
            for t, p in zip(tests, adj):
                t[name] = float(p)
        out["tests"][key] = tests
        eeg = [a for a in arms if a.startswith("eeg-") and not a.endswith("-labelled")]
        if len(eeg) >= 2:
            snr = np.array([float(a[len("eeg-snr"):]) for a in eeg])
            gaps = np.stack([_by(rows, a, key, seeds) - _by(rows, "coordinate", key, seeds) for a in eeg], 1)
            slopes = np.array([np.polyfit(snr, g, 1)[0] for g in gaps if np.isfinite(g).all()])
            out["slope"][key] = paired_test(slopes, np.zeros_like(slopes))
    return out


def _fmt(s: dict, pct: bool) -> str:
    f = 100.0 if pct else 1.0
    if not np.isfinite(s["mean"]):
        return "-"
    if not np.isfinite(s.get("ci_low", np.nan)):
        return f"{f * s['mean']:.3g}"
    d = 1 if pct else 3
    return f"{f * s['mean']:.{d}f} [{f * s['ci_low']:.{d}f}, {f * s['ci_high']:.{d}f}]"


def markdown(res: dict, arms, n_seeds: int) -> str:
    """The arms x endpoints table, the tests and the verdicts, in Markdown."""
    ends = [e for e in ENDPOINTS if e[0] in res["summary"]]  # endpoints the runs scored
    lines = [f"Arms x endpoints, mean [95 % t interval] over {n_seeds} paired seeds (macro-F1 and accuracy in %):", "",
             "| arm | " + " | ".join(label for _, label, _ in ends) + " |",
             "|---|" + "---|" * len(ends)]
    for a in arms:
        lines.append(f"| {a} | " + " | ".join(_fmt(res["summary"][k][a], k in ("macro_f1", "pair_acc"))
                                             for k, _, _ in ends) + " |")
    for key, label, margin in ends:
        lines += ["", f"Paired tests on {label} (Holm within the family; TOST margin {margin:g}):", "",
                  "| comparison | mean difference [95 % CI] | p | p (Holm) | TOST p (Holm) |", "|---|---|---|---|---|"]
        for t in res["tests"][key]:
            lines.append(f"| {t['a']} - {t['b']} | {t['mean_difference']:+.4f} [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]"
                         f" | {t['p']:.3g} | {t['p_holm']:.3g} | {t['tost_p_holm']:.3g} |")
        if key in res["slope"]:
            s = res["slope"][key]
            lines.append(f"\nDose-response (EEG - coordinate per unit snr): {s['mean_difference']:+.4f} "
                         f"[{s['ci_low']:+.4f}, {s['ci_high']:+.4f}], p {s['p']:.3g}")
    lines += ["", verdict(res, arms)]
    return "\n".join(lines)


def verdict(res: dict, arms, primary: str = PRIMARY) -> str:
    """The decision rules of docs/distillation.md applied to the ``primary`` endpoint."""
    tests = {(t["a"], t["b"]): t for t in res["tests"][primary]}
    label = dict((k, lab) for k, lab, _ in ENDPOINTS)[primary]
    if ("oracle", "coordinate") not in tests:
        return "Power check: not run (the oracle and coordinate arms are both needed)."
    power = tests[("oracle", "coordinate")]
    ok = power["p_holm"] < 0.05 and power["mean_difference"] > 0
    lines = [f"Power check (oracle > coordinate on {label}, Holm p < 0.05): {'PASSED' if ok else 'FAILED'} "
             f"(difference {power['mean_difference']:+.4f}, p (Holm) {power['p_holm']:.3g})."]
    if not ok:
        return "\n".join(lines + ["No verdict on the EEG grid: the experiment could not have seen an effect."])
    slope = res["slope"].get(primary)
    for a in [x for x in arms if x.startswith("eeg-") and not x.endswith("-labelled")]:
        if (a, "coordinate") not in tests or (a, "shuffled") not in tests:
            continue
        c, s = tests[(a, "coordinate")], tests[(a, "shuffled")]
        lines.append(f"{a}: vs coordinate {c['mean_difference']:+.4f} (p Holm {c['p_holm']:.3g}, TOST p Holm "
                     f"{c['tost_p_holm']:.3g}); vs shuffled {s['mean_difference']:+.4f} (p Holm {s['p_holm']:.3g}).")
    cs = tests.get(("coordinate", "shuffled"))
    eeg = [x for x in arms if x.startswith("eeg-") and not x.endswith("-labelled")]
    helps = (bool(eeg) and cs is not None and slope is not None and slope["p"] < 0.05 and slope["mean_difference"] > 0
             and cs["p_holm"] < 0.05 and cs["mean_difference"] > 0
             and all(tests[(a, "coordinate")]["p_holm"] < 0.05 and tests[(a, "coordinate")]["mean_difference"] > 0
                     for a in eeg[-1:]))
    lines.append("The EEG grid helps (EEG > coordinate > shuffled, rising with snr): "
                 + ("yes." if helps else "not shown (see the rows above for where each arm falls)."))
    return "\n".join(lines)


def grid_rsa(grids: dict) -> dict:
    """Each arm's grid alone: Spearman of its prototypes' cosine distances with the Euclidean distances of G*
    at the bin centres (``gstar``) and of the bin centres themselves (``coordinates``), over the bins holding
    their own prototype (copied bins left out). No student is involved."""
    from neuroaffect.distill import rsa_score
    from neuroaffect.prototypes import load_grid
    from neuroaffect.simulate.gstar import gstar

    out = {}
    for arm, path in grids.items():
        if path is None:
            continue
        g = load_grid(path)
        own = ~np.asarray(g.filled).reshape(-1)
        P = g.as_array().reshape(-1, g.dim)[own]
        c = g.bin_centres().reshape(-1, 2)[own]
        out[arm] = {"gstar": rsa_score(P, gstar(c)), "coordinates": rsa_score(P, c), "bins": int(own.sum())}
    return out


def grid_markdown(rsa: dict) -> str:
    """The grids alone, before any student: how much of G* and of the bin coordinates each one holds."""
    lines = ["Each grid alone (no student): Spearman of its prototypes' cosine distances with G* and with the bin "
             "centres at its own bins (copied bins left out):", "",
             "| grid | RSA with G* | RSA with the bin coordinates | bins |", "|---|---|---|---|"]
    lines += [f"| {a} | {r['gstar']:+.3f} | {r['coordinates']:+.3f} | {r['bins']} |" for a, r in rsa.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/out/transfer")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--snrs", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--arch", default="resnet8")
    p.add_argument("--in-size", type=int, default=48)
    p.add_argument("--face-scale", default="demo")
    p.add_argument("--eeg-scale", default="demo")
    p.add_argument("--teacher-epochs", type=int, default=30)
    p.add_argument("--proto-weight", type=float, default=1.0, help="weight of the Proto-KD term (B2 arms)")
    p.add_argument("--gstar-strength", type=float, default=2.0, help="s_G of the simulated faces")
    p.add_argument("--va-source", choices=("votes", "truth"), default="truth",
                   help="per-image V/A of the training faces: vote-weighted anchors, or V/A labels (the states)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes of one thread each")
    p.add_argument("--arms", nargs="+", default=None,
                   help="train only these arms (a pilot; the full experiment runs them all)")
    args = p.parse_args(argv)
    from neuroaffect.report.performance import machine_line

    t0 = time.time()
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    print(machine_line(), "|", _load(), flush=True)
    grids = make_grids(work, args)
    roots = make_faces(work, args)
    arms = (["B1"] + [f"eeg-snr{s:g}" for s in args.snrs] + [f"eeg-snr{max(args.snrs):g}-labelled"]
            + ["shuffled", "coordinate", "oracle"])
    arms = [a for a in arms if args.arms is None or a in args.arms]
    seeds = list(range(args.seeds))
    jobs = [{"arm": a, "seed": s, "grid": None if grids[a] is None else str(grids[a]), "roots": roots,
             "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "arch": args.arch, "in_size": args.in_size,
             "proto_weight": args.proto_weight, "va_source": args.va_source, "out": str(work / "runs" / f"{a}_seed{s}.json")} for s in seeds for a in arms]
    print(f"{len(jobs)} students ({len(arms)} arms x {len(seeds)} seeds) on {args.jobs} processes | {_load()}",
          flush=True)
    import multiprocessing as mp

    with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn"), initializer=_die_with_parent) as pool:
        rows = []
        for row in pool.map(run_one, jobs):
            rows.append(row)
            print(f"  {row['arm']:>12} seed {row['seed']}: macro-F1 {100 * row['macro_f1']:.1f} "
                  f"({row['seconds']:.0f} s) | {_load()}", flush=True)
    res = analyse(rows, arms, seeds)
    rsa = grid_rsa({a: grids[a] for a in arms})
    text = grid_markdown(rsa) + "\n\n" + markdown(res, arms, len(seeds))
    wall = time.time() - t0
    text += f"\n\nWall time {wall / 60:.1f} min | {machine_line()} | {_load()}\n"
    print(text)
    (work / "transfer.md").write_text(text)
    (work / "transfer.json").write_text(json.dumps({"rows": rows, "analysis": res, "grid_rsa": rsa, "args": vars(args),
                                                     "wall_seconds": wall}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
