"""Learning consumers: vectorized learner families over a batch of agents.

A learner is a batch of ``n_agents`` independent agents choosing among the same
``n_actions``. State is a struct of arrays (one row per agent, float32) and each
call steps the whole population in one numba kernel (:mod:`simulator._kernels`).
Every parameter may be a scalar or a per-agent array, so one population can be
heterogeneous (e.g. epsilon drawn per agent); a scalar is stored once (shape
(1,)) and read for every agent, so homogeneous parameters cost no memory.

Families (registered names; sources beside each):

=================  ==========================================================
``epsilon_greedy``  explore uniformly with prob. eps/(1 + decay t), else greedy
                    (Sutton & Barto 2018, ch. 2)
``ucb1``            optimism bonus c sqrt(2 ln T / n) (Auer, Cesa-Bianchi &
                    Fischer 2002)
``thompson``        Gaussian posterior sampling (Lattimore & Szepesvari 2020)
``softmax``         Boltzmann choice on estimates, temperature in reward units
``ewa``             experience-weighted attraction (Camerer & Ho 1999) with
                    bandit feedback and logit choice (McKelvey & Palfrey 1995)
``roth_erev``       reinforcement with forgetting and experimentation (Roth &
                    Erev 1995; Erev & Roth 1998)
``best_response``   knows its mean payoffs, argmax (or logit) of payoff + offsets
=================  ==========================================================

Pessimism and optimism are the prior means of each action, ``initial_values``
(scalar, per action (K,), or per agent and action (n, K)), weighted as
``prior_weight`` pseudo-observations: a pessimistic greedy agent under-explores
an action it starts out thinking is bad.

Contract (docs/design.md): ``act(offsets)`` returns actions of shape (n,);
``offsets`` are payoff shifts the agent knows before choosing (posted prices,
taxes, announced incentives) and are added to the agent's score of each action.
``update(actions, rewards)`` passes what each agent experienced and must learn
(private value + noise + any incentive that was not posted); posted offsets are
not included again. Roth-Erev is the one exception, because a reinforcement
learner does not anticipate: posted offsets reach it only through experience,
so it adds the offset of the chosen action (remembered from the last ``act``)
to the reinforcement.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import _kernels as K
from ._plugins import resolve
from ._rng import PURPOSE_ACT, seed_key_from, stream_key
from ._validate import (
    Range,
    check_actions,
    check_int,
    check_offsets,
    check_rewards,
    per_action,
    per_agent,
)

__all__ = [
    "EWA",
    "LEARNERS",
    "UCB1",
    "BestResponse",
    "EpsilonGreedy",
    "Learner",
    "ParamSpec",
    "RothErev",
    "Softmax",
    "Thompson",
    "learner_class",
    "make_learner",
]


@dataclass(frozen=True)
class ParamSpec:
    """One learner parameter: default, allowed range, shape kind and meaning.

    ``kind`` is ``"agent"`` (scalar or (n,)), ``"action"`` (scalar, (K,) or (n, K))
    or ``"optional_agent"`` (None allowed, meaning "off").
    """

    default: Any
    range: Range
    kind: str
    doc: str


_UNIT = Range(0.0, 1.0)
_NONNEG = Range(0.0)
_POS = Range(0.0, low_open=True)
_ANY = Range()

_ESTIMATE_PARAMS: dict[str, ParamSpec] = {
    "initial_values": ParamSpec(0.0, _ANY, "action", "prior mean of each action (pessimism < truth < optimism)"),
    "prior_weight": ParamSpec(1.0, _NONNEG, "agent", "weight of the prior, in pseudo-observations"),
    "learning_rate": ParamSpec(
        None,
        Range(0.0, 1.0),
        "optional_agent",
        "constant step size; None or 0 = sample average (types of one family may mix both)",
    ),
}


class Learner(abc.ABC):
    """Base class of the vectorized learner families.

    Subclasses declare ``params`` (name -> :class:`ParamSpec`) and implement
    ``_init_state``, ``_act``, ``_update`` and ``_probs``. A user's own learner need
    not inherit from this class: any class with the contract's shape works
    (docs/design.md).

    Attributes:
        n_agents: number of agents in the batch.
        n_actions: number of actions K.
        t: number of completed rounds (updates) so far; keys the random stream.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, ParamSpec]] = {}
    needs_payoff_means: ClassVar[bool] = False

    def __init__(self, n_agents: int, n_actions: int, *, rng: np.random.Generator, **params: Any) -> None:
        self.n_agents = check_int("n_agents", n_agents, low=1)
        self.n_actions = check_int("n_actions", n_actions, low=2)
        self._key = seed_key_from(rng)
        self.t = 0
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(
                f"{self.name or type(self).__name__}: unknown parameter(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(self.params))}"
            )
        self.p: dict[str, np.ndarray] = {}
        for pname, spec in self.params.items():
            value = params.get(pname, spec.default)
            self.p[pname] = self._parse(pname, spec, value)
        self._init_state()

    # ------------------------------------------------------------- helpers
    def _parse(self, pname: str, spec: ParamSpec, value: Any) -> np.ndarray:
        n, k = self.n_agents, self.n_actions
        label = f"{self.name}.{pname}" if self.name else pname
        if spec.kind == "action":
            if value is None:
                raise ValueError(f"{label} is required (scalar, ({k},) or ({n}, {k}))")
            # priors are only read once (to initialise the state): keep a shared prior compact
            return per_action(label, value, n, k, spec.range, compact=pname != "means")
        if spec.kind == "optional_agent" and value is None:
            return np.zeros(1, dtype=np.float32)
        return per_agent(label, value, n, spec.range)

    def _stream(self) -> tuple[np.uint32, np.uint32]:
        return stream_key(self._key, PURPOSE_ACT, self.t)

    # ------------------------------------------------------------ contract
    def act(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """Choose one action per agent.

        Args:
            offsets: payoff shifts known before choosing, shape (K,) or (n, K).

        Returns:
            int32 array of shape (n,) with actions in [0, K).
        """
        off, per = check_offsets(offsets, self.n_agents, self.n_actions)
        out = np.empty(self.n_agents, dtype=np.int32)
        with K.threads_for(self.n_agents):
            self._act(off, per, out)
        return out

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from the chosen actions and the rewards experienced; advance the round."""
        a = check_actions(actions, self.n_agents, self.n_actions)
        r = check_rewards(rewards, self.n_agents)
        with K.threads_for(self.n_agents):
            self._update(a, r)
        self.t += 1

    def action_probs(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """Probability of each action this round, float64 of shape (n, K); rows sum to 1."""
        off, per = check_offsets(offsets, self.n_agents, self.n_actions)
        out = np.empty((self.n_agents, self.n_actions), dtype=np.float64)
        with K.threads_for(self.n_agents):
            self._probs(off, per, out)
        return out

    # unchecked fast paths for the population (arrays already validated)
    def _act_unchecked(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        self._act(off, per, out)

    def _update_unchecked(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        self._update(actions, rewards)
        self.t += 1

    def _play_unchecked(
        self, kernels: K.PlayKernels, first: int, off: np.ndarray, per: bool, game: Any, rules: Any, sinks: Any
    ) -> None:
        """A whole model round of this group in one kernel (choose, settle, learn); advances the round.

        ``kernels`` are the round's compiled play kernels (:func:`simulator._kernels.play_kernels`);
        ``first`` is the population index of the group's first agent; ``off`` the population's
        posted offsets; ``game``, ``rules`` and ``sinks`` the round's named structures
        (:class:`simulator._kernels.GameArrays`, ``Rules``, ``Sinks``).
        Gives the same numbers as ``_act``, the model's payoff kernel and ``_update`` in turn.
        """
        klo, khi = self._stream()
        grp = K.GroupRound(first=first, size=self.n_agents, t=self.t, klo=klo, khi=khi, off=off, per=per)
        self._play(kernels, grp, game, rules, sinks)
        self.t += 1

    # --------------------------------------------------------- inspection
    @property
    @abc.abstractmethod
    def estimates(self) -> np.ndarray:
        """The (n, K) score each agent currently holds for each action."""

    def agent_state(self, i: int) -> dict[str, Any]:
        """Parameters and state of agent ``i`` as plain Python values (for views and UIs)."""
        i = check_int("agent index", i, low=0, high=self.n_agents - 1)
        out: dict[str, Any] = {"family": self.name}
        for pname, arr in self.p.items():
            out[pname] = arr[i if arr.shape[0] > 1 else 0].tolist()
        out["estimates"] = self.estimates[i].tolist()
        return out

    @abc.abstractmethod
    def _init_state(self) -> None:
        """Allocate the state arrays from the parsed parameters ``self.p``."""

    @abc.abstractmethod
    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        """Write this round's actions into ``out``."""

    @abc.abstractmethod
    def _update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Update the state from validated actions and rewards."""

    @abc.abstractmethod
    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        """Write this round's choice probabilities into ``out``."""

    def _play(self, kernels: K.PlayKernels, grp: K.GroupRound, game: Any, rules: Any, sinks: Any) -> None:
        """Run the family's ``play_*`` kernel for this group's part of a round (see ``_play_unchecked``)."""
        raise NotImplementedError(f"{self.name} has no play kernel (fuses = False): it plays in the separate kernels")

    @property
    def fuses(self) -> bool:
        """Whether the family plays a common model round in one kernel (it implements ``_play``)."""
        return type(self)._play is not Learner._play

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_agents={self.n_agents}, n_actions={self.n_actions}, t={self.t})"


