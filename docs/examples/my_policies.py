"""A principal (policy) of your own: an announced carbon-tax ramp, for the tutorial.

Use it by import path once this folder is importable (see docs/tutorial.md, section 4):

    PYTHONPATH=docs/examples python -m scenarios.green_tax --principals pigouvian,my_policies:CarbonTaxRamp

The government phases the Pigouvian carbon tax in: in year t it levies
``min(1, (t + 1) / ramp_years)`` times the social cost of carbon of the year, per
tonne of CO2 from gasoline and charging (as the Canadian and EU carbon prices were
phased in), announces the ramp, and never looks at what households do.

A principal has three methods (docs/design.md, "Principals"): ``reset(spec, rng)`` at the
start of an episode, ``act()`` for this year's incentives per technology (negative
numbers are taxes, positive ones subsidies: here none), and ``observe(obs)`` after
the year. ``policies.BasePrincipal`` stores the spec and counts the years
(``self.round``, advanced by its ``observe``) for you. green_tax reads two optional
methods: the carbon tax as a share of the SCC of year t (``carbon_tax_share(t)``),
and the schedule it announces (``schedule(t, rounds)``: the incentives of the coming
years), which households take into account when they buy a car.
"""

from __future__ import annotations

import numpy as np

from policies import BasePrincipal


class CarbonTaxRamp(BasePrincipal):
    """The Pigouvian carbon tax, phased in linearly over ``ramp_years``, announced.

    Args:
        ramp_years: years until the full Pigouvian rate applies.
    """

    def __init__(self, ramp_years: int = 10) -> None:
        self.ramp_years = int(ramp_years)

    def carbon_tax_share(self, t: int) -> float:
        """The carbon tax of year t as a share of the social cost of carbon."""
        return min(1.0, (t + 1) / self.ramp_years)

    def act(self) -> np.ndarray:
        """This year's vehicle incentives: none."""
        return np.zeros(self.spec.n_actions)

    def schedule(self, t: int, rounds: int) -> np.ndarray:
        """The vehicle incentives announced for years t, t+1, ...: none (the carbon tax is carbon_tax_share's)."""
        return np.zeros((rounds, self.spec.n_actions))
