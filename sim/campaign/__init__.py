"""Verification campaigns: presets x simulators x N vectors as one job on Dask.

``plan``          the job cut into task specs, one per chunk of blocks per preset
                  (`plan.py`; a spec is small and picklable: a worker needs nothing else)
``run_task``      what a worker does with one spec: `testbench.streaming.run_chunk`
``run_campaign``  plan, warm the caches, submit one Dask task per chunk (a local cluster of
                  worker processes by default, an existing cluster by address), gather as
                  they complete with progress, merge per preset (`streaming.merge`) and
                  summarise (`run.py`)
``strip_timing``  the part of a summary that is the same for any number of workers

Vectors are defined in fixed blocks seeded per (seed, block index) (`testbench.streaming`),
so the merged result does not depend on how the blocks are cut into chunks or on which
worker runs which chunk.
"""

from .plan import TaskSpec, plan
from .run import CampaignError, run_campaign, run_task, strip_timing, warm_up

__all__ = ["TaskSpec", "plan", "run_task", "run_campaign", "strip_timing", "warm_up",
           "CampaignError"]
