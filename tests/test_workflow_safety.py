"""Configs that cannot hang, blow up or inject commands, and stages never dropped in silence.

- every number of the schema has a range and every object its keys (checked in-process, as the
  Snakefile checks at load);
- config files are read within bounds (size, nesting, alias expansion) before validation: a "billion
  laughs" file is refused in seconds by ``snakemake -n`` itself, through ``--configfile`` or as
  ``config/config.yaml``;
- a config that leaves out the grid's labelled dataset, FERPlus or the ``prototypes:`` section says so;
- values that reach a shell command are quoted: a root whose name holds a space and ``;touch FILE;#``
  appears quoted in the planned commands, and a ``device`` holding a command is refused;
- no file the workflow writes is tracked by git (a tracked output marks every later job ``.dirty``).
"""

import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)
BIN = Path(sys.executable).parent
TINY = ROOT / "tests/configs/tiny.yaml"
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")
#: A directory name that runs ``touch INJECTED`` if a command holds it unquoted.
HOSTILE = "fer plus;touch INJECTED;#"


def _snakemake(workdir, *args, timeout=600):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
                           "--cores", "1", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, timeout=timeout)


def _tiny(**changes):
    cfg = yaml.safe_load(TINY.read_text())
    for key, value in changes.items():
        *path, last = key.split(".")
        node = cfg
        for k in path:
            node = node.setdefault(k, {})
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return cfg


DELETE = object()


def _validate(cfg):
    from snakemake.utils import validate

    from neuroaffect_workflow.config import check_config

    validate(copy.deepcopy(cfg), SCHEMA)
    check_config(cfg)


# --- ranges and keys ---------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, named", [
    ("prototypes.model.width", 100_000, "100000"),
    ("prototypes.train.lr", 1e6, "1000000"),
    ("distill.train.batch_size", 10**9, "1000000000"),
    ("prototypes.cv_folds", 10_000, "10000"),
    ("prototypes.cv_folds", 1, "cv_folds"),
    ("prototypes.n_permutations", 10**9, "1000000000"),
    ("prototypes.ablation_sizes", [5, 5], "[5, 5]"),
    ("prototypes.mc_samples", 10**7, "10000000"),
    ("prototypes.model.embed_dim", 10**6, "1000000"),
    ("prototypes.train.epochs", 10**6, "1000000"),
    ("prototypes.train.weight_decay", 1e9, "1000000000"),
    ("training.epochs", 10**7, "10000000"),
    ("training.sweeps", [{"dataset": "deap", "target": "valence", "task": "binary", "model": "dgcnn",
                          "protocol": "trial-holdout", "folds": 10_000}], "10000"),
    ("simulate.seed", 2**40, str(2**40)),
    ("simulate.snr", 1e9, "1000000000"),
    ("features.windows.deap", {"window": 10**9, "stride": 128}, "1000000000"),
    ("features.params.bands", {"theta": [4, 1e9]}, "1000000000"),
    ("distill.seeds", list(range(1000)), "seeds"),
    ("distill.loss_options", {"weigths": {"kd": 1}}, "weigths"),
    ("distill.loss_options", {"weights": {"kd": -1}}, "-1"),
    ("distill.loss_options", {"weights": {"kd": 0.3, "dgeo": 1}}, "dgeo"),
    ("distill.loss_options", {"geo_cap": 5}, "5"),
    ("distill.loss_options", {"ramp": [0.6, 0.2]}, "ramp"),
    ("distill.train.device", "cpu --help;touch INJECTED;#", "touch INJECTED"),
    ("prototypes.train.device", "cuda; rm -rf x", "rm -rf"),
    ("training.device", "gpu", "gpu"),
    ("training.sweeps", [{"dataset": "deap", "target": "valence", "task": "binary", "model": "dgcnn;id",
                          "protocol": "trial-holdout"}], "dgcnn;id"),
    ("data.deap", {"root": ""}, "root"),
])
def test_schema_gives_every_number_a_range_and_every_object_its_keys(key, value, named):
    from snakemake.exceptions import WorkflowError

    from neuroaffect_workflow.config import ConfigError

    _validate(_tiny())  # the base passes
    with pytest.raises((WorkflowError, ConfigError)) as err:
        _validate(_tiny(**{key: value}))
    assert named in str(err.value)


@pytest.mark.parametrize("key, value", [
    ("distill.loss_options", {"weights": {"kd": 0.5, "proto": 0, "geo": 0.02}, "kd_temperature": 4,
                              "target_temperature": 2, "geo_cap": 0.2, "geo_margin": 0.4, "ramp": [0.1, 0.7]}),
    ("training.device", "cuda:1"),
    ("prototypes.train.device", "mps"),
    ("prototypes.cv_folds", 0),
    ("prototypes.ablation_sizes", [2, 4]),
])
def test_values_in_range_pass(key, value):
    _validate(_tiny(**{key: value}))


