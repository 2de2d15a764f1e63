"""Meta-training of the learned principals: batched rollouts, the outer loop, the validation learning curve.

A *training problem* (:class:`policies.problem.TrainingProblem`, provided by a
scenario) describes the task distribution and builds a batched environment of
independent principal-agent rows. The trainer never looks inside the
simulator: it sends each row's action vector and receives what the principal
observes.

Every update plays two episodes with each of ``tasks_per_batch`` types
(``agents_per_task`` rows each): a *support* episode with the current
initialisation, then a *query* episode, with the task's adapted parameters for
the meta variants (MAML) or the same parameters otherwise. Both are played by
the variant's one decision rule (:func:`policies.planning.choose_actions`),
exploring. Every ``eval_every`` updates (and after the last) the initialisation
plays the problem's fixed validation pool without exploring: the points of the
*validation learning curve* (``val/return`` against environment steps), the
curve a variant is trained until it is flat on.

Randomness: one ``numpy.random.Generator`` (tasks, environment seeds) and one
``torch.Generator`` (initial weights, decisions' random numbers), both made
from the run's seed; the validation episodes use generators of their own, so
measuring the curve changes nothing in training. No global RNG state is touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import vmap

from .checkpoints import check_resumable, load_checkpoint, rng_state_from, rng_state_to, save_checkpoint
from .mermaide import (
    MermaideConfig,
    Params,
    PrincipalNet,
    Trajectories,
    adapt_params,
    inner_adapt,
    memory_after,
    outer_loss,
)
from .nets import Features
from .planning import choose_actions, draw_randomness, plan_table
from .problem import BatchEnv, StepResult, TrainingProblem

__all__ = ["adapt_batched", "episode_returns", "evaluate_kshot", "meta_train", "rollout", "validation_return"]


def _observed(res: StepResult, k: int, n: int) -> torch.Tensor:
    """Observed action one-hot or choice shares (n, K), zeros where nothing was seen."""
    if res.actions is not None:
        a = np.asarray(res.actions, dtype=np.int64)
        out = torch.zeros(n, k)
        ok = a >= 0
        out[torch.from_numpy(np.flatnonzero(ok)), torch.from_numpy(a[ok])] = 1.0
        return out
    if res.shares is not None:
        return torch.from_numpy(np.asarray(res.shares, dtype=np.float32).reshape(n, k))
    return torch.zeros(n, k)


def _check_observed(res: StepResult, t: int) -> None:
    # a non-finite observation would turn the principal's next beliefs into NaN
    for name in ("rewards", "shares"):
        value = getattr(res, name)
        if value is not None and not np.isfinite(value).all():
            raise FloatingPointError(f"non-finite observed {name} from the environment in round {t}")


@torch.no_grad()
def rollout(
    net: PrincipalNet,
    params: Params,
    cfg: MermaideConfig,
    env: BatchEnv,
    n_tasks: int,
    rows_per_task: int,
    generator: torch.Generator,
    *,
    explore: bool,
    batched_params: bool = False,
    memory: torch.Tensor | None = None,
) -> Trajectories:
    """Play one episode with every row of ``env`` by the variant's decision rule.

    Args:
        net: the network.
        params: parameters, shared or with a leading task dim (``batched_params``).
        cfg: the variant.
        env: the batch environment (rows in task-major order).
        n_tasks: number of tasks B.
        rows_per_task: rows per task m.
        generator: torch generator of the decisions' random numbers.
        explore: play an exploring episode (training, adaptation).
        batched_params: ``params`` has a leading task dimension.
        memory: the ranges kept from earlier episodes with the same types, (B, m, 2 x K x D)
            (:func:`policies.mermaide.memory_after`), or None (a first episode).

    Returns:
        Trajectories with batch dims (B, m).
    """
    spec = net.spec
    b, m, k, horizon = n_tasks, rows_per_task, spec.n_actions, spec.horizon
    n = b * m
    ctx_np = getattr(env, "context", None)
    context = None if ctx_np is None else torch.as_tensor(np.asarray(ctx_np, dtype=np.float32)).reshape(b, m, -1)
    h0 = net.initial_belief(params, context)
    if h0.dim() < 3:  # no context: one initial belief (per task)
        h0 = h0[:, None, :] if batched_params else h0[None, None, :]
    h = h0.expand(b, m, h0.shape[-1]).contiguous()
    feats = Features.empty((b, m), spec, memory)
    start = feats.ranges()  # the ranges the episode starts from (+-inf: none kept)
    table = plan_table(spec.n_choices, spec.null_action, cfg.tails, cfg.lookahead) if cfg.uses_world_model else None
    obs_l, act_l, choice_l, ar_l, seen_l, rew_l = [], [], [], [], [], []

    for t in range(horizon):
        if batched_params:  # per-task parameters: rows stay (B, m), every layer one batched product
            rand = draw_randomness(net, cfg, (b,), m, generator)
            idx = choose_actions(net, params, cfg, h, feats, t, rand, explore, context, table)
        else:
            rand = draw_randomness(net, cfg, (), n, generator)
            flat = feats.map(lambda v: v.reshape(n, v.shape[-1]))
            ctx = None if context is None else context.reshape(n, -1)
            idx = choose_actions(net, params, cfg, h.reshape(n, -1), flat, t, rand, explore, ctx, table).reshape(b, m)
        x = net.actions_of(idx)
        res = env.step(x.reshape(n, -1).to(torch.float64).numpy())
        _check_observed(res, t)
        choice = _observed(res, k, n).reshape(b, m, k)
        seen = spec.observation == "full" and res.rewards is not None
        agent_r = (
            torch.from_numpy(np.asarray(res.rewards, dtype=np.float32)).reshape(b, m) if seen else torch.zeros(b, m)
        )
        obs, feats = feats.encode(spec, x, choice, agent_r if seen else None, t, context)
        h = net.update_belief(params, obs, h)
        obs_l.append(obs)
        act_l.append(idx)
        choice_l.append(choice)
        ar_l.append(agent_r)
        seen_l.append(torch.full((b, m), 1.0 if seen else 0.0))
        rew_l.append(torch.from_numpy(np.asarray(res.principal_reward, dtype=np.float32)).reshape(b, m))
    return Trajectories(
        obs=torch.stack(obs_l, dim=-2),
        act=torch.stack(act_l, dim=-1),
        choice=torch.stack(choice_l, dim=-2),
        agent_reward=torch.stack(ar_l, dim=-1),
        reward_seen=torch.stack(seen_l, dim=-1),
        reward=torch.stack(rew_l, dim=-1),
        context=context if context is not None else torch.zeros(b, m, 0),
        memory=start,
    )


def episode_returns(traj: Trajectories) -> torch.Tensor:
    """The principal's return of every row, (*B,)."""
    return traj.reward.sum(-1)


