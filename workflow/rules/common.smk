# Helpers shared by the rules: data roots, subject lists, targets. Config values become command arguments
# through the tables of workflow/lib/neuroaffect_workflow/commands.py.
import functools
from pathlib import Path

from neuroaffect_workflow import commands

SIM = "results/sim"
DATASETS = list(config["datasets"])


def gpus(device):
    """GPUs a training job asks for: 1 unless the configured device is "cpu" (the standard `gpu` resource)."""
    return 0 if str(device) == "cpu" else 1


def is_simulated(dataset):
    return config["data"].get(dataset, {}).get("root") is None


def data_root(dataset):
    """What the dataset's reader takes: the real root, or the simulated copy."""
    if is_simulated(dataset):
        from neuroaffect.simulate import dataset_root

        return str(dataset_root(dataset, f"{SIM}/{dataset}"))
    return config["data"][dataset]["root"]


def data_input(dataset):
    """The file a rule reading ``dataset`` depends on."""
    if is_simulated(dataset):
        return f"{SIM}/{dataset}/simulation.json"
    return config["data"][dataset]["root"]


# The one read of a real root while the workflow is parsed: its subjects are the {subject} wildcards of the
# DAG (a root that cannot be listed is left out, and only its check job runs). Once per root (cached).
@functools.lru_cache(maxsize=None)
def _real_subjects(dataset):
    """(subjects, problem) of a real root: the subjects it holds, or why it cannot be read."""
    from neuroaffect.io import list_subjects

    root = config["data"][dataset]["root"]
    labels = config["data"][dataset].get("labels") if dataset == "custom" else None
    try:
        found = list_subjects(dataset, root, **({"labels": labels} if labels else {}))
    except (OSError, ValueError) as err:
        return (), f"data.{dataset}.root: {err}"
    if not found:
        return (), f"data.{dataset}.root: expected {dataset} subjects under {root}, but found none"
    return tuple(found), ""


def root_problem(dataset):
    """'' when ``dataset`` can be read (simulated, or a real root that lists its subjects), else why not."""
    return "" if is_simulated(dataset) else _real_subjects(dataset)[1]


def subjects(dataset):
    """Subject numbers of ``dataset``: known from the scale when simulated, listed when real
    (none when the real root cannot be read: then only that dataset's check job fails)."""
    if is_simulated(dataset):
        from neuroaffect.simulate import subjects as sim_subjects

        return sim_subjects(dataset, config["simulate"]["scale"])
    return list(_real_subjects(dataset)[0])


def feature_params(dataset):
    """JSON of the FeatureParams for ``dataset``: shared params + its window and stride."""
    import json

    params = dict(config["features"]["params"])
    params.update(config["features"]["windows"].get(dataset, {}))
    return json.dumps(params)  # key order kept: it is the band order


def custom_args(dataset):
    """The reader options of a user's own recordings (data.custom) as command arguments, a list
    (empty for the other datasets)."""
    return commands.custom_args(config["data"]["custom"]) if dataset == "custom" else []


def feature_files(dataset):
    return expand("results/features/{dataset}/{subject}.nc", dataset=dataset, subject=subjects(dataset))


TRAIN_KEYS = ("folds", "epochs", "batch_size", "lr", "device", "seed", "control", "validate")


def _sweep_name(s):
    return f"{s['dataset']}/{s['target']}_{s['task']}_{s['model']}_{s['protocol']}"


def _settings(entry):
    """A sweep entry's training settings: its own, else the config's training section (whose missing
    keys the schema filled with the library's defaults)."""
    return {k: entry.get(k, config["training"][k]) for k in TRAIN_KEYS}


def _sweep_entry(wc):
    name = f"{wc.dataset}/{wc.target}_{wc.task}_{wc.model}_{wc.protocol}"
    return next(s for s in config["training"]["sweeps"] if _sweep_name(s) == name)


def sweep_params(wc):
    """Training settings of one sweep (:func:`_settings` of its entry)."""
    return _settings(_sweep_entry(wc))


#: Rough training cost per fold-epoch relative to DGCNN's on the CPU (the demo's sweeps: RBTransformer about
#: 40 x per window, RGNN's DREAMER sweep about 0.1 x DGCNN's DEAP one), for the order of the sweeps only.
MODEL_COST = {"rbtransformer": 40, "rgnn": 0.1}


