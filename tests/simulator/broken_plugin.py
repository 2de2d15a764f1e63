"""A learner plugin whose own dependency is missing, so importing it fails (for the error-message test)."""

from __future__ import annotations

from _no_such_dependency_for_the_tests import fast_choice


class BrokenLearner:
    """Would delegate to the missing dependency."""

    def act(self, offsets=None):
        return fast_choice(offsets)

    def update(self, actions, rewards):
        pass
