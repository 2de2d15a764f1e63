"""The run options every entry point shares: declared once, checked before any work, shown plainly by --help."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import time
from pathlib import Path

import pytest

from analysis import compare, sweep
from policies import train
from scenarios import bandit_alignment, green_tax, stackelberg
from simulator.config import (
    ConfigError,
    RunOptions,
    ScenarioOptions,
    build_parser,
    parse_args,
    plain_text,
    set_threads,
    thread_limit,
)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"green_tax": green_tax, "bandit_alignment": bandit_alignment, "stackelberg": stackelberg}
CLIS = {**{name: (m.main, m.Args) for name, m in SCENARIOS.items()}, "policies.train": (train.main, train.TrainArgs)}


def _run(main, argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


# ------------------------------------------------------------ one declaration
@pytest.mark.parametrize("name", list(CLIS))
def test_every_cli_takes_its_run_options_from_the_one_base(name):
    _main, cls = CLIS[name]
    base = ScenarioOptions if name in SCENARIOS else RunOptions
    assert issubclass(cls, base)
    own = {f.name: f for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(base):  # inherited, not declared again (a redeclared field is a new object)
        assert own[f.name] is f, f"{name} redeclares {f.name}"


def test_the_sweep_takes_the_same_output_and_task_options():
    from simulator.config import OutputOptions, TaskOptions

    own = {f.name: f for f in dataclasses.fields(sweep.SweepArgs)}
    for base in (OutputOptions, TaskOptions):
        assert issubclass(sweep.SweepArgs, base)
        for f in dataclasses.fields(base):
            assert own[f.name] is f, f"analysis.sweep redeclares {f.name}"
    for cls in (green_tax.Args, stackelberg.Args):
        assert dataclasses.fields(cls)[0] is dataclasses.fields(OutputOptions)[0]  # the same field objects


def test_thread_setup_lives_in_one_place():
    """Only simulator.config sets numba/torch threads for a run (the kernels' own serial switch aside)."""
    files = [
        "scenarios/green_tax/cli.py",
        "scenarios/bandit_alignment.py",
        "scenarios/stackelberg.py",
        "scenarios/_backend.py",
        "scenarios/_cli.py",
        "policies/train.py",
        "policies/ray_rollouts.py",
        "analysis/sweep.py",
    ]
    for rel in files:
        path = ROOT / rel
        if path.exists():
            assert "set_num_threads" not in path.read_text(encoding="utf-8"), rel


def test_set_threads_and_thread_limit_set_what_they_are_given():
    import numba
    import torch

    before = (numba.get_num_threads(), torch.get_num_threads())
    try:
        set_threads(2)
        with thread_limit(1):
            assert (numba.get_num_threads(), torch.get_num_threads()) == (1, 1)
        assert torch.get_num_threads() == 2 and numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
        with thread_limit(None):  # None leaves them
            assert torch.get_num_threads() == 2
    finally:
        numba.set_num_threads(before[0])
        torch.set_num_threads(before[1])


def test_stackelberg_resume_and_device_exist_and_device_is_checked():
    args, _ = parse_args(stackelberg.Args, ["--resume", "--device", "cpu"], prog="x")
    assert args.resume and args.device == "cpu"
    code, err = _run(stackelberg.main, ["--device", "torch-cpu", "--quick", "--no-progress"])
    assert code == 2 and err.startswith("error: device:") and len(err.strip().splitlines()) == 1


def test_shots_bounds_are_the_same_everywhere():
    for module in SCENARIOS.values():
        with pytest.raises(ConfigError, match=r"shots\[0\]: must be in \[0, 20\]"):
            parse_args(module.Args, ["--shots", "21"], prog="x")


# ------------------------------------------------------------- --out checked
def _sweep_main(argv: list[str]) -> int:
    return sweep.main([str(ROOT / "docs/examples/sweep.toml"), *argv])


def _compare_main(argv: list[str]) -> int:
    return compare.main(["nowhere", *argv])


MAINS = {
    **{name: m.main for name, m in SCENARIOS.items()},
    "policies.train": train.main,
    "analysis.sweep": _sweep_main,
    "analysis.compare": _compare_main,
}


@pytest.mark.parametrize("name", list(MAINS))
@pytest.mark.parametrize("where", ["through_a_file", "unwritable"])
def test_an_output_path_that_cannot_be_created_is_one_line_before_any_work(name, where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if where == "through_a_file":
        (tmp_path / "results.csv").write_text("x\n")
        out = tmp_path / "results.csv" / "run"
    else:
        out = Path("/proc/no-such-folder/run")  # procfs: nothing can be created there, not even as root
    argv = ["--out", str(out)] + ([] if name == "analysis.compare" else ["--no-progress"])
    started = time.perf_counter()
    code, err = _run(MAINS[name], argv)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: out: cannot create"), err
    assert time.perf_counter() - started < 20  # refused before any simulation or training
    assert sorted(p.name for p in tmp_path.iterdir()) == (["results.csv"] if where == "through_a_file" else [])


# ------------------------------------------------------- tables on the CLI
def test_a_table_field_accepts_json_and_toml_inline_on_the_command_line():
    json_form = '{"ucb1": {"weight": 1.0, "c": 300.0}, "softmax": {"weight": 2, "temperature": 400}}'
    toml_form = "{ucb1 = {weight = 1.0, c = 300.0}, softmax = {weight = 2, temperature = 400}}"
    a, _ = parse_args(green_tax.Args, ["--households.learners", json_form], prog="x")
    b, _ = parse_args(green_tax.Args, ["--households.learners", toml_form], prog="x")
    assert a.households.learners == b.households.learners
    assert a.households.learners == {"ucb1": {"weight": 1.0, "c": 300.0}, "softmax": {"weight": 2, "temperature": 400}}


def test_a_list_field_accepts_a_bracketed_form_too():
    a, _ = parse_args(green_tax.Args, ["--response-rises", "[0.1, 0.3]"], prog="x")
    b, _ = parse_args(green_tax.Args, ["--response-rises", "0.1,0.3"], prog="x")
    assert a.response_rises == b.response_rises == [0.1, 0.3]


def test_a_malformed_table_is_one_line():
    code, err = _run(green_tax.main, ["--households.learners", "{ucb1: 1", "--no-progress"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: households.learners: must be a table in JSON or TOML inline form")


def test_a_table_given_on_the_command_line_reaches_the_run():
    """The flag is not only parsed: the households of the run are of the families it names."""
    args, _ = parse_args(
        green_tax.Args, ["--households.learners", '{"ucb1": {"weight": 1, "c": 300}}', "--quick"], prog="x"
    )
    mix = green_tax.setting_mix(args.households, "headline")
    assert list(mix.learners) == ["ucb1"]


# ------------------------------------------------------------------- --help
def test_plain_text_renders_docstring_markup():
    text = "see ``--principals`` and :mod:`scenarios.green_tax`"
    assert plain_text(text) == "see --principals and scenarios.green_tax"
    assert plain_text(":func:`~policies.make_principal` builds it::\n\n    x") == "make_principal builds it:\n\n    x"


@pytest.mark.parametrize("name", list(CLIS))
def test_help_is_plain_text_with_one_default_per_option(name):
    _main, cls = CLIS[name]
    module = SCENARIOS.get(name, train)
    parser = build_parser(cls, prog=f"python -m {name}", description=module.__doc__)
    text = parser.format_help()
    for markup in ("``", ":mod:", ":func:", ":class:", ":meth:"):
        assert markup not in text, markup
    for action in parser._actions:
        if action.help and action.dest not in ("help", "config"):
            assert len(re.findall(r"\(default|default:", action.help)) == 1, action.help
    if name in SCENARIOS:
        assert f"default: runs/{name}/<time>" in " ".join(text.split())


def test_workers_is_a_scenario_option_and_a_sweep_flag():
    args, _ = parse_args(green_tax.Args, ["--workers", "3"], prog="x")
    assert args.workers == 3
    with pytest.raises(ConfigError, match=r"workers: must be in \[1, inf\)"):
        parse_args(bandit_alignment.Args, ["--workers", "0"], prog="x")
    assert "workers" not in {f.name for f in dataclasses.fields(train.TrainArgs)}  # training has no task pool
    code, err = _run(_sweep_main, ["--workers", "0"])
    assert code == 2 and err.startswith("error: workers: must be in [1, inf), got 0")


@pytest.mark.parametrize("main", [sweep.main, compare.main], ids=["analysis.sweep", "analysis.compare"])
def test_analysis_help_is_plain_text(main, capsys):
    with pytest.raises(SystemExit) if main is sweep.main else contextlib.nullcontext():
        main(["--help"])
    text = capsys.readouterr().out
    assert "usage:" in text and "--out" in text
    for markup in ("``", ":mod:", ":func:", ":class:"):
        assert markup not in text, markup