def sweep_priority(wc):
    """The sweep's scheduling priority, 0-9 (below the teacher chain and the students): the costlier
    sweeps (epochs x folds x 2 with the shuffled-label control x :data:`MODEL_COST`) start first, so that
    the others fill the core beside the longest rather than it running alone at the end."""
    def cost(entry):
        p = _settings(entry)
        return p["epochs"] * p["folds"] * (2 if p["control"] else 1) * MODEL_COST.get(entry["model"], 1)

    costs = sorted({cost(s) for s in config["training"]["sweeps"]})
    return round(9 * costs.index(cost(_sweep_entry(wc))) / max(len(costs) - 1, 1))


def readable():
    """The configured datasets whose data can be read (the others get only their check job)."""
    return [d for d in DATASETS if not root_problem(d)]


def sweeps():
    """Sweep entries of readable datasets."""
    return [s for s in config.get("training", {}).get("sweeps", []) if s["dataset"] in readable()]


def _raw_model(model):
    from neuroaffect.models import model_entrypoint

    return getattr(model_entrypoint(model), "input_kind", "tokens") == "raw"


def sweep_inputs(wc):
    """Token and map models read the feature files; raw-signal models cut windows from the recordings."""
    if _raw_model(wc.model):
        return [data_input(wc.dataset)]
    return feature_files(wc.dataset)


def sweep_data(wc):
    """The sweep command's data arguments, a list (see sweep_inputs)."""
    if _raw_model(wc.model):
        return ["--root", data_root(wc.dataset), "--feature-params", feature_params(wc.dataset),
                *custom_args(wc.dataset)]
    return ["--features", f"results/features/{wc.dataset}"]


def sweep_results():
    return [f"results/sweeps/{_sweep_name(s)}.json" for s in sweeps()]


def sweep_sidecars():
    """simulation.json of the simulated datasets that have sweeps (for the oracle rows)."""
    return [data_input(d) for d in sorted({s["dataset"] for s in sweeps()}) if is_simulated(d)]


PROTO = config.get("prototypes", {})
PROTO_KEYS = ("grid_size", "ablation_sizes", "holdout", "cv_folds", "mc_samples", "gate_quantile", "n_permutations",
              "n_bootstrap", "seed")


def prototypes_enabled():
    """The grid is built when its labelled dataset is configured and readable."""
    return bool(PROTO) and PROTO.get("dataset") in readable()


def prototype_support():
    return bool(PROTO.get("support")) and PROTO["support"] in readable()


def prototype_second_source():
    return bool(PROTO.get("second_source")) and PROTO["second_source"] in readable()


def prototype_config():
    """JSON of the PrototypeConfig (a param of the rules, so a change reruns the teacher and the grid)."""
    import json

    cfg = {k: PROTO[k] for k in PROTO_KEYS if k in PROTO}
    cfg["model_kwargs"] = dict(PROTO.get("model", {}))
    return json.dumps(cfg, sort_keys=True)


def teacher_config():
    """JSON of the PrototypeConfig fields the teacher uses (a param of the teacher's rules: a change in a
    field that only shapes the grid, such as n_permutations, reruns the export and not the teacher)."""
    import json
    from neuroaffect.prototypes.build import TEACHER_FIELDS

    cfg = json.loads(prototype_config())
    return json.dumps({k: cfg[k] for k in TEACHER_FIELDS if k in cfg}, sort_keys=True)


def teacher_train_args():
    """The teacher's training flags, a list of arguments (quoted one by one in the command)."""
    return commands.config_args("train-teacher", PROTO.get("train", {}))


FACES = config.get("faces", {})
DISTILL = config.get("distill", {})


def face_enabled(face):
    """``face`` is configured and its data can be read (an unreadable root gets only its check job)."""
    return face in FACES.get("data", {}) and not face_root_problem(face)


def face_is_simulated(face):
    return FACES.get("data", {}).get(face, {}).get("root") is None


def face_root(face):
    """What the face reader takes: the real root, or the simulated copy."""
    if face_is_simulated(face):
        from neuroaffect.simulate import dataset_root

        return str(dataset_root(face, f"{SIM}/{face}"))
    return FACES["data"][face]["root"]


def face_input(face):
    return f"{SIM}/{face}/simulation.json" if face_is_simulated(face) else face_root(face)