def validation_return(
    problem: TrainingProblem, net: PrincipalNet, params: Params, cfg: MermaideConfig, seed: int
) -> float:
    """Mean return per row of the initialisation on the problem's validation pool (no exploring, fixed seeds)."""
    tasks = problem.validation_tasks()  # type: ignore[attr-defined]
    rows = int(getattr(problem, "validation_rows", 4))
    env = problem.make_env(tasks, rows, 1_000_003 + seed)
    gen = torch.Generator().manual_seed(7_777_777 + seed)
    traj = rollout(net, params, cfg, env, len(tasks), rows, gen, explore=False)
    return float(episode_returns(traj).mean())


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
    validate: bool = True,
) -> tuple[PrincipalNet, list[dict[str, float]]]:
    """Train a learned principal (any variant) on ``problem``'s task distribution.

    Every variant sees the same number of environment steps per update: two
    episodes (support and query) of ``agents_per_task`` rows for each of
    ``tasks_per_batch`` types.

    Args:
        problem: the training problem.
        cfg: method config.
        seed: the run's seed.
        progress: called after every update with (update index, log dict).
        checkpoint_path: where to write training checkpoints every ``cfg.checkpoint_every`` updates.
        resume: continue from ``checkpoint_path`` if it holds a checkpoint of this run.
        backend: where the rollouts' environments live: ``"local"`` (this process) or ``"ray"``
            (per-task environments in Ray actors; see :mod:`policies.ray_rollouts`). The trainer stays here.
        task_envs: build one environment per task, seeded from (seed, update, episode, task index), as the
            Ray actors do (implied by ``"ray"``); then ``"local"`` and ``"ray"`` give identical weights.
        workers: Ray actors (default: the CPUs Ray offers, at most ``tasks_per_batch``).
        validate: measure the validation learning curve (needs ``problem.validation_tasks()``).

    Returns:
        The trained network (its parameters are the meta-learned initialisation) and one log dict per
        update (with ``val/return`` at the curve's points). With ``cfg.keep == "best"`` and a
        validation pool, the network holds the weights of the curve's best point (early stopping on the
        validation pool; the last update's log names it in ``val/kept_update``); the test pools are never
        consulted.
    """
    spec = problem.net_spec
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(seed)
    net = PrincipalNet(spec, cfg.hidden, cfg.width, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    logs: list[dict[str, float]] = []
    start = 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, expect_spec=spec, expect_variant=cfg.variant)
        check_resumable(state, cfg, seed, checkpoint_path)
        net.load_state_dict(state["state_dict"])
        if "optimizer" in state:
            opt.load_state_dict(state["optimizer"])
        start = int(state.get("iteration", 0))
        logs = list(state.get("logs", []))
        rng.bit_generator.state = rng_state_from(state["numpy_rng"])
        gen.set_state(state["torch_rng"])
        best = state.get("best")
    else:
        best = None
    validate = validate and callable(getattr(problem, "validation_tasks", None))

    def consider(value: float, update: int) -> None:
        """Remember the weights of the best point of the validation curve so far (the earliest among ties)."""
        nonlocal best
        if cfg.keep == "best" and (best is None or value > best["return"]):
            best = {
                "return": value,
                "update": update,
                "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
            }

    b, m = cfg.tasks_per_batch, cfg.agents_per_task
    source = None  # per-task environments (policies.ray_rollouts); Ray actors end with their handles
    if backend != "local" or task_envs:
        from .ray_rollouts import TaskEnvSource

        source = TaskEnvSource(problem, seed, backend=backend, workers=workers, max_tasks=b)

    def make_env(tasks: list[Any], drawn: int, it: int, phase: str) -> BatchEnv:
        # ``drawn`` is drawn in every mode, so the tasks sampled do not depend on the mode
        return problem.make_env(tasks, m, drawn) if source is None else source.make_env(tasks, m, it, phase)

    steps_per_update = 2 * b * m * spec.horizon
    try:
        for it in range(start, cfg.iterations):
            t0 = time.perf_counter()
            log: dict[str, float] = {}
            if validate and it % cfg.eval_every == 0:
                log["val/return"] = validation_return(problem, net, dict(net.named_parameters()), cfg, seed)
                consider(log["val/return"], it)
            params = dict(net.named_parameters())
            tasks = problem.sample_tasks(b, rng)
            env_s = make_env(tasks, int(rng.integers(2**31)), it, "support")
            support = _play(net, params, cfg, env_s, b, m, gen, it)
            kept = memory_after(spec, support) if cfg.memory else None  # what the query episode starts from
            adapted = None
            if cfg.meta:
                adapted = adapt_params(net, params, support, cfg)
                fixed = {k: v.detach() for k, v in adapted.items()}
                env_q = make_env(tasks, int(rng.integers(2**31)), it, "query")
                query = _play(net, fixed, cfg, env_q, b, m, gen, it, batched=True, memory=kept)
            else:
                env_q = make_env(tasks, int(rng.integers(2**31)), it, "query")
                query = _play(net, params, cfg, env_q, b, m, gen, it, memory=kept)
            loss, out = outer_loss(net, params, adapted, support, query, cfg)
            log.update(out)
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
                    "env_steps": (it + 1) * steps_per_update,
                    "return/support": float(episode_returns(support).mean()),
                    "return/query": float(episode_returns(query).mean()),
                    "grad_norm": float(gnorm),
                    "env_steps_per_s": steps_per_update / dt,
                    "seconds": dt,
                }
            )
            done = it + 1
            if validate and done == cfg.iterations:
                log["val/return_final"] = validation_return(problem, net, dict(net.named_parameters()), cfg, seed)
                consider(log["val/return_final"], done)
                if best is not None:
                    log["val/kept_update"] = best["update"]
                    log["val/kept_return"] = best["return"]
            logs.append(log)
            if progress is not None:
                progress(it, log)
            if checkpoint_path is not None and (done % cfg.checkpoint_every == 0 or done == cfg.iterations):
                save_checkpoint(
                    checkpoint_path,
                    net,
                    cfg,
                    problem=problem.name,
                    extra={
                        "iteration": done,
                        "optimizer": opt.state_dict(),
                        "numpy_rng": rng_state_to(rng.bit_generator.state),
                        "torch_rng": gen.get_state(),
                        "logs": logs,
                        "seed": int(seed),
                        "best": best,
                    },
                )
    finally:
        if source is not None:
            source.close()
    if best is not None and best["update"] != cfg.iterations:
        net.load_state_dict(best["state_dict"])  # early stopping: the best point of the validation curve
    return net, logs


