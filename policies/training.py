"""Meta-training of the learned principals: batched rollouts, the outer loop, checkpoints.

A *training problem* (provided by a scenario, e.g. ``scenarios.bandit_alignment``)
describes the task distribution and builds a batched environment of
independent principal-agent *rows* (one row = one agent in the bandit task,
one population in green_tax). The trainer never looks inside the simulator:
it sends each row's incentives and receives what the principal observes.

Randomness: one ``numpy.random.Generator`` (tasks, environment seeds) and one
``torch.Generator`` (initial weights, exploration noise), both made from the
run's seed; no global RNG state is touched.

Checkpoints are written atomically (temp file + rename) and loaded with
``torch.load(..., weights_only=True)``; a checkpoint made for another problem
(K, bounds, observation setting, horizon) or another format version is refused
with a message naming the mismatch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.func import functional_call, vmap

from .mermaide import (
    MermaideConfig,
    NetSpec,
    PrincipalNet,
    Trajectories,
    adapt_params,
    incentives_from_pre,
    outer_loss,
)
from .nets import RunningStats, encode_observation

__all__ = [
    "CHECKPOINT_FORMAT",
    "BatchEnv",
    "CheckpointError",
    "StepResult",
    "TrainingProblem",
    "load_checkpoint",
    "make_noise",
    "meta_train",
    "perceived_reward",
    "rollout",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "learning-incentives/principal-net"
CHECKPOINT_VERSION = 1


@dataclass
class StepResult:
    """What one round returns for every row.

    Attributes:
        actions: observed action per row (n,) or None.
        shares: observed choice shares per row (n, K) or None.
        rewards: observed agent reward per row (n,) or None.
        principal_reward: the principal's true reward per row (n,), for logging.
    """

    actions: np.ndarray | None
    shares: np.ndarray | None
    rewards: np.ndarray | None
    principal_reward: np.ndarray


class BatchEnv(Protocol):
    """Independent principal-agent rows stepped together."""

    n_rows: int

    def step(self, incentives: np.ndarray) -> StepResult:
        """Play one round with per-row incentives (n, K)."""


class TrainingProblem(Protocol):
    """A task distribution and an environment factory (provided by a scenario)."""

    name: str
    net_spec: NetSpec

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """Draw ``n`` training tasks (agent types)."""

    def make_env(self, tasks: list[Any], rows_per_task: int, seed: int) -> BatchEnv:
        """A fresh batch of agents, ``rows_per_task`` per task, task-major order."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here (corrupt, other format, other problem)."""


def perceived_reward(spec: NetSpec, x: np.ndarray, actions: np.ndarray | None, shares: np.ndarray | None) -> np.ndarray:
    """The principal's reward as it perceives it from its observations, per row.

    ``v[a] - c max(x[a], 0)`` for the observed action (only payments cost), or the
    share-weighted version.
    """
    values = np.asarray(spec.values)
    per_action = values[None, :] - spec.cost * np.maximum(x, 0.0)
    if actions is not None:
        return per_action[np.arange(x.shape[0]), actions]
    assert shares is not None
    return (per_action * shares).sum(axis=1)


def _policy_mean(net: PrincipalNet, params: dict[str, torch.Tensor], h: torch.Tensor, tf: torch.Tensor, batched: bool):
    if batched:
        return vmap(lambda p, hh: functional_call(net, p, ("policy", hh, tf.expand(*hh.shape[:-1], 1))))(params, h)
    return functional_call(net, params, ("policy", h, tf.expand(*h.shape[:-1], 1)))


def _cell(net: PrincipalNet, params: dict[str, torch.Tensor], obs: torch.Tensor, h: torch.Tensor, batched: bool):
    if batched:
        return vmap(lambda p, o, hh: functional_call(net, p, ("step", o, hh)))(params, obs, h)
    return functional_call(net, params, ("step", obs, h))