# A real face root is looked at (file and folder names, nothing read) while the workflow is parsed: a root
# that is not there leaves its stages out of the DAG, and only its check job (check_face_root) runs.
@functools.lru_cache(maxsize=None)
def face_root_problem(face):
    """'' when ``face`` is simulated or its real root holds what its reader opens first, else why not."""
    if face_is_simulated(face):
        return ""
    try:
        require_face_root(face, face_root(face))
    except ValueError as err:
        return str(err)
    return ""


def require_face_root(face, root):
    """Raise ValueError, naming the config key, unless ``root`` holds what ``face``'s reader opens first
    (``neuroaffect.io.faces.check_face_root``: file and folder names only)."""
    from neuroaffect.io.faces import check_face_root

    try:
        check_face_root(face, root)
    except (OSError, ValueError) as err:
        raise ValueError(f"faces.data.{face}.root: {err}") from err


def unreadable_roots():
    """(dataset, problem) of every configured real root that cannot be read."""
    found = [(d, root_problem(d)) for d in DATASETS] + [(f, face_root_problem(f)) for f in FACES.get("data", {})]
    return [(name, problem) for name, problem in found if problem]


def distill_enabled():
    """The student trains when the grid is built and FERPlus is configured."""
    return bool(DISTILL) and prototypes_enabled() and face_enabled("ferplus")


def student_arms():
    """``distill.arms``, then B3 against each grid of ``distill.controls`` (without ``controls``, the
    older ``control: true`` stands for the shuffled grid alone). ``labelled`` (the labelled-only grid)
    only with a support set: without one the exported grid is the labelled-only grid already."""
    controls = DISTILL.get("controls", ["shuffled"] if DISTILL.get("control") else [])
    return list(DISTILL.get("arms", [])) + [f"B3-{c}" for c in controls
                                            if c != "labelled" or prototype_support()]


#: Arms whose loss uses no grid (CE, CE + KD): they train without waiting for the teacher.
GRIDLESS_ARMS = ("B0", "B1")


def student_grid(arm):
    """The grid folder a student arm trains against: none for B0 and B1, the labelled-only grid for
    ``B3-labelled``, else the exported grid (the grid arms derive theirs from it)."""
    if arm in GRIDLESS_ARMS:
        return None
    return "results/prototypes/grid_labelled" if arm == "B3-labelled" else "results/prototypes/grid"


def student_grid_args(arm):
    """``--grid <folder>``, or no argument for B0 and B1, a list of arguments."""
    grid = student_grid(arm)
    return ["--grid", grid] if grid else []


def student_runs(arm=None):
    arms = student_arms()
    return [(a, s) for a in arms for s in DISTILL.get("seeds", [0]) if arm is None or a == arm]


def student_records(arm=None):
    return [f"results/students/{a}_seed{s}/record.json" for a, s in student_runs(arm)]


def student_train_args():
    """The student's training and model flags, a list of arguments (quoted one by one in the command)."""
    return commands.student_args(DISTILL)


def cross_face_args():
    """``--<face> <root>`` of the cross-dataset face sets the evaluation reads, a list of arguments."""
    return [item for f in ("affectnet-mini", "ckplus") if face_enabled(f) for item in (f"--{f}", face_root(f))]


def all_targets():
    ok = readable()
    targets = expand("reports/summary/{dataset}.md", dataset=ok)
    for dataset in ok:
        targets += feature_files(dataset)
    # (a custom dataset's labels may be classes: no high-vs-low contrast)
    targets += expand("reports/features/{dataset}_label_contrast.png",
                      dataset=[d for d in ok if d not in ("mahnob", "custom")])
    if sweeps():
        targets += [f"reports/sweeps/{_sweep_name(s).replace(chr(47), '_')}.png" for s in sweeps()]
        targets += ["reports/results.md"]
    if prototypes_enabled():
        targets += ["results/prototypes/grid/card.json", "reports/prototypes/summary.md"]
    if distill_enabled():
        targets += ["reports/distill/ablation.md", "reports/distill/confusion.png"]
        if student_runs(arm="B3"):
            targets += ["results/student/model.onnx"]
    # a dataset whose root cannot be read fails its own job, with the reason, and nothing else
    targets += expand("results/checks/{dataset}.ok", dataset=[d for d in DATASETS if d not in ok])
    targets += expand("results/checks/{face}.ok", face=[f for f in FACES.get("data", {}) if face_root_problem(f)])
    return targets + report_targets()