COUNT16_ROUNDS = int(np.iinfo(np.uint16).max)
"""Counts are kept in 16 bits for this many rounds (a count never exceeds the rounds played)."""


class _EstimateLearner(Learner):
    """Families that keep a value estimate q and a count per action.

    Counts are uint16 while they are sure to fit (fewer than 65,535 updates), then float32
    (exact up to 2**24): the values, and every number computed from them, are the same in both.
    """

    def _init_state(self) -> None:
        shape = (self.n_agents, self.n_actions)
        self.q = np.broadcast_to(self.p["initial_values"], shape).astype(np.float32, copy=True)
        self.counts = np.zeros(shape, dtype=np.uint16)

    def _counts_before_update(self) -> np.ndarray:
        """The counts array, widened to float32 when this update could overflow 16 bits."""
        if self.counts.dtype == np.uint16 and self.t >= COUNT16_ROUNDS:
            self.counts = self.counts.astype(np.float32)
        return self.counts

    def _estimates(self) -> K.Estimates:
        p = self.p
        return K.Estimates(self.q, self._counts_before_update(), p["learning_rate"], p["prior_weight"])

    @property
    def estimates(self) -> np.ndarray:
        return self.q

    def agent_state(self, i: int) -> dict[str, Any]:
        out = super().agent_state(i)
        out["counts"] = self.counts[i].astype(np.float64).tolist()
        return out

    def _update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        K.update_average(
            self.q,
            self._counts_before_update(),
            self.p["learning_rate"],
            self.p["prior_weight"],
            actions,
            rewards,
        )