@torch.no_grad()
def rollout(
    net: PrincipalNet,
    params: dict[str, torch.Tensor],
    env: BatchEnv,
    n_tasks: int,
    rows_per_task: int,
    explore_std: float,
    generator: torch.Generator,
    *,
    batched_params: bool = False,
    explore_uniform: float = 0.0,
    true_reward: bool = False,
) -> tuple[Trajectories, np.ndarray]:
    """Play one episode with every row of ``env``.

    Args:
        net: the network.
        params: parameters, shared or with a leading task dim (``batched_params``).
        env: the batch environment (rows in task-major order).
        n_tasks: number of tasks B.
        rows_per_task: rows per task m.
        explore_std: std of the Gaussian noise added to the policy's pre-sigmoid output.
        generator: torch generator for the exploration noise.
        batched_params: ``params`` has a leading task dimension.
        explore_uniform: probability that a row's incentives in a round are uniform in the box.
        true_reward: learn from the environment's true principal reward (simulation
            training of a return critic) instead of the reward perceived from observations.

    Returns:
        Trajectories with batch dims (B, m) and the true principal reward (B, m, T).
    """
    spec = net.spec
    k, horizon = spec.n_actions, spec.horizon
    h0 = params["encoder.h0"]
    h = (h0[:, None, :] if batched_params else h0[None, None, :]).expand(n_tasks, rows_per_task, h0.shape[-1])
    obs_l, pre_l, act_l, rew_l, true_l = [], [], [], [], []
    n = n_tasks * rows_per_task
    stats = RunningStats(n, k, horizon)
    for t in range(horizon):
        tf = torch.tensor([t / horizon], dtype=torch.float32)
        mean = _policy_mean(net, params, h, tf, batched_params)
        pre = mean + explore_std * torch.randn(mean.shape, generator=generator) if explore_std > 0 else mean
        if explore_uniform > 0:
            # some rounds play a uniformly random incentive so the world model sees the whole response
            u = torch.rand(mean.shape, generator=generator).clamp(1e-4, 1 - 1e-4)
            pick = torch.rand(mean.shape[:-1], generator=generator) < explore_uniform
            pre = torch.where(pick.unsqueeze(-1), torch.logit(u), pre)
        x = incentives_from_pre(net, pre).to(torch.float64).numpy().reshape(n, k)
        res = env.step(x)
        _check_observed(res, t)
        obs = encode_observation(
            x, res.actions, None, res.rewards, n, k, (t + 1) / horizon, spec.x_scale, spec.reward_scale, stats
        )
        if res.actions is None and res.shares is not None:
            obs[:, k : 2 * k] = torch.from_numpy(np.asarray(res.shares, dtype=np.float32))
        obs = obs.reshape(n_tasks, rows_per_task, -1)
        h = _cell(net, params, obs, h, batched_params)
        obs_l.append(obs)
        pre_l.append(pre)
        acts = res.actions if res.actions is not None else np.full(n, -1)
        act_l.append(torch.from_numpy(np.asarray(acts, dtype=np.int64)).reshape(n_tasks, rows_per_task))
        rew_l.append(torch.from_numpy(perceived_reward(spec, x, res.actions, res.shares).astype(np.float32)))
        true_l.append(np.asarray(res.principal_reward, dtype=np.float64))
    true = np.stack(true_l, axis=-1).reshape(n_tasks, rows_per_task, horizon)
    reward = (
        torch.from_numpy(true.astype(np.float32))
        if true_reward
        else torch.stack(rew_l, dim=-1).reshape(n_tasks, rows_per_task, horizon)
    )
    traj = Trajectories(
        obs=torch.stack(obs_l, dim=-2),
        pre=torch.stack(pre_l, dim=-2),
        actions=torch.stack(act_l, dim=-1),
        reward=reward,
        tfrac=torch.arange(horizon, dtype=torch.float32) / horizon,
    )
    return traj, true


def _check_observed(res: StepResult, t: int) -> None:
    # a non-finite observation would turn the policy's next incentives into NaN
    for name in ("rewards", "shares"):
        value = getattr(res, name)
        if value is not None and not np.isfinite(value).all():
            raise FloatingPointError(f"non-finite observed {name} from the environment in round {t}")


def make_noise(cfg: MermaideConfig, spec: NetSpec, lead: tuple[int, ...], m: int, gen: torch.Generator):
    """Random numbers of the model-based policy loss: lead + (S or C, agents, T, K)."""
    shape = (m, spec.horizon, spec.n_actions)
    return {
        "smooth": torch.randn((*lead, cfg.policy_samples, *shape), generator=gen),
        "cand": torch.rand((*lead, cfg.candidates, *shape), generator=gen),
    }


