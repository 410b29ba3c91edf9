# neuroaffect: read -> featurize -> train -> distil, on simulated data by default.
#   snakemake --cores all                      everything
#   snakemake --report reports/report.html     the report
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("8.0")


# The workflow's own tooling (config checks, command tables, code hashes) lives in workflow/lib, outside the
# package: nothing under neuroaffect/ imports it or snakemake.
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "lib"))

from neuroaffect_workflow.config import check_config, check_config_file, switched_off, unreadable

# Every config file is read first as a stream of YAML events, within bounds of size, nesting and alias
# expansion (neuroaffect_workflow.config.check_config_file): a "billion laughs" file is refused here,
# before the schema walks its expanded tree. (A read at parse time that cannot wait: Snakemake itself
# parses these files next.)
for _file in workflow.overwrite_configfiles or ["config/config.yaml"]:
    if workflow.overwrite_configfiles or Path(_file).exists():
        check_config_file(_file)


# `--configfile FILE` replaces the demo config instead of being merged into it: a dataset that FILE
# leaves out is off (e.g. snakemake --configfile config/full.yaml, or config/real.yaml).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "workflow/schemas/config.schema.yaml")


check_config(config)


include: "workflow/rules/common.smk"


# What the config leaves out and which configured roots cannot be read, said once, here, before any job is
# planned (docs/workflow.md: a run never does less in silence; `snakemake -n` shows it too, which a rule or an
# onstart handler would not). It reads no file: the roots were looked at once, by the checks that shape the DAG.
if workflow.is_main_process:
    for _line in switched_off(config) + unreadable(config, unreadable_roots()):
        print(f"neuroaffect: {_line}", file=sys.stderr)


wildcard_constraints:
    dataset="|".join(DATASETS),
    subject=r"\d+",
    target="[a-z]+",
    task="binary|multiclass|regression",
    model="[a-z0-9_]+",
    protocol="trial-holdout|seed-9-6|loso|rbt-pooled|cross-session",
    face="ferplus|affectnet-mini|ckplus",
    arm="B0|B1|B2|B3|B3-shuffled|B3-coordinate|B3-oracle|B3-labelled",
    seed=r"\d+",


# Scheduling: the longest chain (simulate and featurize the teacher's data, teacher and its second-source CV,
# the grid, the students trained against it, their evaluation) goes first (`priority: 20`, then 10 for the
# students); the sweeps (priority 0) fill the cores it leaves free, so that the run takes about its total
# compute over the cores rather than the chain plus the sweeps.
include: "workflow/rules/simulate.smk"
include: "workflow/rules/summarize.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/prototypes.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/provenance.smk"


rule all:
    input:
        all_targets(),
    default_target: True