class EpsilonGreedy(_EstimateLearner):
    """Epsilon-greedy with optional decay: eps_t = epsilon / (1 + epsilon_decay * t)."""

    name = "epsilon_greedy"
    params: ClassVar[dict[str, ParamSpec]] = {
        "epsilon": ParamSpec(0.1, _UNIT, "agent", "probability of a uniformly random action"),
        "epsilon_decay": ParamSpec(0.0, _NONNEG, "agent", "eps_t = epsilon / (1 + epsilon_decay * t)"),
        **_ESTIMATE_PARAMS,
    }

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        K.act_epsilon_greedy(
            self.q,
            self.p["epsilon"],
            self.p["epsilon_decay"],
            self.t,
            off,
            per,
            klo,
            khi,
            out,
        )

    def _play(self, kernels: K.PlayKernels, grp: K.GroupRound, game: Any, rules: Any, sinks: Any) -> None:
        kernels.epsilon_greedy(self._estimates(), self.p["epsilon"], self.p["epsilon_decay"], grp, game, rules, sinks)

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        K.probs_argmax(self.q, off, per, out)
        eps = self.p["epsilon"].astype(np.float64) / (1.0 + self.p["epsilon_decay"].astype(np.float64) * self.t)
        out *= (1.0 - eps)[:, None]
        out += (eps / self.n_actions)[:, None]