def _play(
    net: PrincipalNet,
    params: Params,
    cfg: MermaideConfig,
    env: BatchEnv,
    b: int,
    m: int,
    gen: torch.Generator,
    it: int,
    *,
    batched: bool = False,
    memory: torch.Tensor | None = None,
) -> Trajectories:
    try:
        return rollout(net, params, cfg, env, b, m, gen, explore=True, batched_params=batched, memory=memory)
    except FloatingPointError as exc:
        raise FloatingPointError(f"{exc} at update {it}") from None


# --------------------------------------------------------------- K-shot evaluation
def adapt_batched(
    net: PrincipalNet, start: Params, episodes: list[Trajectories], cfg: MermaideConfig, lr: float | None = None
) -> Params:
    """Per-task K-shot adaptation from per-task parameters ``start`` (leading task dim).

    ``inner_steps`` steps of the adaptation loss on each episode in order (first
    order: nothing differentiates through it).

    The same steps :meth:`policies.learned.LearnedPrincipal.adapt` takes for one task.
    """
    lr = cfg.adaptation_step if lr is None else lr

    def one(p: Params, *tensors: torch.Tensor) -> Params:
        return inner_adapt(net, p, Trajectories.of(*tensors), cfg, lr=lr, first_order=True)

    params = start
    with torch.enable_grad():
        for ep in episodes:
            params = vmap(one, randomness="error")(params, *ep.fields())
            params = {k: v.detach() for k, v in params.items()}
    return params


