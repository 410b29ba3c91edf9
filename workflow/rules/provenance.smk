# Code changes rerun what they affect. Every rule that runs a `neuroaffect` command gets one more
# param, `code`: the hash of the package code that command runs (neuroaffect.pipeline.provenance;
# comments and docstrings do not count). Snakemake's default rerun trigger `params` then reruns the
# jobs of a rule whose code changed, and their outputs' consumers after them; the others stay.
# Included last, after every rule is defined.
import re

from neuroaffect.cli import build_parser
from neuroaffect.pipeline.provenance import command_hashes

CODE = command_hashes(build_parser())
for _rule in workflow.rules:
    _command = re.search(r"\bneuroaffect ([a-z][a-z-]*)", _rule.shellcmd or "")
    if _command:
        _rule.set_params(code=CODE[_command.group(1)])
