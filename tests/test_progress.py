"""Progress of long steps: silent in the library, a line per step in a log, a bar on a terminal."""

import io

import pytest

from neuroaffect._progress import Progress, progress_enabled, progress_range


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_silent_unless_turned_on():
    out = io.StringIO()
    p = Progress(3, "simulate deap", stream=out)
    p.update()
    p.close()
    assert out.getvalue() == ""


def test_one_line_per_step_in_a_log():
    out = io.StringIO()
    with progress_enabled():
        p = Progress(2, "simulate deap", stream=out)
        p.update()
        p.update()
        q = Progress(None, "features dreamer", stream=out)  # total unknown: no ETA
        q.update()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[simulate deap] subject 1/2, ") and ", ETA " in lines[0]
    assert lines[1].startswith("[simulate deap] subject 2/2, ")
    assert lines[2].startswith("[features dreamer] subject 1, ") and "ETA" not in lines[2]


def test_a_bar_on_a_terminal():
    out = _Terminal()
    with progress_enabled():
        p = Progress(4, "simulate faces", unit="image", stream=out)
        p.update(4)
        p.close()
    text = out.getvalue()
    assert "simulate faces:" in text and "/4 [" in text and "\r" in text  # a tqdm bar, redrawn in place
    assert "[simulate faces] image" not in text  # no log lines on a terminal


def test_progress_range_counts_finished_items(capsys):
    with progress_enabled():
        assert list(progress_range(1, 4, "simulate seed")) == [1, 2, 3]
    err = capsys.readouterr().err.splitlines()
    assert [e.split(",")[0] for e in err] == [f"[simulate seed] subject {i}/3" for i in (1, 2, 3)]


def test_simulate_reports_each_subject_unless_told_not_to(tmp_path, capsys):
    from neuroaffect.cli import main

    assert main(["simulate", "--dataset", "mahnob", "--scale", "tiny", "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "[simulate mahnob] subject 1/2" in err and "[simulate mahnob] subject 2/2" in err
    assert main(["simulate", "--dataset", "mahnob", "--scale", "tiny", "--out", str(tmp_path / "b"),
                 "--no-progress"]) == 0
    assert "[simulate" not in capsys.readouterr().err
    # the library alone stays silent
    from neuroaffect.simulate import simulate

    simulate("ferplus", scale="tiny", out=tmp_path / "c")
    assert "[simulate" not in capsys.readouterr().err
    simulate("ferplus", scale="tiny", out=tmp_path / "d", progress=True)
    assert "[simulate faces] image" in capsys.readouterr().err


@pytest.mark.slow
def test_features_of_many_subjects_report_each_subject(sim_root, capsys):
    from neuroaffect.pipeline import load_windows

    windows, _ = load_windows("deap", "valence", "binary", root=sim_root("deap"), progress=True)
    err = capsys.readouterr().err
    assert "[features deap] subject 1, " in err and "[features deap] subject 2, " in err
    load_windows("deap", "valence", "binary", root=sim_root("deap"), subjects=[2], progress=True)
    assert "[features deap] subject 1/1, " in capsys.readouterr().err
