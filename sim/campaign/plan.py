"""A campaign cut into tasks: one `TaskSpec` per chunk of vector blocks per preset.

The tasks are planned lazily (`iter_plan`): a campaign of any size is a count
(`task_count`) and a generator, so planning takes no time and no memory that grows with
the vectors; `plan` lists them (for inspection and tests).  The bounds on what a campaign
may ask for are here, each with the reason it exists, so the command line states them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lns.errors import InvalidType, InvalidValue
from testbench.tools import Simulator

__all__ = ["TaskSpec", "plan", "iter_plan", "task_count", "resolve_presets", "resolve_sims",
           "SIM_NAMES", "CHUNK_BLOCKS", "VECTORS_MAX", "CHUNK_BLOCKS_MAX", "MAX_ERRORS_MAX",
           "SEED_MAX", "VECTORS_WHY", "CHUNK_BLOCKS_WHY", "MAX_ERRORS_WHY"]

#: The simulators' names (`testbench.tools.Simulator`), for messages.
SIM_NAMES = tuple(str(s) for s in Simulator)

# Blocks a task by default: one block (2**16 vectors) already makes a simulator's start a
# small share of a task, and a campaign of a few hundred thousand vectors a preset then
# gives every worker of a small cluster several tasks to balance.
CHUNK_BLOCKS = 1

#: Vectors a preset at most.  Planning and memory no longer grow with the count, so the
#: bound is what a summary can say exactly: the totals over every preset stay below 2**53,
#: which any JSON reader holds exactly (13 presets x 10**14 = 1.3e15); and it is years of
#: one core (Verilator checks 1-2 M vectors/s).
VECTORS_MAX = 10**14
VECTORS_WHY = "the summary's totals over every preset stay exact in JSON"
#: Blocks a task at most: a task reports (progress, mismatches) only when all its blocks
#: are done, and Ctrl-C loses the blocks of the tasks running; 1024 blocks are 67 M
#: vectors, about a minute of Verilator.
CHUNK_BLOCKS_MAX = 1024
CHUNK_BLOCKS_WHY = "a task reports only when all its blocks are done"
#: Failing cases kept at most: each is held in memory with its vectors and saved as a
#: file of its own.
MAX_ERRORS_MAX = 1000
MAX_ERRORS_WHY = "each failing case kept is held in memory and saved as a file"
#: Seeds: 0 to 2**32 - 1 (the bound of `sim.cli.options.SEED_MAX`: numpy's legacy seeding
#: and the LFSR seeds take 32 bits).
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class TaskSpec:
    """One Dask task: blocks ``[first_block, first_block + blocks)`` of one preset.

    Everything a worker needs, as plain values (it pickles small and means the same on any
    machine): the config as its dictionary (any rule's ``to_dict`` with its
    ``"optimizer"``), so a worker needs the project installed but not the same preset list.
    """

    preset: str                 # the name the summary files it under
    config: dict                # testbench.vectors.config_dict(cfg)
    sims: tuple                 # simulator names (the reference and python always run)
    seed: int
    lanes: int
    first_block: int
    blocks: int
    total: int                  # vectors of the whole campaign for this preset
    max_errors: int = 10

    def cfg(self):
        """The configuration of this task (any rule's, `lns.optimizers.config_from_dict`)."""
        from lns.optimizers import config_from_dict
        return config_from_dict(self.config)

    @property
    def label(self) -> str:
        return f"{self.preset} blocks {self.first_block}..{self.first_block + self.blocks - 1}"


def resolve_presets(presets) -> list:
    """``[(name, config)]`` of ``presets``: names (``"lns12"``, ``"bf16_adam"``: any
    rule's), configs (any `lns.rule.Rule`), or a comma-separated string; ValueError for an
    unknown name, a repeat or none at all."""
    from lns import presets as named
    from lns.rule import Rule
    if isinstance(presets, str):
        presets = [p.strip() for p in presets.split(",") if p.strip()]
    out, seen = [], set()
    for p in presets:
        if isinstance(p, Rule):
            name, cfg = p.name, p
        elif isinstance(p, str):
            name, cfg = p, named.get(p)           # ValueError naming the choices
        else:
            raise InvalidType(f"a preset must be a name or a rule's config, not "
                              f"{type(p).__name__}")
        if name in seen:
            raise InvalidValue(f"presets must not repeat a name, not {name!r} twice")
        seen.add(name)
        out.append((name, cfg))
    if not out:
        raise InvalidValue("presets must name at least one preset, not none")
    return out


def resolve_sims(sims) -> tuple:
    """The simulators (`testbench.tools.Simulator`) as a tuple in the order given;
    ValueError for an unknown name, a repeat or none at all."""
    sims = Simulator.parse_all(sims)
    if not sims:
        raise InvalidValue("sims must name at least one simulator, not none")
    return sims


def check_count(name: str, value, largest: int | None = None, why: str = "") -> int:
    """``value`` if it is a whole number from 1 to ``largest``; else InvalidValue (or
    InvalidType) naming the bound and ``why`` it exists."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidType(f"{name} must be a positive int, not {value!r}")
    if value < 1:
        raise InvalidValue(f"{name} must be a positive int, not {value!r}")
    if largest is not None and value > largest:
        raise InvalidValue(f"{name} must be at most {largest:,}{f' ({why})' if why else ''}, "
                           f"not {value:,}")
    return value


def check_seed(seed) -> int:
    """``seed`` if it is a whole number from 0 to `SEED_MAX`, else InvalidValue/Type."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidType(f"seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed <= SEED_MAX:
        raise InvalidValue(f"seed must be a whole number from 0 to {SEED_MAX}, not {seed}")
    return seed


def _block() -> int:
    from testbench.streaming import BLOCK
    return BLOCK


def _checked(presets, sims, vectors, seed, lanes, chunk_blocks, max_errors, block):
    """The arguments of `plan` checked: ``(named, sim names, chunk_blocks, block)``."""
    named = resolve_presets(presets)
    sims = tuple(str(s) for s in resolve_sims(sims))
    check_count("vectors", vectors, VECTORS_MAX, VECTORS_WHY)
    from rtl.design import MAX_LANES
    check_count("lanes", lanes, MAX_LANES, "rtl.design.MAX_LANES")
    check_count("max_errors", max_errors, MAX_ERRORS_MAX, MAX_ERRORS_WHY)
    check_seed(seed)
    block = _block() if block is None else check_count("block", block)
    chunk_blocks = CHUNK_BLOCKS if chunk_blocks is None else chunk_blocks
    check_count("chunk_blocks", chunk_blocks, CHUNK_BLOCKS_MAX, CHUNK_BLOCKS_WHY)
    return named, sims, chunk_blocks, block


def task_count(presets, vectors: int, chunk_blocks: int | None = None, *,
               block: int | None = None) -> int:
    """How many tasks `iter_plan` gives (without planning them)."""
    n_presets = len(resolve_presets(presets))
    block = _block() if block is None else block
    chunk_blocks = CHUNK_BLOCKS if chunk_blocks is None else chunk_blocks
    return n_presets * -(-(-(-vectors // block)) // chunk_blocks)


def iter_plan(presets, sims, vectors: int, seed: int = 1, lanes: int = 1,
              chunk_blocks: int | None = None, *, max_errors: int = 10,
              block: int | None = None):
    """The task specs of a campaign, made one at a time as they are taken (a campaign of
    any size plans in constant time and memory).  The arguments are checked at the call,
    before the first spec is taken; see `plan`."""
    from testbench.vectors import config_dict
    named, sims, chunk_blocks, block = _checked(presets, sims, vectors, seed, lanes,
                                                chunk_blocks, max_errors, block)
    n_blocks = -(-vectors // block)
    configs = [(name, config_dict(cfg)) for name, cfg in named]

    def specs():
        for name, config in configs:
            for first in range(0, n_blocks, chunk_blocks):
                yield TaskSpec(name, config, sims, seed, lanes, first,
                               min(chunk_blocks, n_blocks - first), vectors, max_errors)
    return specs()


def plan(presets, sims, vectors: int, seed: int = 1, lanes: int = 1,
         chunk_blocks: int | None = None, *, max_errors: int = 10,
         block: int | None = None) -> list[TaskSpec]:
    """The task specs of a campaign as a list: ``vectors`` vectors of every preset on
    ``sims`` (`iter_plan` makes them one at a time, for a campaign of any size).

    Parameters
    ----------
    presets : list of str or configs (any rule's), or "a,b"
    sims : list of str, or "icarus,verilator"
    vectors : int
        Vectors per preset, 1 to `VECTORS_MAX`.
    seed : int
        0 to `SEED_MAX`.
    lanes : int
        1 to `rtl.design.MAX_LANES`.
    chunk_blocks : int, optional
        Blocks a task (default `CHUNK_BLOCKS`, at most `CHUNK_BLOCKS_MAX`).
    max_errors : int
        Failing cases kept per task, 1 to `MAX_ERRORS_MAX`.
    block : int, optional
        Vectors a block (default `testbench.streaming.BLOCK`, which defines the vectors).

    The specs do not depend on the number of workers: presets in the order given, chunks in
    block order, the last chunk of a preset possibly shorter.
    """
    return list(iter_plan(presets, sims, vectors, seed, lanes, chunk_blocks,
                          max_errors=max_errors, block=block))