class UCB1(_EstimateLearner):
    """UCB1: argmax of estimate + c * sqrt(2 ln T / n_eff); n_eff counts the prior weight."""

    name = "ucb1"
    params: ClassVar[dict[str, ParamSpec]] = {
        "c": ParamSpec(1.0, _NONNEG, "agent", "scale of the exploration bonus (1 = Auer et al.)"),
        **_ESTIMATE_PARAMS,
    }

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        K.act_ucb1(
            self.q,
            self.counts,
            self.p["c"],
            self.p["prior_weight"],
            off,
            per,
            klo,
            khi,
            out,
        )

    def _play(self, kernels: K.PlayKernels, grp: K.GroupRound, game: Any, rules: Any, sinks: Any) -> None:
        est = self._estimates()
        kernels.ucb1(est, self.p["c"], self._table(), grp, game, rules, sinks)

    def _table(self) -> K.UcbTable:
        """This round's bonus table (see :class:`simulator._kernels.UcbTable`), or an unused one."""
        c, pw = self.p["c"], self.p["prior_weight"]
        k, t = self.n_actions, self.t
        exact = float(pw[0]).is_integer() and k * float(pw[0]) + t < 2**24
        if c.shape[0] == 1 and pw.shape[0] == 1 and exact and self.counts.dtype == np.uint16:
            total, bonus = K.ucb_table(c[0], pw[0], k, t)
            return K.UcbTable(use=True, total=total, bonus=bonus)
        return K.UcbTable(use=False, total=np.float32(0.0), bonus=np.zeros(1, dtype=np.float32))

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        K.probs_ucb1(self.q, self.counts, self.p["c"], self.p["prior_weight"], off, per, out)


class Thompson(_EstimateLearner):
    """Gaussian Thompson sampling with known noise ``sigma`` and prior N(initial, sigma^2/prior_weight)."""

    name = "thompson"
    params: ClassVar[dict[str, ParamSpec]] = {
        "sigma": ParamSpec(1.0, _POS, "agent", "assumed reward noise standard deviation"),
        **_ESTIMATE_PARAMS,
    }
    _GRID = np.linspace(-8.0, 8.0, 161)

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        K.act_thompson(
            self.q,
            self.counts,
            self.p["sigma"],
            self.p["prior_weight"],
            off,
            per,
            klo,
            khi,
            out,
        )

    def _play(self, kernels: K.PlayKernels, grp: K.GroupRound, game: Any, rules: Any, sinks: Any) -> None:
        kernels.thompson(self._estimates(), self.p["sigma"], grp, game, rules, sinks)

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        K.probs_thompson(
            self.q,
            self.counts,
            self.p["sigma"],
            self.p["prior_weight"],
            off,
            per,
            self._GRID,
            out,
        )


class Softmax(_EstimateLearner):
    """Boltzmann choice on value estimates: P(j) ~ exp((q_j + offset_j) / temperature)."""

    name = "softmax"
    params: ClassVar[dict[str, ParamSpec]] = {
        "temperature": ParamSpec(1.0, _POS, "agent", "choice noise, in reward units"),
        **_ESTIMATE_PARAMS,
    }

    def _scale(self) -> np.ndarray:
        return (1.0 / self.p["temperature"].astype(np.float64)).astype(np.float32)

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        K.act_logit(self.q, self._scale(), off, per, klo, khi, out)

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        K.probs_logit(self.q, self._scale(), off, per, out)


