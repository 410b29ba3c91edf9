"""The labels table of a user's own recordings (:func:`neuroaffect.io.read_custom`): read and checked.

Its columns and rules: :mod:`neuroaffect.io.custom` and ``docs/formats.md`` ("Your own recordings").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError

__all__ = ["LABELS_FILE", "RESERVED_COLUMNS", "read_labels_table"]

#: Name of the labels table in a custom dataset's root.
LABELS_FILE = "labels.csv"
#: Columns of the labels table that are not labels.
RESERVED_COLUMNS = ("file", "subject", "session", "trial", "onset", "duration", "event", "events")


def _labels_path(root, labels) -> Path:
    return Path(root) / LABELS_FILE if labels is None else Path(labels)


def read_labels_table(fname, ratings=None, classes=None):
    """The labels table, checked, and how each label column is read.

    Parameters
    ----------
    fname : path-like
        The CSV (see the module docstring for its columns).
    ratings : dict of str -> (float, float) | None
        Rated columns and their inclusive scale ``(lowest, highest)``.
    classes : sequence of str | dict of str -> sequence | None
        Class columns (a dict fixes the order of the classes, else sorted values).

    Returns
    -------
    table : pandas.DataFrame
        One row per trial, with ``session`` filled (1) and ``row`` (the CSV line number).
    spec : dict
        ``{"ratings": {name: (lo, hi)}, "classes": {name: tuple of class names}}``.

    Raises
    ------
    DatasetFormatError
        Naming the CSV, the column or row, what was expected and what was found.
    """
    import pandas as pd

    fname = Path(fname)
    if not fname.is_file():
        raise DatasetFormatError(fname, f"a labels table (CSV, one row per trial; default name {LABELS_FILE})",
                                 "no such file")
    try:
        df = pd.read_csv(fname, dtype={"file": str, "event": str, "events": str}, skipinitialspace=True)
    except Exception as err:  # pandas reports malformed CSV with several types
        raise DatasetFormatError(fname, "a CSV table", f"an unreadable file ({type(err).__name__}: {err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ("file", "subject", "trial") if c not in df.columns]
    if missing:
        raise DatasetFormatError(fname, "columns file, subject, trial (and session, onset, duration, event, "
                                 "labels)", f"no column(s) {missing} among {list(df.columns)}")
    if df.empty:
        raise DatasetFormatError(fname, "at least one trial row", "an empty table")
    df["row"] = np.arange(len(df)) + 2  # line number in the file (after the header)
    if "session" not in df.columns:
        df["session"] = 1
    for col in ("subject", "session", "trial"):
        v = pd.to_numeric(df[col], errors="coerce")
        bad = v.isna() | (v != v.round()) | (v < 1)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetFormatError(fname, f"1-based integers in column {col!r}",
                                     f"{_val(df[col].iloc[i])} on line {df['row'].iloc[i]}")
        df[col] = v.astype(int)
    for col in ("onset", "duration"):
        if col in df.columns:
            v = pd.to_numeric(df[col], errors="coerce")
            bad = (v.notna() & ((v < 0) if col == "onset" else (v <= 0))) | (df[col].notna() & v.isna())
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DatasetFormatError(fname, f"{'non-negative' if col == 'onset' else 'positive'} seconds in "
                                         f"column {col!r}", f"{_val(df[col].iloc[i])} on line {df['row'].iloc[i]}")
            df[col] = v
    dup = df.duplicated(["subject", "session", "trial"], keep=False)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DatasetFormatError(fname, "one row per (subject, session, trial)",
                                 f"subject {df['subject'].iloc[i]}, session {df['session'].iloc[i]}, trial "
                                 f"{df['trial'].iloc[i]} on {int(dup.sum())} lines (first: line {df['row'].iloc[i]})")
    spec = _label_spec(fname, df, ratings, classes)
    return df, spec


def _label_spec(fname, df, ratings, classes) -> dict:
    """``{"ratings": {name: (lo, hi)}, "classes": {name: class names}}``, checked against ``df``."""
    import pandas as pd

    others = [c for c in df.columns if c not in RESERVED_COLUMNS + ("row",)]
    ratings = dict(ratings or {})
    if classes is None:
        classes = {} if ratings else {c: None for c in others}
    elif not isinstance(classes, dict):
        classes = {c: None for c in ([classes] if isinstance(classes, str) else classes)}
    both = sorted(set(ratings) & set(classes))
    if both:
        raise ValueError(f"Invalid value for the 'classes' parameter: {both} are also named in 'ratings'; a label "
                         "is either a rating on a scale or a class")
    absent = [c for c in list(ratings) + list(classes) if c not in df.columns]
    if absent:
        raise DatasetFormatError(fname, f"label column(s) {absent}", f"columns {others}")
    if not ratings and not classes:
        raise DatasetFormatError(fname, "at least one label column besides " + ", ".join(RESERVED_COLUMNS),
                                 f"columns {list(df.columns[:-1])}")
    out_r = {}
    for name, scale in ratings.items():
        try:
            lo, hi = (float(s) for s in scale)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid value for the 'ratings' parameter: expected {{name: (lowest, highest)}}, but "
                             f"got {scale!r} for {name!r}") from None
        if not lo < hi:
            raise ValueError(f"Invalid value for the 'ratings' parameter: expected lowest < highest, but got "
                             f"({lo:g}, {hi:g}) for {name!r}")
        v = pd.to_numeric(df[name], errors="coerce")
        bad = (df[name].notna() & v.isna()) | (v < lo) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetFormatError(fname, f"ratings in [{lo:g}, {hi:g}] (or empty: unlabeled) in column {name!r}",
                                     f"{_val(df[name].iloc[i])} on line {df['row'].iloc[i]}")
        df[name] = v.astype(float)
        out_r[name] = (lo, hi)
    out_c = {}
    for name, order in classes.items():
        col = df[name]
        values = col[col.notna()]
        text = values.astype(str).str.strip()
        if order is None:
            numeric = pd.to_numeric(values, errors="coerce")
            if numeric.notna().all():
                uniq = sorted(set(numeric.tolist()))
                order = [f"{u:g}" for u in uniq]
                text = numeric.map(lambda u: f"{u:g}")
            else:
                order = sorted(set(text))
        order = tuple(str(o) for o in order)
        unknown = sorted(set(text) - set(order))
        if unknown:
            i = int(np.flatnonzero(~text.isin(order).to_numpy())[0])
            raise DatasetFormatError(fname, f"classes {list(order)} in column {name!r}",
                                     f"{_val(values.iloc[i])} on line {df.loc[values.index[i], 'row']}")
        if len(order) < 2:
            raise DatasetFormatError(fname, f"at least two classes in column {name!r}", f"classes {list(order)}")
        codes = np.full(len(df), np.nan)
        codes[np.flatnonzero(col.notna().to_numpy())] = [order.index(t) for t in text]
        df[name] = codes
        out_c[name] = order
    return {"ratings": out_r, "classes": out_c}


def _val(v) -> str:
    """``repr`` of a table value as Python prints it (``12``, ``'x'``; not ``np.int64(12)``)."""
    return repr(v.item() if isinstance(v, np.generic) else v)
