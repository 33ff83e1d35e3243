"""Design-space exploration (DESIGN.md section 8, issue 20): accuracy against hardware cost.

`grid`    the plan: tasks x rules x widths x rounding x seeds and the float baselines;
`points`  what a worker runs: one training point, one configuration's cost;
`store`   the SQLite results store (one row per finished run, keyed by config and code);
`run`     `explore`: the stages as Dask tasks through the store, the join with cost;
`pareto`  the fronts, `pareto.png` per task and the markdown table.
"""

from .grid import FULL, QUICK, Plan
from .run import explore
from .store import Store, code_version

__all__ = ["Plan", "QUICK", "FULL", "explore", "Store", "code_version"]
