"""neuroaffect: a reproducible EEG emotion pipeline.

Layers, lowest first: ``_utils`` -> ``channels`` -> ``io`` -> ``features`` / ``simulate``
-> ``models`` / ``viz`` -> ``training`` -> ``prototypes`` -> ``distill`` -> ``report`` (every table and
page) -> ``pipeline``; ``cli`` on top.
"""

__version__ = "0.1.0"
