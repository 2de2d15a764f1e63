"""Learned principals for green_tax: the training distribution of populations, the batch environment, evaluation.

The government is a principal acting on a whole population (one row = one
population): each year it sets vehicle incentives on top of the Pigouvian carbon
tax (the economy's default for every vehicle-incentive principal): a subsidy of
$0 to $2,000 a year per electric vehicle, and a surcharge or rebate of up to
$500 a year per vehicle of each other technology (none on having no car); it
observes the choice shares (no car, gasoline, hybrid, electric). (The box was
chosen for the first economy, per car-year around the Pigouvian tax per car,
as described next; it is rescaled to the per-vehicle units of the economy with
a carbon tax and awaits retuning on the validation populations below.) A
surcharge on the other cars moves relative prices like an electric-car subsidy
but without outlays (a deficit costs lambda - 1 per dollar); it also moves the
informed households, who were choosing right. The untrained policy plays a $100
electric-car subsidy. Earlier
versions failed or fell short in instructive ways: one that set all three rates
freely in both directions exploited its critic with large subsidies on every
technology; one that could also tax the clean technology up to $2,000 above the
Pigouvian rate drifted to that corner (the world-model variants) or to the
largest subsidy after one fine-tuning step (the model-free ones, whose value
loss was then in dollars); one limited to the clean rate (the others at the
Pigouvian tax) reached 24,382 to 24,591 $/household on the headline
population over three training seeds, against 24,733 to 24,795 for this box
(a training-distribution population; the held-out ones were not consulted).
Its objective is welfare (in training: the welfare gain over a twin population
under the Pigouvian tax, with common random numbers), a *dynamic* objective (a
subsidy today changes what households believe tomorrow). Every variant's
policy is trained by policy gradient (REINFORCE with a value baseline) on those
realised gains, in simulation. The world-model variants (``mermaide``,
``wm_only``) add the world model's likelihood of the observed choice shares as
a loss on the shared belief (``policy_loss = "reinforce"``), and their K-shot
adaptation fits only the world model (``encoder.h0``, ``head.``) to the choice
shares of the adaptation episodes: what a government observes under its own
taxes, never welfare. The meta variants are trained with MAML through that
adaptation. Two earlier designs for the world-model variants failed and are
kept as options of :class:`policies.mermaide.MermaideConfig`: a critic of the
return that the policy ascends (``policy_loss = "model"``: the policy drifted
to no subsidy at all), and adapting the policy too (training diverged).

Training distribution of populations (documented ranges; held-out settings lie
outside them): pessimistic share U(0.2, 0.6), pessimism depth U($1,000,
$3,000), rational share U(0.1, 0.3), learning families epsilon-greedy (epsilon
U(0.02, 0.1)) and softmax (temperature U($150, $350)) in equal weights, and the
idiosyncratic value sd U(0.75, 1.25) times the economy's (applied: each
population's economy has its own); 1,000 households per training population
(shares are scale-free; evaluation uses the full population). Every population
keeps the configured households' ownership intercepts (they differ in what
households know, not in what they value).

Validation populations (:func:`validation_populations`): where every choice of
the learned governments is made (action box, step sizes, budgets), never
reported: four drawn from the training distribution by their own seeded stream,
and four outside it (pessimism deeper than training but shallower than the
reported ``deep_pessimism``; UCB1 and EWA learners, families in neither training
nor the reported settings), each evaluated on seeds of their own range
(:data:`VALIDATION_SEEDS`), disjoint from the reported settings' populations and
seeds (a test checks it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policies import make_principal, principal_class
from policies.learned import LearnedPrincipal
from policies.mermaide import MermaideConfig, NetSpec
from policies.training import CheckpointError, StepResult, meta_train, save_checkpoint
from simulator.config import ConfigError

from .green_tax.economy import (
    Economy,
    HouseholdMix,
    build,
    emissions_per_mile,
    grid_path,
    pin_ownership,
    scc_path,
)

__all__ = [
    "VALIDATION_SEEDS",
    "GreenEnv",
    "GreenProblem",
    "evaluate_learned",
    "green_net_spec",
    "load_or_train",
    "train_green",
    "validation_populations",
]

TRAIN_HOUSEHOLDS = 1000
SUBSIDY_ROOM = 2000.0
OTHER_ROOM = 500.0
INIT_SUBSIDY = 100.0


def green_net_spec(econ: Economy) -> NetSpec:
    """What the learned government is built for.

    It sets vehicle incentives (subsidy > 0, tax < 0, $/yr per vehicle) on top of the Pigouvian carbon
    tax: the electric car's from 0 to a $2,000 subsidy, the other cars' within $500 of 0, none on having
    no car. Values and costs as the government sees them: minus the damages of a vehicle-year at
    today's SCC and miles, and lambda - 1 per dollar of deficit.
    """
    k = econ.k
    low = np.full(k, -OTHER_ROOM)
    high = np.full(k, OTHER_ROOM)
    low[0] = high[0] = 0.0  # no car: no incentive
    low[econ.clean] = 0.0
    high[econ.clean] = SUBSIDY_ROOM
    init = np.zeros(k)
    init[econ.clean] = INIT_SUBSIDY
    damages = scc_path(econ)[0] * emissions_per_mile(econ, grid_path(econ, 1)[0]) * econ.miles_per_vehicle
    return NetSpec(
        n_actions=k,
        low=list(low),
        high=list(high),
        mask=[True] * k,
        base=[0.0] * k,
        values=list(-damages),
        cost=econ.mcpf - 1.0,
        horizon=econ.horizon,
        observation="shares",
        obs_noise=0.0,
        x_scale=1000.0,
        reward_scale=1000.0,
        init_incentive=list(init),
    )


def default_train_config(variant: str = "mermaide") -> MermaideConfig:
    """Method settings of a variant for the population task (policy gradient on welfare gains, small batches)."""
    cfg = MermaideConfig(
        variant=variant,  # type: ignore[arg-type]
        objective="return",
        iterations=300,
        tasks_per_batch=8,
        agents_per_task=1,
        candidates=16,
        policy_samples=2,
        explore_std=0.6,
        explore_uniform=0.15,
        gamma=1.0 / 1.03,
        adapt=["encoder.h0", "head.", "policy."],
        # K-shot fine-tuning of the non-meta variants: REINFORCE on one exploring episode of one population is
        # noise; on the headline population (3 seeds) steps of 0.1 / 0.03 cost $504 / $86 of welfare, 0.01 is harmless
        finetune_lr=0.01,
    )
    if cfg.uses_world_model:
        # the policy learns from realised returns, the world model shapes its belief and is what adaptation fits
        cfg = dataclasses.replace(cfg, policy_loss="reinforce", explore_uniform=0.0, adapt=["encoder.h0", "head."])
    return cfg


@dataclass
class GreenTask:
    """One population type (a household mix, and the idiosyncratic value sd of its economy)."""

    mix: HouseholdMix
    label: str = ""
    value_sd: float | None = None


class GreenEnv:
    """A batch of populations (rows) stepped in lockstep.

    With ``twin`` each population has a twin with the same households and random
    streams (common random numbers) that keeps the Pigouvian carbon tax and no vehicle
    incentive; the reward is then welfare minus the twin's welfare, the gain over the
    Pigouvian tax. The differences between populations, which dwarf the effect of one
    year's subsidy, cancel out of the critic's target.
    """

    def __init__(
        self,
        econ: Economy,
        tasks: list[GreenTask],
        rows_per_task: int,
        seed: int,
        n: int,
        twin: bool = True,
        device: str = "cpu",
    ) -> None:
        from ._bandit_tasks import PassThrough

        self.econ = econ
        self.models = []
        self.twins = []
        self.drivers = []
        for i, task in enumerate(tasks):
            econ_i = econ if task.value_sd is None else dataclasses.replace(econ, value_sd=task.value_sd)
            for j in range(rows_per_task):
                s = seed * 7919 + i * 31 + j
                driver = PassThrough()
                self.models.append(build(econ_i, task.mix, s, driver, n=n, device=device))
                self.drivers.append(driver)
                if twin:
                    zero = PassThrough()
                    zero.incentives = np.zeros(econ.k)
                    self.twins.append(build(econ_i, task.mix, s, zero, n=n, device=device))
        self.n_rows = len(self.models)

    def step(self, incentives: np.ndarray) -> StepResult:
        """One year in every population; the reward is welfare per household (minus the twin's)."""
        shares = np.zeros((self.n_rows, self.econ.k))
        reward = np.zeros(self.n_rows)
        for r, (model, driver) in enumerate(zip(self.models, self.drivers, strict=True)):
            driver.incentives = incentives[r]
            row = model.step()
            counts = model.model.ledger.last.counts.sum(axis=0)
            shares[r] = counts / max(counts.sum(), 1.0)
            reward[r] = row["welfare"]
            if self.twins:
                reward[r] -= self.twins[r].step()["welfare"]
        return StepResult(actions=None, shares=shares, rewards=None, principal_reward=reward)


class GreenProblem:
    """The training problem: populations drawn from the training distribution."""

    name = "green_tax"

    def __init__(
        self, econ: Economy, base: HouseholdMix, n_households: int = TRAIN_HOUSEHOLDS, device: str = "cpu"
    ) -> None:
        self.econ = econ
        self.base = pin_ownership(econ, base, base)
        self.n = n_households
        self.device = device  # where the training populations step (IncentiveModel's device)
        self.net_spec = green_net_spec(econ)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[GreenTask]:
        """Draw populations from the documented training ranges."""
        tasks = []
        for _ in range(n):
            mix = dataclasses.replace(
                self.base,
                n_households=self.n,
                pessimistic_share=float(rng.uniform(0.2, 0.6)),
                pessimism_depth=float(rng.uniform(1000.0, 3000.0)),
                rational_share=float(rng.uniform(0.1, 0.3)),
                learners={
                    "epsilon_greedy": {"weight": 0.5, "epsilon": float(rng.uniform(0.02, 0.1))},
                    "softmax": {"weight": 0.5, "temperature": float(rng.uniform(150.0, 350.0))},
                },
            )
            value_sd = float(rng.uniform(0.75, 1.25)) * self.econ.value_sd
            tasks.append(GreenTask(mix, label=f"pessimistic={mix.pessimistic_share:.2f}", value_sd=value_sd))
        return tasks

    def make_env(self, tasks: list[GreenTask], rows_per_task: int, seed: int) -> GreenEnv:
        """Fresh populations of the given types."""
        return GreenEnv(self.econ, tasks, rows_per_task, seed, self.n, device=self.device)


VALIDATION_STREAM = 20_251
"""Seed of the stream that draws the in-distribution validation populations."""

VALIDATION_SEEDS = range(1_000_000, 1_000_010)
"""Evaluation seeds of the validation populations (the reported runs use seeds below 1,000,000)."""


def validation_populations(econ: Economy, base: HouseholdMix, n_in: int = 4) -> list[GreenTask]:
    """The validation set: tuning happens here, never on the reported populations.

    ``n_in`` populations drawn from the training distribution by their own stream
    (``default_rng(VALIDATION_STREAM)``), and four outside it: pessimism deeper than training
    (60-70% pessimistic by $3,300-3,600, short of the reported ``deep_pessimism``: 80% by $4,000),
    UCB1 households and EWA households (families in neither the training distribution nor the
    reported settings), and a mostly informed population (rational share 0.5). Evaluate each on
    :data:`VALIDATION_SEEDS`.
    """
    problem = GreenProblem(econ, base)
    tasks = problem.sample_tasks(n_in, np.random.default_rng(VALIDATION_STREAM))
    for i, task in enumerate(tasks):
        task.label = f"validation-in-{i}"
        task.mix = dataclasses.replace(task.mix, n_households=base.n_households)
    pinned = problem.base
    out = [
        GreenTask(
            dataclasses.replace(pinned, pessimistic_share=0.65, pessimism_depth=3450.0),
            "validation-deeper-pessimism",
        ),
        GreenTask(
            dataclasses.replace(pinned, learners={"ucb1": {"weight": 1.0, "c": 300.0}}),
            "validation-ucb1",
        ),
        GreenTask(
            dataclasses.replace(pinned, learners={"ewa": {"weight": 1.0}}),
            "validation-ewa",
        ),
        GreenTask(dataclasses.replace(pinned, rational_share=0.5), "validation-half-informed"),
    ]
    return tasks + out


def train_green(
    variant: str,
    econ: Economy,
    mix: HouseholdMix,
    seed: int,
    path: Path | None,
    *,
    progress: bool = True,
    iterations: int | None = None,
) -> LearnedPrincipal:
    """Meta-train a learned government on the training distribution and save it."""
    from tqdm import tqdm

    cfg = default_train_config(variant)
    if iterations is not None:
        cfg = dataclasses.replace(cfg, iterations=iterations)
    problem = GreenProblem(econ, mix)
    bar = tqdm(total=cfg.iterations, desc=f"train {variant} (green_tax)", disable=not progress)

    def report(it: int, log: dict[str, float]) -> None:
        bar.update(1)
        bar.set_postfix(ret=f"{log['return/query']:.0f}")

    net, logs = meta_train(problem, cfg, seed, progress=report)
    bar.close()
    if path is not None:
        save_checkpoint(path, net, cfg, problem="green_tax", extra={"seed": int(seed), "final": logs[-1]})
    return principal_class(variant)(net=net, config=cfg, seed=seed)


def load_or_train(names: list[str], args: Any) -> dict[str, LearnedPrincipal]:
    """The learned principals of a run: shipped/provided checkpoints, or trained now with --retrain."""
    out = {}
    folder = Path(args.checkpoints) if args.checkpoints else Path(__file__).parent / "checkpoints" / "green_tax"
    for name in names:
        if args.retrain:
            iters = 3 if args.quick else None
            out[name] = train_green(
                name, args.economy, args.households, args.seed, None, progress=args.progress, iterations=iters
            )
            continue
        path = folder / f"{name}.pt"
        try:
            principal = make_principal(name, checkpoint=path, seed=args.seed)
        except CheckpointError as exc:
            raise ConfigError(
                f"{name}: {exc}. Train it with: python -m policies.train --scenario green_tax --variant {name} "
                f"--out {folder}"
            ) from None
        want = green_net_spec(args.economy)
        for field in ("n_actions", "horizon", "low", "high", "values", "cost"):
            if not np.allclose(np.asarray(getattr(principal.net.spec, field)), np.asarray(getattr(want, field))):
                raise ConfigError(
                    f"{name}: the checkpoint {path} was trained for another economy ({field} differs); use --retrain"
                )
        out[name] = principal
    return out


def evaluate_learned(
    principal: LearnedPrincipal, econ: Economy, mix: HouseholdMix, seed: int, n: int, shots: Any, episode: Any
) -> list[tuple[int, float, dict, Any]]:
    """K-shot scores: adaptation episodes on fresh populations of the same type, then the scored population."""
    out = []
    principal.reset_adaptation()
    episodes = []
    spent = 0.0
    for k in range(max(shots) + 1):
        if k > 0:
            principal.explore = True
            totals, _ = episode(econ, mix, seed + 100_003 * k, principal, n=n)
            principal.explore = False
            spent += totals["intervention_cost"]
            episodes.append(principal.episode())
            principal.reset_adaptation()
            principal.adapt(list(episodes))
        if k in shots:
            totals, df = episode(econ, mix, seed, principal, n=n)
            out.append((k, spent, totals, df))
    principal.reset_adaptation()
    return out
