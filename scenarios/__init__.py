"""scenarios: named, runnable experiments (``python -m scenarios.NAME``).

* ``green_tax``: carbon taxation of learning households (the headline run);
* ``bandit_alignment``: MERMAIDE's bandit experiments (align a learning agent with a target arm);
* ``stackelberg``: the principal as Stackelberg leader against a learning follower.
"""

import os as _os

# before PyTorch or numba load the OpenMP runtime: idle worker threads sleep instead of spinning (see simulator)
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
