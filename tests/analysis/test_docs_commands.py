"""Every command in docs/ runs: the fenced code blocks of the Markdown files are executed.

Convention (stated at the top of docs/tutorial.md):

* a ```` ```bash ```` block holds commands that are run, one per line, in order, from a
  scratch folder that has the repository's ``docs/`` (so ``docs/examples/...`` and
  ``runs/...`` paths work and every output lands in the scratch folder). Each command is
  ``[VAR=value ...] python -m MODULE ARGS`` (no pipes, ``&&`` or ``cd``); it runs
  in-process as ``MODULE.main(ARGS)`` and must return 0. ``VAR=value`` prefixes are
  set in the environment for that command (``PYTHONPATH`` entries also go on
  ``sys.path``). Scenario and sweep commands get ``--quick`` appended;
* a ```` ```python ```` block is executed (same folder, after the bash blocks before it);
* ```` ```console ```` blocks (installing, starting a cluster) are shown, not run, and
  ```` ```toml ```` blocks must be excerpts of a file in ``docs/examples/``;
* a page listed in ``NOT_RUN`` (with the reason) is skipped as a whole.

The fast tests check the blocks' shape and the example files; the slow test runs them all.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
RUN_LANGS = ("bash", "python")
SHOWN_LANGS = ("console", "toml", "text", "")
QUICK_MODULES = {"scenarios.green_tax", "scenarios.bandit_alignment", "scenarios.stackelberg", "analysis.sweep"}
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


@dataclass
class Command:
    block: Block
    env: dict[str, str]
    module: str
    argv: list[str]

    @property
    def text(self) -> str:
        return " ".join([*(f"{k}={v}" for k, v in self.env.items()), "python -m", self.module, *self.argv])


NOT_RUN: dict[str, str] = {
    # pages whose blocks cannot run here, with the reason; prefer ```console blocks for such commands
    "dashboard.md": "serves a web page until Ctrl-C and runs pytest; tests/scenarios/test_dashboard_*.py cover it",
}


def doc_files() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.name not in NOT_RUN)


def blocks(path: Path) -> list[Block]:
    out, lang, start, buf = [], None, 0, []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = FENCE.match(line)
        if lang is None and m:
            lang, start, buf = m.group(1), i, []
        elif lang is not None and line.strip() == "```":
            out.append(Block(path, start, lang, "\n".join(buf) + "\n"))
            lang = None
        elif lang is not None:
            buf.append(line)
    assert lang is None, f"{path}: unclosed code fence at line {start}"
    return out


def all_blocks() -> list[Block]:
    return [b for path in doc_files() for b in blocks(path)]


def commands(block: Block) -> list[Command]:
    lines, joined = [], ""
    for raw in block.text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            joined += line[:-1] + " "
            continue
        line, joined = joined + line, ""
        if line.strip() and not line.strip().startswith("#"):
            lines.append(line)
    out = []
    for line in lines:
        words = shlex.split(line, comments=True)
        env = {}
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        assert words[:2] == ["python", "-m"] and len(words) >= 3, f"{block.where}: not `python -m MODULE`: {line}"
        assert not {"|", "&&", ";", ">", "<"} & set(words), f"{block.where}: no shell features, please: {line}"
        out.append(Command(block, env, words[2], words[3:]))
    return out


def runnable() -> list[Block]:
    return [b for b in all_blocks() if b.lang in RUN_LANGS]


# ------------------------------------------------------------------ fast checks
def test_the_docs_have_runnable_blocks_and_known_fences():
    assert (DOCS / "tutorial.md").exists()
    langs = {b.lang for b in all_blocks()}
    assert langs <= set(RUN_LANGS) | set(SHOWN_LANGS), f"unknown fence languages: {langs - set(RUN_LANGS)}"
    assert len([b for b in runnable() if b.lang == "bash"]) >= 6


def test_every_bash_command_names_an_entry_point_and_writes_under_runs():
    for block in runnable():
        if block.lang != "bash":
            continue
        for cmd in commands(block):
            module = importlib.import_module(cmd.module)
            assert callable(getattr(module, "main", None)), f"{block.where}: {cmd.module} has no main()"
            if "--out" in cmd.argv:
                out = cmd.argv[cmd.argv.index("--out") + 1]
                assert out.startswith("runs/"), f"{block.where}: --out should be under runs/: {cmd.text}"
            for value in cmd.argv:
                if value.startswith("docs/"):
                    assert (ROOT / value).exists(), f"{block.where}: {value} does not exist"


def test_toml_blocks_are_excerpts_of_the_example_files():
    files = {p: tomllib.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES.glob("*.toml")}

    def subset(small: Any, big: Any) -> bool:
        if isinstance(small, dict):
            return isinstance(big, dict) and all(k in big and subset(v, big[k]) for k, v in small.items())
        return small == big

    for block in all_blocks():
        if block.lang == "toml":
            excerpt = tomllib.loads(block.text)
            assert any(subset(excerpt, doc) for doc in files.values()), f"{block.where}: not in docs/examples/*.toml"


def test_example_configs_load():
    from analysis.sweep import load_sweep
    from scenarios.green_tax import Args
    from simulator.config import load_toml

    heating = load_toml(Args, EXAMPLES / "heating.toml")
    assert heating.economy.technologies == ["none", "gas_boiler", "heat_pump"]
    for name in ("sweep.toml", "sweep_random.toml"):
        assert load_sweep(EXAMPLES / name).points


def test_example_learner_and_policy_follow_the_contracts(monkeypatch):
    import numpy as np

    monkeypatch.syspath_prepend(str(EXAMPLES))
    from my_learners import Satisficer
    from my_policies import CarbonTaxRamp

    from simulator import IncentiveModel, PrincipalSpec, make_learner

    lr = make_learner("my_learners:Satisficer", 5, 3, rng=np.random.default_rng(0), initial_values=[0.0, 1.0, 0.5])
    assert isinstance(lr, Satisficer)
    first = lr.act()
    assert first.tolist() == [1] * 5
    lr.update(first, np.full(5, -3.0))  # a bad year sets the aspiration; a worse one disappoints
    lr.update(first, np.full(5, -9.0))
    assert (lr.act() != 1).all()
    model = IncentiveModel(n_agents=50, n_actions=3, learner="my_learners:Satisficer", seed=0)
    model.run(rounds=5)

    ramp = CarbonTaxRamp(ramp_years=4)
    spec = PrincipalSpec(
        n_actions=3,
        n_agents=1,
        signed=True,
        lower=np.full(3, -1e4),
        upper=np.full(3, 1e4),
        principal_values=np.array([0.0, -100.0, -40.0]),
    )
    ramp.reset(spec, np.random.default_rng(0))
    assert [ramp.carbon_tax_share(t) for t in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]  # a share of the SCC
    for _ in range(5):
        assert ramp.act().tolist() == [0.0, 0.0, 0.0]  # no vehicle incentive
        ramp.observe(None)
    assert ramp.schedule(0, 3).shape == (3, 3)


# ------------------------------------------------------------------ run them all
def _run_command(cmd: Command, cwd: Path) -> None:
    saved_env = {k: os.environ.get(k) for k in cmd.env}
    saved_path = list(sys.path)
    try:
        for key, value in cmd.env.items():
            os.environ[key] = value
            if key == "PYTHONPATH":
                sys.path[:0] = [str((cwd / p).resolve()) for p in value.split(os.pathsep) if p]
        argv = list(cmd.argv)
        if cmd.module in QUICK_MODULES and "--quick" not in argv:
            argv.append("--quick")
        code = importlib.import_module(cmd.module).main(argv)
        assert code == 0, f"{cmd.block.where}: exit code {code}: {cmd.text}"
    finally:
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.slow
def test_every_docs_command_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "docs").symlink_to(DOCS, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    ray = sys.modules.get("ray")
    ray_was_running = ray is not None and ray.is_initialized()
    timings = []
    try:
        for block in runnable():
            start = time.perf_counter()
            if block.lang == "python":
                code = compile(block.text, block.where, "exec")
                exec(code, {"__name__": "__docs__"})
            else:
                for cmd in commands(block):
                    _run_command(cmd, tmp_path)
            timings.append((block.where, time.perf_counter() - start))
    finally:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized() and not ray_was_running:
            ray.shutdown()
    with capsys.disabled():
        print("\ndocs blocks:", ", ".join(f"{w} {s:.1f}s" for w, s in timings))
    runs = tmp_path / "runs" / "tutorial"
    for name in ("headline", "heating", "satisficers", "ramp", "compare", "sweep", "sweep-ray"):
        assert (runs / name).is_dir(), name
    assert (runs / "sweep" / "results.csv").read_bytes() == (runs / "sweep-ray" / "results.csv").read_bytes()