def test_every_number_and_object_of_the_schema_is_bounded():
    """Walk the schema: each integer or number has an upper bound, each object lists its keys (or bounds
    its free keys' names), each array a length or its items' bounds."""
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    defs = schema.get("$defs", {})
    unbounded = []

    def walk(node, where):
        if "$ref" in node:
            node = {**defs[node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        types = node.get("type", [])
        types = [types] if isinstance(types, str) else types
        if {"integer", "number"} & set(types) and "enum" not in node \
                and "maximum" not in node and "exclusiveMaximum" not in node:
            unbounded.append(where)
        if "object" in types:
            if node.get("additionalProperties", True) is True:
                unbounded.append(where + " (free keys)")
            for k, sub in node.get("properties", {}).items():
                walk(sub, f"{where}.{k}")
            if isinstance(node.get("additionalProperties"), dict):
                walk(node["additionalProperties"], f"{where}.*")
        if "array" in types and "items" in node:
            walk(node["items"], f"{where}[]")

    walk(schema, "config")
    assert not unbounded, unbounded


# --- bounded reading of config files -----------------------------------------------------------

def _bomb(levels=9, fan=10):
    """YAML lines of nested aliases: ``fan ** levels`` strings once expanded, a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels + 1)]
    return lines


def _with_bomb(where):
    """tiny.yaml's text with a billion-laughs block under an unknown key, in distill.loss_options, or as
    the value of simulate.scale (where a string is expected)."""
    text = TINY.read_text()
    block = "\n".join("  " + line for line in _bomb())
    if where == "unknown key":
        return text + "\nlaughs:\n" + block + "\n"
    if where == "loss_options":
        return text + "  loss_options:\n" + "\n".join("    " + line for line in _bomb()) + "\n"
    assert where == "string"
    text = text.replace("simulate: {scale: tiny, seed: 0, snr: 2}", "simulate: {scale: *a9, seed: 0, snr: 2}")
    return "laughs:\n" + block + "\n" + text


@pytest.mark.parametrize("where", ["unknown key", "loss_options", "string"])
def test_billion_laughs_is_refused_before_it_is_expanded(tmp_path, where):
    from neuroaffect_workflow.config import ConfigError, check_config_file, read_config_file

    f = tmp_path / "bomb.yaml"
    f.write_text(_with_bomb(where))
    assert len(f.read_bytes()) < 5000
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml: expected at most 100000 values once its aliases"):
        read_config_file(f)
    assert time.perf_counter() - t0 < 2
    # the same file without its last level (10**8 -> 10**4 values... still too many at 9 levels, so 4 levels)
    small = tmp_path / "small.yaml"
    small.write_text(TINY.read_text() + "\nlaughs:\n" + "\n".join("  " + line for line in _bomb(levels=3)) + "\n")
    check_config_file(small)  # 10**4 values: within the bound (and the schema then names the unknown key)


def test_config_file_bounds_name_the_file_and_what_was_found(tmp_path):
    from neuroaffect_workflow.config import ConfigError, check_config_file, read_config_file

    deep = tmp_path / "deep.yaml"
    deep.write_text("datasets: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match=r"deep\.yaml: expected values nested at most 64 levels"):
        check_config_file(deep)
    big = tmp_path / "big.yaml"
    big.write_text("x: '" + "a" * (1 << 20) + "'\n")
    with pytest.raises(ConfigError, match=r"big\.yaml: expected a config file of at most 1048576 bytes"):
        check_config_file(big)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # nobody writes: a plain read would block forever
    with pytest.raises(ConfigError, match=r"fifo\.yaml: expected a regular config file, but found a FIFO"):
        check_config_file(fifo)
    with pytest.raises(ConfigError, match="expected a regular config file, but found a device"):
        check_config_file("/dev/zero")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: expected YAML or JSON"):
        check_config_file(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping"):
        read_config_file(listing)
    # anchors and aliases within the bound are fine: 3 aliases of a 3-value list
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n")
    assert read_config_file(ok) == {"a": [1, 2], "b": [1, 2], "c": [[1, 2], [1, 2]]}
    for shipped in ("config/config.yaml", "config/full.yaml", "config/real.yaml"):
        read_config_file(ROOT / shipped)


@pytest.mark.parametrize("how", ["--configfile", "config/config.yaml"])
@pytest.mark.slow
def test_workflow_refuses_a_bomb_config_quickly(tmp_path, how):
    """snakemake itself, on a bomb config given either way (without the bounded read it hangs past 60 s)."""
    text = _with_bomb("unknown key")
    if how == "--configfile":
        (tmp_path / "bomb.yaml").write_text(text)
        args = ["--configfile", str(tmp_path / "bomb.yaml")]
    else:
        (tmp_path / "config").mkdir()
        (tmp_path / "config/config.yaml").write_text(text)
        args = []
    t0 = time.perf_counter()
    res = _snakemake(tmp_path, "-n", *args, timeout=120)
    assert res.returncode != 0
    assert "expected at most 100000 values once its aliases" in res.stdout, res.stdout[-3000:]
    assert time.perf_counter() - t0 < 60


# --- stages switched off -----------------------------------------------------------------------

@pytest.mark.parametrize("changes, said, gone", [
    ({"datasets": ["deap", "mahnob"], "data.dreamer": DELETE},
     "prototypes.dataset: 'dreamer' (the grid's labelled dataset) is not in datasets, so no prototype grid and no "
     "face student", {"train_teacher", "train_student"}),
    ({"faces.data.ferplus": DELETE}, "faces.data: no ferplus (the student's training set), so no face student",
     {"train_student"}),
    ({"prototypes": DELETE}, "no prototypes: section, so no prototype grid and no face student",
     {"train_teacher", "train_student"}),
], ids=["no-dreamer", "no-ferplus", "no-prototypes"])
@pytest.mark.slow
def test_a_config_that_switches_stages_off_says_so_before_planning(tmp_path, changes, said, gone):
    f = tmp_path / "cfg.yaml"
    f.write_text(yaml.safe_dump(_tiny(**changes), sort_keys=False))
    res = _snakemake(tmp_path, "-n", "--configfile", str(f))
    out = res.stdout
    assert res.returncode == 0, out[-3000:]
    assert said in out and out.index(said) < out.index("Building DAG"), out[:3000]
    planned = set(re.findall(r"^rule (\w+):$", out, re.M))
    assert planned and not gone & planned
    # the full tiny config says nothing of the kind
    from neuroaffect_workflow.config import switched_off

    assert switched_off(_tiny()) == []


# --- quoting -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_roots(tmp_path_factory, sim_root):
    """Copies of simulated DEAP and FERPlus roots under folders whose names hold a space and ``;touch INJECTED;#``."""
    from neuroaffect.simulate import simulate

    base = tmp_path_factory.mktemp("roots") / HOSTILE
    deap = shutil.copytree(Path(sim_root("deap")).parent, base / "deap") / Path(sim_root("deap")).name
    ferplus = simulate("ferplus", scale="tiny", out=base / "ferplus", seed=0)
    return {"deap": str(deap), "ferplus": str(ferplus)}


@pytest.mark.slow
def test_hostile_roots_are_quoted_in_every_command(tmp_path, hostile_roots):
    cfg = _tiny(**{"data.deap": {"root": hostile_roots["deap"]}, "faces.data.ferplus": {"root": hostile_roots["ferplus"]}})
    f = tmp_path / "cfg.yaml"
    f.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = _snakemake(tmp_path, "-n", "-p", "--configfile", str(f))
    out = res.stdout
    assert res.returncode == 0, out[-3000:]
    commands = [line for line in out.splitlines() if "neuroaffect " in line]
    with_roots = [c for c in commands if HOSTILE in c]
    assert {"summarize", "features", "train-student", "evaluate-students"} <= \
        {re.search(r"neuroaffect ([a-z-]+)", c).group(1) for c in with_roots}
    for c in with_roots:
        words = shlex.split(c.split("Shell command:", 1)[-1].split(">", 1)[0])
        assert any(HOSTILE in w and Path(w).exists() for w in words), c  # the root is one word, as written
        assert "touch" not in words and "INJECTED" not in words, c
    assert not list(tmp_path.rglob("INJECTED"))


@pytest.mark.slow
def test_device_holding_a_command_is_refused_by_the_workflow(tmp_path):
    f = tmp_path / "cfg.yaml"
    f.write_text(yaml.safe_dump(_tiny(**{"distill.train.device": "cpu --help;touch INJECTED;#"}), sort_keys=False))
    res = _snakemake(tmp_path, "-n", "-p", "--configfile", str(f))
    assert res.returncode != 0
    assert "touch INJECTED" in res.stdout and "does not match" in res.stdout, res.stdout[-3000:]
    assert "Shell command" not in res.stdout and not list(tmp_path.rglob("INJECTED"))


# --- provenance --------------------------------------------------------------------------------

@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
@pytest.mark.slow
def test_no_workflow_output_is_tracked_by_git(tmp_path):
    """Every file a run of the shipped config writes is ignored by git and untracked, so that a run leaves
    the checkout clean and code_version without .dirty."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config/config.yaml", tmp_path / "config/config.yaml")
    res = _snakemake(tmp_path, "-n")
    assert res.returncode == 0, res.stdout[-3000:]
    outputs = sorted({f for line in re.findall(r"^    output: (.*)$", res.stdout, re.M) for f in line.split(", ")})
    assert "reports/README.md" in outputs and len(outputs) > 50
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--", *outputs], capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked == []
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "--", *outputs],
                             capture_output=True, text=True).stdout.split()
    assert sorted(ignored) == outputs
