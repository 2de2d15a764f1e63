"""scenarios: named, runnable experiments (``python -m scenarios.NAME``).

* ``green_tax``: carbon taxation of learning households (the headline run);
* ``bandit_alignment``: MERMAIDE's bandit experiments (align a learning agent with a target arm);
* ``stackelberg``: the principal as Stackelberg leader against a learning follower.
"""
