"""Tooling of the Snakemake workflow (``docs/workflow.md``), kept out of the ``neuroaffect`` package.

- :mod:`.config`: checks of a workflow config (file bounds, cross-field checks, stages left out);
- :mod:`.commands`: which command each rule runs, and config values as command arguments;
- :mod:`.provenance`: the code hash of each command (a rerun trigger), cached under ``.snakemake/``.

The Snakefile puts ``workflow/lib`` on ``sys.path``; so do the tests and benchmarks that use it.
"""