class EWA(Learner):
    """Experience-weighted attraction (Camerer & Ho 1999) with bandit feedback.

    N(t) = rho N(t-1) + 1;
    A_j(t) = [phi N(t-1) A_j(t-1) + (delta + (1 - delta) 1[j chosen]) payoff_j] / N(t),
    where the foregone payoff of an unchosen action, which a bandit agent does not
    see, is imputed as its current attraction. Choice is logit with precision
    ``precision`` (lambda) on A + offsets. delta = 0, rho = 0 is cumulative
    reinforcement; delta = 1, rho = phi weighted fictitious play.
    ``initial_values`` are A(0) and ``prior_weight`` is N(0).
    """

    name = "ewa"
    params: ClassVar[dict[str, ParamSpec]] = {
        "phi": ParamSpec(0.9, _UNIT, "agent", "decay of past attractions"),
        "rho": ParamSpec(0.9, _UNIT, "agent", "decay of the experience weight N"),
        "delta": ParamSpec(0.0, _UNIT, "agent", "weight of (imputed) foregone payoffs"),
        "precision": ParamSpec(1.0, _NONNEG, "agent", "logit precision lambda, 1/reward units"),
        "initial_values": _ESTIMATE_PARAMS["initial_values"],
        "prior_weight": _ESTIMATE_PARAMS["prior_weight"],
    }

    def _init_state(self) -> None:
        shape = (self.n_agents, self.n_actions)
        self.att = np.broadcast_to(self.p["initial_values"], shape).astype(np.float32, copy=True)
        self.nexp = np.broadcast_to(self.p["prior_weight"], (self.n_agents,)).copy()

    @property
    def estimates(self) -> np.ndarray:
        return self.att

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        K.act_logit(self.att, self.p["precision"], off, per, klo, khi, out)

    def _update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        p = self.p
        K.update_ewa(self.att, self.nexp, p["phi"], p["rho"], p["delta"], actions, rewards)

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        K.probs_logit(self.att, self.p["precision"], off, per, out)


class RothErev(Learner):
    """Roth-Erev reinforcement (Roth & Erev 1995; Erev & Roth 1998).

    Propensities q_j <- (1 - phi) q_j + E_j with E = R (1 - e) for the chosen
    action and R e / (K - 1) for the others, R = max(reward + posted offset -
    reward_floor, 0); choice probabilities q_j / sum q. Propensities stay
    positive (floored at 1e-30). Initial propensity = prior_weight *
    max(initial_values - reward_floor, 1e-6), so a lower initial value is
    pessimism. Posted offsets act only through experience (see module docstring).
    """

    name = "roth_erev"
    params: ClassVar[dict[str, ParamSpec]] = {
        "phi": ParamSpec(0.1, _UNIT, "agent", "forgetting rate"),
        "experimentation": ParamSpec(0.2, _UNIT, "agent", "share e of reinforcement spilled to other actions"),
        "reward_floor": ParamSpec(0.0, _ANY, "agent", "payoff subtracted so reinforcement stays >= 0"),
        "initial_values": ParamSpec(1.0, _ANY, "action", "prior payoff level of each action"),
        "prior_weight": ParamSpec(1.0, _POS, "agent", "strength of the initial propensities"),
    }

    def _init_state(self) -> None:
        floor = self.p["reward_floor"][:, None]
        self.prop = np.broadcast_to(
            self.p["prior_weight"][:, None] * np.maximum(self.p["initial_values"] - floor, 1e-6),
            (self.n_agents, self.n_actions),
        ).astype(np.float32, copy=True)
        self._last_off = np.zeros((1, self.n_actions), dtype=np.float32)
        self._last_per = False

    @property
    def estimates(self) -> np.ndarray:
        return self.prop

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        self._last_off, self._last_per = off, per
        K.act_proportional(self.prop, klo, khi, out)

    def _update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        p = self.p
        K.update_roth_erev(
            self.prop,
            p["phi"],
            p["experimentation"],
            p["reward_floor"],
            actions,
            rewards,
            self._last_off,
            self._last_per,
        )

    def _play(self, kernels: K.PlayKernels, grp: K.GroupRound, game: Any, rules: Any, sinks: Any) -> None:
        # the offsets of this round's choice, as _act remembers them for _update
        self._last_off, self._last_per = (
            (grp.off[grp.first : grp.first + self.n_agents], True) if grp.per else (grp.off, False)
        )
        p = self.p
        kernels.roth_erev(self.prop, p["phi"], p["experimentation"], p["reward_floor"], grp, game, rules, sinks)

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        out[:] = self.prop / self.prop.sum(axis=1, keepdims=True, dtype=np.float64)


