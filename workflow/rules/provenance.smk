# Code changes rerun what they affect. Every rule that runs a `neuroaffect` command (the declared table
# neuroaffect_workflow.commands.RULE_COMMANDS) gets one more param, `code`: the hash of the package code that
# command runs (neuroaffect_workflow.provenance; comments and docstrings do not count). Snakemake's default
# rerun trigger `params` then reruns the jobs of a rule whose code changed, and their outputs' consumers after
# them; the others stay. Included last, after every rule is defined.
# The package's sources are read here, while the workflow is parsed, because a param must be known to plan
# the DAG; the hashes are kept in .snakemake/ and read back while no source file changes.
from neuroaffect_workflow.commands import RULE_COMMANDS, command_handlers
from neuroaffect_workflow.provenance import CACHE, command_hashes

CODE = command_hashes(command_handlers(sorted(set(RULE_COMMANDS.values()))), cache=CACHE)
for _rule in workflow.rules:
    if _rule.name in RULE_COMMANDS:
        _rule.set_params(code=CODE[RULE_COMMANDS[_rule.name]])
