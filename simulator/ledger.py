"""The ledger: who chose what, who paid what, round by round.

One source of truth per quantity (docs/design.md): every metric the model,
the DataCollector, the scenarios and the reports show is derived from these
records. Per round it keeps aggregates per household group and action (float64
sums, reduced in a fixed block order) and the incentive vector; per household
it keeps running totals (one float per quantity), never a per-round
per-household table (docs/design.md).

Sign convention: an incentive x > 0 on the chosen action is a payment to the
household (a subsidy or bonus, ``paid``); x < 0 is a tax the household pays
(``collected``, stored as a positive number). Net transfer to households =
paid - collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Ledger", "RoundRecord"]


@dataclass
class RoundRecord:
    """Aggregates of one round, arrays shaped (G, K) (groups x actions)."""

    round: int
    incentives: np.ndarray  # (K,) the posted/offered incentive vector (mean over agents if per-agent)
    counts: np.ndarray
    private: np.ndarray
    paid: np.ndarray
    collected: np.ndarray
    principal_value: float
    principal_cost: float

    @property
    def principal_return(self) -> float:
        """The principal's payoff this round: value - cost (taxes count as negative cost)."""
        return self.principal_value - self.principal_cost


@dataclass
class Ledger:
    """Per-round aggregates plus per-household running totals.

    Attributes:
        n_agents: population size.
        action_names: names of the K actions.
        group_names: names of the G household groups.
        records: one :class:`RoundRecord` per completed round.
        hh_incentive: per household, total incentives received (taxes negative), float64. It is
            allocated at the first round with a non-zero incentive (all zeros until then, which
            is what reading it earlier returns).
        hh_private: per household, total private reward experienced, float64.
    """

    n_agents: int
    action_names: list[str]
    group_names: list[str]
    track_households: bool = True
    records: list[RoundRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._hh_n = self.n_agents if self.track_households else 1
        self._hh_incentive: np.ndarray | None = None
        self.hh_private = np.zeros(self._hh_n, dtype=np.float64)

    @property
    def hh_incentive(self) -> np.ndarray:
        """Per household, total incentives received (taxes negative), float64."""
        if self._hh_incentive is None:
            self._hh_incentive = np.zeros(self._hh_n, dtype=np.float64)
        return self._hh_incentive

    @hh_incentive.setter
    def hh_incentive(self, value: np.ndarray) -> None:
        self._hh_incentive = value

    def household_totals(self, *, any_incentive: bool) -> tuple[np.ndarray | None, np.ndarray]:
        """The per-household totals a round adds to: (incentives or None, private rewards).

        The incentive totals are None while every incentive so far has been zero and this
        round's are too (nothing to add); the first non-zero incentive allocates them.
        """
        if self._hh_incentive is None and not any_incentive:
            return None, self.hh_private
        return self.hh_incentive, self.hh_private

    # ------------------------------------------------------------------ write
    def record(
        self,
        round_: int,
        incentives: np.ndarray,
        sums: dict[str, np.ndarray],
        principal_values: np.ndarray,
        incentive_cost: float,
    ) -> RoundRecord:
        """Append one round from the realize kernel's group x action sums."""
        counts = sums["counts"]
        net = sums["paid"] - sums["collected"]
        value = float((counts.sum(axis=0) * principal_values).sum())
        cost = float(incentive_cost * net.sum())
        inc = incentives if incentives.ndim == 1 else incentives.mean(axis=0)
        rec = RoundRecord(
            round=round_,
            incentives=np.array(inc, dtype=np.float64),
            counts=counts,
            private=sums["private"],
            paid=sums["paid"],
            collected=sums["collected"],
            principal_value=value,
            principal_cost=cost,
        )
        self.records.append(rec)
        return rec

    # ------------------------------------------------------------------- read
    @property
    def last(self) -> RoundRecord | None:
        """The most recent round, if any."""
        return self.records[-1] if self.records else None

    def total_paid(self) -> float:
        """All incentives paid to households over all rounds (subsidies/bonuses)."""
        return float(sum(r.paid.sum() for r in self.records))

    def total_collected(self) -> float:
        """All taxes collected from households over all rounds."""
        return float(sum(r.collected.sum() for r in self.records))

    def to_frame(self) -> pd.DataFrame:
        """One row per round: choice shares, incentives, transfers, rewards, principal payoff."""
        rows = []
        for r in self.records:
            counts = r.counts.sum(axis=0)
            n = max(counts.sum(), 1.0)
            row: dict[str, float] = {"round": r.round}
            for j, name in enumerate(self.action_names):
                row[f"share_{name}"] = counts[j] / n
            for j, name in enumerate(self.action_names):
                row[f"incentive_{name}"] = float(r.incentives[j])
            row["paid"] = float(r.paid.sum())
            row["collected"] = float(r.collected.sum())
            row["private_reward"] = float(r.private.sum())
            row["principal_value"] = r.principal_value
            row["principal_cost"] = r.principal_cost
            row["principal_return"] = r.principal_return
            rows.append(row)
        return pd.DataFrame(rows)

    def group_frame(self) -> pd.DataFrame:
        """Long table: round x group x action with count, private reward, paid and collected."""
        rows = []
        for r in self.records:
            for g, gname in enumerate(self.group_names):
                for j, aname in enumerate(self.action_names):
                    rows.append(
                        {
                            "round": r.round,
                            "group": gname,
                            "action": aname,
                            "count": r.counts[g, j],
                            "private": r.private[g, j],
                            "paid": r.paid[g, j],
                            "collected": r.collected[g, j],
                        }
                    )
        return pd.DataFrame(rows)
