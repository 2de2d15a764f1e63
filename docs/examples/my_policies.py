"""A principal (policy) of your own: an announced carbon-tax ramp, for the tutorial.

Use it by import path once this folder is importable (see docs/tutorial.md, section 4):

    PYTHONPATH=docs/examples python -m scenarios.green_tax --principals pigouvian,my_policies:CarbonTaxRamp

The government phases the Pigouvian tax in: in year t it levies
``min(1, (t + 1) / ramp_years)`` times the social cost of carbon times each
technology's emissions (as the Canadian and EU carbon prices were phased in),
and it never looks at what households do.

A principal has three methods (docs/design.md, "Principals"): ``reset(spec, rng)`` at the
start of an episode, ``act()`` for this year's incentives (one number per
technology; negative numbers are taxes, positive ones subsidies), and
``observe(obs)`` after the year. ``policies.BasePrincipal`` stores the spec and
counts the years (``self.round``, advanced by its ``observe``) for you. The spec tells the principal the game: here
``spec.principal_values`` is -SCC x emissions of each technology, the
government's own value of each choice.
"""

from __future__ import annotations

import numpy as np

from policies import BasePrincipal


class CarbonTaxRamp(BasePrincipal):
    """The Pigouvian carbon tax, phased in linearly over ``ramp_years``.

    Args:
        ramp_years: years until the full Pigouvian rate applies.
    """

    def __init__(self, ramp_years: int = 10) -> None:
        self.ramp_years = int(ramp_years)

    def act(self) -> np.ndarray:
        """This year's incentives: minus the phased-in Pigouvian tax of each technology."""
        share = min(1.0, (self.round + 1) / self.ramp_years)
        damages = np.asarray(self.spec.principal_values, dtype=np.float64)  # -SCC x emissions, $/yr
        return self.clip(share * damages)