class BestResponse(Learner):
    """Myopic best response: knows its mean payoffs and picks argmax(means + offsets).

    With ``temperature`` > 0 it chooses by logit (a random-utility taste shock of
    scale ``temperature``); 0 is the exact argmax with random tie-breaking. It
    does not learn; ``update`` only advances the round.

    With ``taste_shocks`` = 1 the logit choice is made explicitly by Gumbel-max
    (same probabilities, other draws) and the realised shock of the chosen action
    is kept in ``last_shock``: the household's match value with its choice, which
    counts in its utility (McFadden 1974 random utility; used by green_tax).
    """

    name = "best_response"
    needs_payoff_means = True
    params: ClassVar[dict[str, ParamSpec]] = {
        "means": ParamSpec(None, _ANY, "action", "the agent's mean payoff of each action"),
        "temperature": ParamSpec(0.0, _NONNEG, "agent", "logit noise scale; 0 = exact argmax"),
        "taste_shocks": ParamSpec(0.0, _UNIT, "agent", "1 = sample by Gumbel-max and keep the realised shock"),
    }

    def _init_state(self) -> None:
        flags = self.p["taste_shocks"]
        if not np.all(flags == flags[0]) or flags[0] not in (0.0, 1.0):
            raise ValueError("best_response.taste_shocks must be 0 or 1, the same for every agent of a batch")
        self.shocks = bool(flags[0])
        self.last_shock = np.zeros(self.n_agents if self.shocks else 1, dtype=np.float32)

    @property
    def estimates(self) -> np.ndarray:
        return self.p["means"]

    def _scale(self) -> np.ndarray:
        temp = self.p["temperature"].astype(np.float64)
        with np.errstate(divide="ignore"):
            return np.where(temp > 0, 1.0 / temp, np.inf).astype(np.float32)

    def _act(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        klo, khi = self._stream()
        if self.shocks:
            K.act_gumbel(self.p["means"], self.p["temperature"], off, per, klo, khi, out, self.last_shock)
        else:
            K.act_logit(self.p["means"], self._scale(), off, per, klo, khi, out)

    def _update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        pass

    def _play(self, kernels: K.PlayKernels, grp: K.GroupRound, game: Any, rules: Any, sinks: Any) -> None:
        if self.shocks:
            kernels.gumbel(self.p["means"], self.p["temperature"], grp, game, rules, sinks, self.last_shock)
        else:
            kernels.best_response(self.p["means"], self._scale(), grp, game, rules, sinks)

    def _probs(self, off: np.ndarray, per: bool, out: np.ndarray) -> None:
        K.probs_logit(self.p["means"], self._scale(), off, per, out)


LEARNERS: dict[str, type[Learner]] = {
    cls.name: cls for cls in (EpsilonGreedy, UCB1, Thompson, Softmax, EWA, RothErev, BestResponse)
}


def learner_class(spec: str | type) -> type:
    """The learner class named by a registered name or a ``module:ClassName`` path."""
    cls = resolve(spec, LEARNERS, "learner")
    if not isinstance(cls, type) or not all(callable(getattr(cls, m, None)) for m in ("act", "update")):
        raise ValueError(f"learner {spec!r} must be a class with act(offsets) and update(actions, rewards)")
    return cls


def make_learner(
    spec: str | type,
    n_agents: int,
    n_actions: int,
    *,
    rng: np.random.Generator,
    **params: Any,
) -> Learner:
    """Build a learner from a registered name or an import path (docs/design.md).

    Example:
        >>> import numpy as np
        >>> lr = make_learner("epsilon_greedy", 4, 3, rng=np.random.default_rng(0), epsilon=0.1)
        >>> lr.act().shape
        (4,)
    """
    cls = learner_class(spec)
    return cls(n_agents, n_actions, rng=rng, **params)
