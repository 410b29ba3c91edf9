# Helpers shared by the rules: data roots, subject lists, targets.
from pathlib import Path

SIM = "results/sim"
DATASETS = list(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    subject=r"\d+",


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


def subjects(dataset):
    """Subject numbers of ``dataset``: known from the scale when simulated, listed when real."""
    if is_simulated(dataset):
        from neuroaffect.simulate import subjects as sim_subjects

        return sim_subjects(dataset, config["simulate"]["scale"])
    from neuroaffect.io import list_subjects

    return list_subjects(dataset, data_root(dataset))


def feature_params(dataset):
    """JSON of the FeatureParams for ``dataset``: shared params + its window and stride."""
    import json

    params = dict(config["features"]["params"])
    params.update(config["features"]["windows"].get(dataset, {}))
    return json.dumps(params)  # key order kept: it is the band order


def feature_files(dataset):
    return expand("results/features/{dataset}/{subject}.nc", dataset=dataset, subject=subjects(dataset))


wildcard_constraints:
    target="[a-z]+",
    task="binary|multiclass",
    model="[a-z0-9_]+",
    protocol="trial-holdout|seed-9-6|loso|rbt-pooled",


TRAIN_KEYS = ("folds", "epochs", "batch_size", "lr", "device", "seed", "control")


def _sweep_name(s):
    return f"{s['dataset']}/{s['target']}_{s['task']}_{s['model']}_{s['protocol']}"


def sweep_params(wc):
    """Training settings of one sweep: the config defaults, overridden by its entry."""
    name = f"{wc.dataset}/{wc.target}_{wc.task}_{wc.model}_{wc.protocol}"
    entry = next(s for s in config["training"]["sweeps"] if _sweep_name(s) == name)
    defaults = {"folds": 5, "epochs": 40, "batch_size": 64, "lr": 1e-3, "device": "auto", "seed": 0,
                "control": False}
    return {k: entry.get(k, config["training"].get(k, defaults[k])) for k in TRAIN_KEYS}


def sweep_results():
    return [f"results/sweeps/{_sweep_name(s)}.json" for s in config["training"]["sweeps"]
            if s["dataset"] in DATASETS]


def all_targets():
    targets = expand("reports/summary/{dataset}.md", dataset=DATASETS)
    for dataset in DATASETS:
        targets += feature_files(dataset)
    targets += expand("reports/features/{dataset}_label_contrast.png",
                      dataset=[d for d in DATASETS if d != "mahnob"])
    if config.get("training", {}).get("sweeps"):
        targets += [f"reports/sweeps/{_sweep_name(s).replace('/', '_')}.png"
                    for s in config["training"]["sweeps"] if s["dataset"] in DATASETS]
        targets += ["reports/results.md"]
    return targets