def evaluate_kshot(
    net: PrincipalNet,
    cfg: MermaideConfig,
    make_env: Callable[[str, int], BatchEnv],
    n_tasks: int,
    rows_per_task: int,
    shots: list[int],
    generator: torch.Generator,
) -> dict[int, tuple[BatchEnv, Trajectories, list[BatchEnv]]]:
    """K-shot evaluation of a learned principal on a batch of test tasks (each with its own adaptation).

    For K = 1, 2, ...: one more *adaptation* episode with fresh agents of each
    task, played exploring by the principal adapted on the episodes before it,
    then adaptation from the initialisation on all K episodes. For every K in
    ``shots``: a *scored* episode with fresh agents, without exploring.

    Args:
        net: the trained network (its parameters are the initialisation).
        cfg: its variant.
        make_env: ``make_env("adapt", k)`` / ``make_env("score", k)``: a fresh batch environment
            of the tasks (task-major rows); the scenario decides the seeds (e.g. the same scored
            agents for every K, so K-shot curves are paired).
        n_tasks: number of tasks.
        rows_per_task: rows per task.
        shots: the K evaluated.
        generator: the principal's random numbers (an evaluation seed varies them).

    Returns:
        ``{K: (scored env, scored trajectories, adaptation envs so far)}``.
    """
    init = {k: v.detach() for k, v in net.named_parameters()}
    start = {k: v.expand(n_tasks, *v.shape).clone() for k, v in init.items()}
    params = start
    episodes: list[Trajectories] = []
    adapt_envs: list[BatchEnv] = []
    out: dict[int, tuple[BatchEnv, Trajectories, list[BatchEnv]]] = {}
    kept: torch.Tensor | None = None  # the ranges kept across the episodes of each type (cfg.memory)
    for k in range(max(shots) + 1):
        if k > 0:
            env = make_env("adapt", k)
            episodes.append(
                rollout(
                    net, params, cfg, env, n_tasks, rows_per_task, generator,
                    explore=True, batched_params=True, memory=kept,
                )
            )  # fmt: skip
            adapt_envs.append(env)
            params = adapt_batched(net, start, episodes, cfg)
            if cfg.memory:
                kept = memory_after(net.spec, episodes[-1])
        if k in shots:
            env = make_env("score", k)
            traj = rollout(
                net, params, cfg, env, n_tasks, rows_per_task, generator,
                explore=False, batched_params=True, memory=kept,
            )  # fmt: skip
            out[k] = (env, traj, list(adapt_envs))
    return out