def meta_train(
    problem: TrainingProblem,
    cfg: MermaideConfig,
    seed: int,
    *,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    backend: str = "local",
    task_envs: bool = False,
    workers: int | None = None,
) -> tuple[PrincipalNet, list[dict[str, float]]]:
    """Train a learned principal (any variant) on ``problem``'s task distribution.

    Every variant sees the same number of environment steps per update: two
    episodes (support and query) of ``agents_per_task`` agents for each of
    ``tasks_per_batch`` types.

    Args:
        problem: the training problem.
        cfg: method config.
        seed: the run's seed.
        progress: called after every update with (update index, log dict).
        checkpoint_path: where to write checkpoints every ``cfg.checkpoint_every`` updates.
        resume: continue from ``checkpoint_path`` if it holds a checkpoint of this run.
        backend: where the rollouts' environments live: ``"local"`` (this process)
            or ``"ray"`` (per-task environments in Ray actors, one per shard of
            tasks, stepped round by round; see :mod:`policies.ray_rollouts`). The
            trainer stays here.
        task_envs: build one environment per task, seeded from (seed, update,
            episode, task index), as the Ray actors do (implied by ``"ray"``); then
            ``"local"`` and ``"ray"`` give identical weights. Off: one batched
            environment per episode (the default, faster in one process).
        workers: Ray actors (default: the CPUs Ray offers, at most ``tasks_per_batch``).

    Returns:
        The trained network (its parameters are the meta-learned initialisation)
        and one log dict per update.
    """
    spec = problem.net_spec
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(seed)
    net = PrincipalNet(spec, cfg.hidden, cfg.policy_hidden, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    logs: list[dict[str, float]] = []
    start = 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, expect_spec=spec, expect_variant=cfg.variant)
        _check_resumable(state, cfg, seed, checkpoint_path)
        net.load_state_dict(state["state_dict"])
        if "optimizer" in state:
            opt.load_state_dict(state["optimizer"])
        start = int(state.get("iteration", 0))
        logs = list(state.get("logs", []))
        rng.bit_generator.state = _rng_state_from(state["numpy_rng"])
        gen.set_state(state["torch_rng"])
    b, m = cfg.tasks_per_batch, cfg.agents_per_task
    source = None  # per-task environments (policies.ray_rollouts); Ray actors end with their handles
    if backend != "local" or task_envs:
        from .ray_rollouts import TaskEnvSource

        source = TaskEnvSource(problem, seed, backend=backend, workers=workers, max_tasks=b)

    def make_env(tasks: list[Any], drawn: int, it: int, phase: str) -> BatchEnv:
        # ``drawn`` is drawn in every mode, so the tasks sampled do not depend on the mode
        return problem.make_env(tasks, m, drawn) if source is None else source.make_env(tasks, m, it, phase)

    def play(*args: Any, **kwargs: Any) -> tuple[Trajectories, np.ndarray]:
        try:
            return rollout(*args, **kwargs)
        except FloatingPointError as exc:
            raise FloatingPointError(f"{exc} at update {it}") from None

    for it in range(start, cfg.iterations):
        t0 = time.perf_counter()
        params = dict(net.named_parameters())
        tasks = problem.sample_tasks(b, rng)
        env_s = make_env(tasks, int(rng.integers(2**31)), it, "support")
        eu = cfg.explore_uniform if cfg.uses_world_model else 0.0
        tr = cfg.objective == "return" or not cfg.uses_world_model
        support, true_s = play(net, params, env_s, b, m, cfg.explore_std, gen, explore_uniform=eu, true_reward=tr)
        noise_s = make_noise(cfg, spec, (b,), m, gen)
        adapted = None
        if cfg.meta:
            adapted = adapt_params(net, params, support, cfg, noise_s)
            rollout_params = {k: v.detach() for k, v in adapted.items()}
            env_q = make_env(tasks, int(rng.integers(2**31)), it, "query")
            query, true_q = play(
                net,
                rollout_params,
                env_q,
                b,
                m,
                cfg.explore_std,
                gen,
                batched_params=True,
                explore_uniform=eu,
                true_reward=tr,
            )
        else:
            env_q = make_env(tasks, int(rng.integers(2**31)), it, "query")
            query, true_q = play(net, params, env_q, b, m, cfg.explore_std, gen, explore_uniform=eu, true_reward=tr)
        noise_q = make_noise(cfg, spec, (b,), m, gen)
        loss, log = outer_loss(net, params, adapted, support, query, cfg, noise_s, noise_q)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {float(loss.detach())} at update {it}: {log}")
        opt.zero_grad()
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        if not torch.isfinite(gnorm):
            raise FloatingPointError(
                f"non-finite gradient norm {float(gnorm)} at update {it}: loss {float(loss.detach())}, {log}"
            )
        opt.step()
        dt = time.perf_counter() - t0
        log.update(
            {
                "update": it,
                "return/support": float(true_s.sum(-1).mean()),
                "return/query": float(true_q.sum(-1).mean()),
                "grad_norm": float(gnorm),
                "env_steps_per_s": 2 * b * m * spec.horizon / dt,
                "seconds": dt,
            }
        )
        logs.append(log)
        if progress is not None:
            progress(it, log)
        done = it + 1
        if checkpoint_path is not None and (done % cfg.checkpoint_every == 0 or done == cfg.iterations):
            save_checkpoint(
                checkpoint_path,
                net,
                cfg,
                problem=problem.name,
                extra={
                    "iteration": done,
                    "optimizer": opt.state_dict(),
                    "numpy_rng": _rng_state_to(rng.bit_generator.state),
                    "torch_rng": gen.get_state(),
                    "logs": logs,
                    "seed": int(seed),
                },
            )
    if source is not None:
        source.close()
    return net, logs


