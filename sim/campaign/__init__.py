"""Verification campaigns: presets x simulators x N vectors as one job on Dask.

``plan``          the job cut into task specs, one per chunk of blocks per preset
                  (`plan.py`; a spec is small and picklable: a worker needs nothing else);
                  ``iter_plan`` makes them lazily, so a campaign of any size plans at once;
                  the bounds of a campaign (``VECTORS_MAX`` ...) with their reasons
``run_task``      what a worker does with one spec: `testbench.streaming.run_chunk`
``run_campaign``  check, plan, warm the caches, submit the Dask tasks a few at a time (a
                  local cluster of worker processes by default, at most ``max_workers``;
                  an existing cluster by address, waited for a bounded time), tally per
                  preset as they complete with progress, and summarise (`run.py`)
``cluster``       the cluster's size, address, start and end; Ctrl-C ends every process
                  the campaign started within a second or two (`cluster.py`)
``strip_timing``  the part of a summary that is the same for any number of workers

Vectors are defined in fixed blocks seeded per (seed, block index) (`testbench.streaming`),
so the merged result does not depend on how the blocks are cut into chunks or on which
worker runs which chunk.
"""

from .cluster import WORKERS_PER_CORE, CampaignError, max_workers, usable_cores
from .plan import VECTORS_MAX, TaskSpec, iter_plan, plan, task_count
from .run import run_campaign, run_task, strip_timing, warm_up

__all__ = ["TaskSpec", "plan", "iter_plan", "task_count", "run_task", "run_campaign",
           "strip_timing", "warm_up", "CampaignError", "usable_cores", "max_workers",
           "WORKERS_PER_CORE", "VECTORS_MAX"]
