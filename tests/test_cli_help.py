"""Every command's --help shows its defaults and an example, and every option says what it is."""

import argparse
import re

import pytest


@pytest.fixture(scope="module")
def commands():
    from neuroaffect.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_command_has_defaults_an_example_and_option_help(commands, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")  # no wrapping (argparse breaks lines at hyphens)
    problems = []
    for name, parser in commands.items():
        text = " ".join(parser.format_help().split())  # unwrapped
        if not re.search(rf"Example: neuroaffect {re.escape(name)}\b", text):
            problems.append(f"{name}: no 'Example: neuroaffect {name} ...' in --help")
        if not issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter):
            problems.append(f"{name}: --help does not show defaults (formatter {parser.formatter_class.__name__})")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flag = "/".join(action.option_strings) or action.dest
            if not action.help and not action.choices:
                problems.append(f"{name} {flag}: no help text")
            shown = action.default not in (None, False, argparse.SUPPRESS) and not action.required
            if action.option_strings and shown and f"(default: {action.default})" not in text:
                problems.append(f"{name} {flag}: default {action.default!r} not shown")
    assert not problems, "\n".join(problems)


def test_quantities_state_their_units(commands):
    """Options holding a number (other than a seed) say its unit or what it counts."""
    units = re.compile(r"\b(s|Hz|pixels?|samples?|epochs?|windows?|images?|maps?|steps?|folds?|"
                       r"trials?|subjects?|unitless|cosine|norm|AdamW|per|bins?|fraction|%|seconds?)\b")
    problems = []
    for name, parser in commands.items():
        for action in parser._actions:
            if action.option_strings and action.type in (int, float) and action.dest != "seed" \
                    and not units.search(action.help or ""):
                problems.append(f"{name} {'/'.join(action.option_strings)}: {action.help!r}")
    assert not problems, "\n".join(problems)


def test_each_command_is_registered_under_its_own_name():
    from neuroaffect import cli

    for name, add in cli._COMMANDS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        add(sub)
        assert list(sub.choices) == [name]


def test_a_command_without_training_starts_without_torch():
    """Each workflow job is one command in a fresh process: those that train nothing (simulate, summarize,
    features, the report pages) do not pay for importing torch."""
    import subprocess
    import sys

    code = ("import sys\nfrom neuroaffect.cli import build_parser\n"
            "for c in ('simulate', 'summarize', 'features', 'plot-features', 'render-html', 'compose-readme'):\n"
            "    build_parser(c)\n"
            "print('torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
