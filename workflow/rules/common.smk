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


def all_targets():
    targets = expand("reports/summary/{dataset}.md", dataset=DATASETS)
    return targets