def benchmark_inputs(wc):
    """{rule: benchmark files} of every job the run holds (the Performance table's input)."""
    ok = readable()
    groups = {
        "simulate": expand(rules.simulate.benchmark, dataset=[d for d in ok if is_simulated(d)]),
        "summarize": expand(rules.summarize.benchmark, dataset=ok),
        "extract_features": [f for d in ok for f in expand(rules.extract_features.benchmark, dataset=d,
                                                            subject=subjects(d))],
        "run_sweep": [str(rules.run_sweep.benchmark).format(**s) for s in sweeps()],
    }
    if prototypes_enabled():
        groups["train_teacher"] = [rules.train_teacher.benchmark]
        if prototype_second_source():
            groups["cross_validate_teacher"] = expand(rules.cross_validate_teacher.benchmark,
                                                      dataset=PROTO["second_source"])
        groups["export_prototypes"] = [rules.export_prototypes.benchmark]
    if distill_enabled():
        faces = [f for f in ("ferplus", "affectnet-mini", "ckplus") if face_enabled(f) and face_is_simulated(f)]
        groups["simulate_faces"] = expand(rules.simulate_faces.benchmark, face=faces)
        groups["train_student"] = [str(rules.train_student.benchmark).format(arm=a, seed=s) for a, s in student_runs()]
        groups["evaluate_students"] = [rules.evaluate_students.benchmark]
        if student_runs(arm="B3"):
            groups["export_student"] = [rules.export_student.benchmark]
    return {rule: [str(f) for f in files] for rule, files in groups.items() if files}


def readme_sections(wc):
    """The headline tables gathered in reports/README.md, in page order."""
    sections = ["reports/results.md"] if sweeps() else []
    if prototypes_enabled():
        sections.append("reports/prototypes/summary.md")
    if distill_enabled():
        sections.append("reports/distill/ablation.md")
    return sections + ["reports/performance.md"]


def readme_intro():
    """What ran, in one paragraph (the head of reports/README.md)."""
    sim = [d for d in DATASETS if is_simulated(d)]
    real = [d for d in DATASETS if not is_simulated(d)]
    data = []
    if sim:
        snr = config["simulate"].get("snr")
        data.append(f"simulated {', '.join(sim)} (scale {config['simulate']['scale']}, planted effect size snr "
                    f"{1 if snr is None else snr}: the simulator's effects, not findings about EEG)")
    if real:
        data.append(f"real {', '.join(real)} (from the configured roots)")
    return ("Written by the workflow (`make run`, or `snakemake --cores all`) from "
            + " and ".join(data) + ". The full report with every figure: `snakemake --report reports/report.html`; "
            "each table below is also in the report, rendered in the page.")


def report_targets():
    """The report's own files: every Markdown table as HTML, the Performance table, reports/README.md."""
    ok = readable()
    targets = expand("reports/summary/{dataset}.html", dataset=ok)
    if sweeps():
        targets += [f"reports/sweeps/{_sweep_name(s).replace(chr(47), '_')}.html" for s in sweeps()]
        targets += ["reports/results.html"]
    if prototypes_enabled():
        targets += ["reports/prototypes/summary.html"]
    if distill_enabled():
        targets += ["reports/distill/ablation.html"]
    return targets + ["reports/performance.html", "reports/README.md"]


# --- cross-dataset runs (training.transfers) ---------------------------------------------------------

def transfers():
    """Cross-dataset entries (training.transfers) whose source and target can both be read."""
    ok = readable()
    return [t for t in config.get("training", {}).get("transfers", []) if t["source"] in ok and t["target"] in ok]


def _transfer_name(t):
    return f"{t['source']}_to_{t['target']}/{t['label']}_{t['task']}_{t['model']}"


def transfer_results():
    return [f"results/transfer/{_transfer_name(t)}.json" for t in transfers()]


def transfer_params(wc):
    """Training settings of one cross-dataset run: its entry, else the training section's."""
    name = f"{wc.source}_to_{wc.dataset}/{wc.target}_{wc.task}_{wc.model}"
    entry = next(t for t in config["training"]["transfers"] if _transfer_name(t) == name)
    return {k: entry.get(k, config["training"][k]) for k in TRAIN_KEYS}