# settings that may change when a training run is resumed (the result is still that of one run)
_RESUME_FREE = ("iterations", "checkpoint_every")


def _check_resumable(state: dict[str, Any], cfg: MermaideConfig, seed: int, path: str | Path) -> None:
    """Refuse to continue a training state made with another seed or method config (it would mix two runs)."""
    if "seed" in state and int(state["seed"]) != int(seed):
        raise CheckpointError(f"checkpoint {path} is of a run with seed={state['seed']}, but this run has seed={seed}")
    have = state.get("config", {})
    for key, value in _plain(dataclasses.asdict(cfg)).items():
        if key not in _RESUME_FREE and key in have and have[key] != value:
            raise CheckpointError(
                f"checkpoint {path} was trained with {key}={have[key]!r}, but this run has {key}={value!r}"
            )
    if int(state.get("iteration", 0)) > cfg.iterations:
        raise CheckpointError(
            f"checkpoint {path} has {state['iteration']} updates, more than this run's iterations={cfg.iterations}"
        )


def _rng_state_to(state: dict[str, Any]) -> dict[str, Any]:
    # numpy's PCG64 state holds Python ints wider than 64 bits: store them as strings
    return {
        "bit_generator": state["bit_generator"],
        "state": str(state["state"]["state"]),
        "inc": str(state["state"]["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _rng_state_from(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "bit_generator": d["bit_generator"],
        "state": {"state": int(d["state"]), "inc": int(d["inc"])},
        "has_uint32": int(d["has_uint32"]),
        "uinteger": int(d["uinteger"]),
    }


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("learning-incentives")
    except Exception:  # not installed as a distribution
        return "unknown"


def save_checkpoint(
    path: str | Path,
    net: PrincipalNet,
    cfg: MermaideConfig,
    *,
    problem: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "package_version": _package_version(),
        "problem": problem,
        "variant": cfg.variant,
        "net_spec": net.spec.to_dict(),
        "config": _plain(dataclasses.asdict(cfg)),
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        **(extra or {}),
    }
    atomic_torch_save(payload, path)


def atomic_torch_save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temp file in ``path``'s folder, fsync, then rename: a crash leaves the old file or the new.

    The file is made world-readable (``mkstemp`` creates it owner-only; a checkpoint is shared data).
    """
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def load_checkpoint(
    path: str | Path,
    *,
    expect_spec: NetSpec | None = None,
    expect_variant: str | None = None,
    file_format: str = CHECKPOINT_FORMAT,
    file_version: int = CHECKPOINT_VERSION,
) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check it fits the problem.

    ``file_format`` and ``file_version`` name the kind of checkpoint expected (other
    packages' principals, e.g. the Stackelberg leaders, keep their own).

    Raises:
        CheckpointError: unreadable/corrupt file, another format or version, another
            variant, or a problem that differs (the message names the field).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    damaged = _damaged_member(path)
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt: {damaged}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, or not written by save_checkpoint
        if "Weights only load failed" in str(exc):  # torch's advice (weights_only=False) would run its code
            raise CheckpointError(
                f"checkpoint {path} is unreadable or corrupt: it holds Python objects other than tensors and "
                "plain data (not a checkpoint of this package; not loaded, as that could run code)"
            ) from None
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt: {type(exc).__name__}: {first}") from None
    if not isinstance(state, dict) or state.get("format") != file_format:
        raise CheckpointError(f"checkpoint {path} is not a {file_format} file")
    if state.get("format_version") != file_version:
        raise CheckpointError(
            f"checkpoint {path} has format version {state.get('format_version')}, this version reads "
            f"{file_version}; retrain it"
        )
    if expect_variant is not None and state.get("variant") != expect_variant:
        raise CheckpointError(f"checkpoint {path} is for variant {state.get('variant')!r}, not {expect_variant!r}")
    if expect_spec is not None:
        have = state.get("net_spec", {})
        want = expect_spec.to_dict()
        for key, value in want.items():
            got = have.get(key)
            same = (
                np.allclose(np.asarray(got, dtype=float), np.asarray(value, dtype=float))
                if isinstance(value, list | float | int) and not isinstance(value, bool) and got is not None
                else got == value
            )
            if not same:
                raise CheckpointError(
                    f"checkpoint {path} was trained for {key}={got!r}, but this run has {key}={value!r}"
                )
    return state


def _damaged_member(path: Path) -> str | None:
    """What is wrong with a checkpoint file as a zip archive, or None (``torch.load`` checks no CRC-32)."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as fh:
            head = fh.read(4)
        if head == b"PK\x03\x04":  # a zip's start without its end (central directory): cut off
            return "the file is truncated (a zip archive without its end)"
        return "the file is empty" if not head else "not a checkpoint file (save_checkpoint writes zip archives)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return f"the archive is damaged ({exc})"
    return None if bad is None else f"archive member {bad.split('/', 1)[-1]} fails its CRC-32 check"


def net_from_checkpoint(state: dict[str, Any]) -> tuple[PrincipalNet, MermaideConfig]:
    """Rebuild the network and its config from a loaded checkpoint."""
    fields = {f.name for f in dataclasses.fields(MermaideConfig)}
    try:
        spec = NetSpec(**state["net_spec"])
        cfg = MermaideConfig(**{k: v for k, v in state["config"].items() if k in fields})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint net_spec or config does not fit this version: {exc}") from None
    net = PrincipalNet(spec, cfg.hidden, cfg.policy_hidden)
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError:
        raise CheckpointError(
            f"checkpoint weights do not fit the network of its config (hidden={cfg.hidden}, "
            f"policy_hidden={cfg.policy_hidden}): {_first_mismatch(net.state_dict(), state['state_dict'])}"
        ) from None
    return net, cfg


def _first_mismatch(want: dict[str, torch.Tensor], have: dict[str, Any]) -> str:
    for key, value in want.items():
        if key not in have:
            return f"{key} is missing"
        shape = tuple(getattr(have[key], "shape", ()))
        if shape != tuple(value.shape):
            return f"{key} has shape {shape}, the network needs {tuple(value.shape)}"
    extra = [k for k in have if k not in want]
    return f"unexpected {extra[0]}" if extra else "unknown mismatch"


def describe_logs(logs: list[dict[str, float]]) -> dict[str, float]:
    """Summary of the last 10% of updates (for reports)."""
    if not logs:
        return {}
    tail = logs[-max(1, len(logs) // 10) :]
    keys = [k for k in tail[0] if isinstance(tail[0][k], int | float)]
    return {k: float(np.mean([t[k] for t in tail if k in t])) for k in keys if not math.isnan(tail[0][k])}
