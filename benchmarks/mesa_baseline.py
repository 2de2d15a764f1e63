"""A plain per-agent Mesa model of epsilon-greedy consumers: the comparison point of the throughput benchmark.

This is how one would usually write the simulator's default population in Mesa 3,
one Python object per consumer:

* each :class:`GreedyConsumer` holds its own lists of value estimates and counts
  and its private mean reward of each action;
* it explores with probability ``epsilon`` (a uniformly random action), else it
  picks the action with the highest estimate (ties broken at random);
* its reward is its private mean plus Gaussian noise, and it updates the chosen
  action's estimate by the sample average, counting the prior as
  ``prior_weight`` pseudo-observations (the rule of ``simulator``'s
  ``epsilon_greedy`` learner: step = 1 / (prior_weight + count));
* the model steps every agent in a random order with
  ``self.agents.shuffle_do("step")`` and a DataCollector records the choice
  shares and the mean reward every round.

The game is the simulator's ``default_game`` (mean rewards rising linearly from
0.2 to 0.8 across actions, per-agent heterogeneity N(0, 0.1), noise sd 0.1),
drawn from the model's own ``self.rng``; per-agent draws during a step use the
model's ``self.random``. Everything flows from the one seed passed to
``mesa.Model``.

Run it on its own::

    python -m benchmarks.mesa_baseline --agents 20000 --rounds 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

import mesa
import numpy as np

__all__ = ["GreedyConsumer", "MesaGreedyModel", "main"]


class GreedyConsumer(mesa.Agent):
    """One epsilon-greedy consumer with its own estimates, as a Mesa agent.

    Args:
        model: the model the agent belongs to.
        means: this consumer's private mean reward of each action.
        epsilon: probability of choosing a uniformly random action.
        initial_value: prior mean of every action.

    Attributes:
        estimates: the current value estimate of each action.
        counts: how many times each action was chosen.
        action: the action chosen in the last round (None before the first).
        reward: the reward received in the last round.
    """

    def __init__(self, model: MesaGreedyModel, means: list[float], epsilon: float, initial_value: float) -> None:
        super().__init__(model)
        self.means = means
        self.epsilon = epsilon
        self.estimates = [initial_value] * len(means)
        self.counts = [0] * len(means)
        self.action: int | None = None
        self.reward = 0.0

    def choose(self) -> int:
        """Explore with probability epsilon, else the best estimate (ties at random)."""
        rand = self.model.random
        n_actions = len(self.estimates)
        if rand.random() < self.epsilon:
            return rand.randrange(n_actions)
        best = max(self.estimates)
        if self.estimates.count(best) == 1:
            return self.estimates.index(best)
        return rand.choice([j for j in range(n_actions) if self.estimates[j] == best])

    def step(self) -> None:
        """Choose, receive mean + Gaussian noise, update the chosen action's sample average."""
        a = self.choose()
        reward = self.means[a] + self.model.noise * self.model.random.gauss(0.0, 1.0)
        self.counts[a] += 1
        self.estimates[a] += (reward - self.estimates[a]) / (self.model.prior_weight + self.counts[a])
        self.action = a
        self.reward = reward


class MesaGreedyModel(mesa.Model):
    """A population of :class:`GreedyConsumer` agents facing the simulator's default game.

    Args:
        n_agents: number of consumers.
        n_actions: number of actions K.
        epsilon: exploration probability of every consumer.
        initial_value: prior mean of every action.
        prior_weight: weight of the prior, in pseudo-observations.
        noise: standard deviation of the Gaussian reward noise.
        seed: the one seed of the run.

    Attributes:
        choice_counts: how many consumers chose each action in the last round.
        mean_reward: the average reward in the last round.
    """

    def __init__(
        self,
        n_agents: int = 10_000,
        n_actions: int = 5,
        *,
        epsilon: float = 0.1,
        initial_value: float = 0.0,
        prior_weight: float = 1.0,
        noise: float = 0.1,
        seed: int | None = None,
    ) -> None:
        super().__init__(rng=seed)
        self.n_actions = n_actions
        self.noise = noise
        self.prior_weight = prior_weight
        base = np.linspace(0.2, 0.8, n_actions)
        means = base + self.rng.normal(0.0, 0.1, (n_agents, n_actions))
        for row in means.tolist():
            GreedyConsumer(self, row, epsilon, initial_value)
        self.choice_counts: Counter[int] = Counter()
        self.mean_reward = float("nan")
        reporters = {f"share_a{j}": (lambda m, j=j: m.share(j)) for j in range(n_actions)}
        reporters["mean_reward"] = "mean_reward"
        self.datacollector = mesa.DataCollector(model_reporters=reporters)

    def share(self, action: int) -> float:
        """Share of consumers who chose ``action`` in the last round."""
        return self.choice_counts[action] / len(self.agents)

    def step(self) -> None:
        """Every consumer steps once, in random order; then the DataCollector collects."""
        self.agents.shuffle_do("step")
        self.choice_counts = Counter(self.agents.get("action"))
        self.mean_reward = sum(self.agents.get("reward")) / len(self.agents)
        self.datacollector.collect(self)


def main(argv: list[str] | None = None) -> int:
    """Time the Mesa baseline on its own and print agent-steps per second as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mesa_baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20_000, help="number of consumers (default 20000)")
    parser.add_argument("--actions", type=int, default=5, help="number of actions K (default 5)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds to time (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = parser.parse_args(argv)
    if args.agents < 1 or args.actions < 2 or args.rounds < 1:
        parser.error("need --agents >= 1, --actions >= 2 and --rounds >= 1")
    t0 = time.perf_counter()
    model = MesaGreedyModel(args.agents, args.actions, seed=args.seed)
    t1 = time.perf_counter()
    for _ in range(args.rounds):
        model.step()
    t2 = time.perf_counter()
    shares = model.datacollector.get_model_vars_dataframe().iloc[-1].to_dict()
    out = {
        "agents": args.agents,
        "actions": args.actions,
        "rounds": args.rounds,
        "init_s": t1 - t0,
        "ms_per_round": (t2 - t1) / args.rounds * 1e3,
        "agent_steps_per_s": args.agents * args.rounds / (t2 - t1),
        "last_round": shares,
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
