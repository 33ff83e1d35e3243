"""A campaign cut into tasks: one `TaskSpec` per chunk of vector blocks per preset."""

from __future__ import annotations

from dataclasses import dataclass

from testbench.tools import Simulator

__all__ = ["TaskSpec", "plan", "resolve_presets", "resolve_sims", "SIM_NAMES",
           "CHUNK_BLOCKS"]

#: The simulators' names (`testbench.tools.Simulator`), for messages.
SIM_NAMES = tuple(str(s) for s in Simulator)

# Blocks a task by default: one block (2**16 vectors) already makes a simulator's start a
# small share of a task, and a campaign of a few hundred thousand vectors a preset then
# gives every worker of a small cluster several tasks to balance.
CHUNK_BLOCKS = 1


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
            raise TypeError(f"a preset must be a name or a rule's config, not "
                            f"{type(p).__name__}")
        if name in seen:
            raise ValueError(f"presets must not repeat a name, not {name!r} twice")
        seen.add(name)
        out.append((name, cfg))
    if not out:
        raise ValueError("presets must name at least one preset, not none")
    return out


def resolve_sims(sims) -> tuple:
    """The simulators (`testbench.tools.Simulator`) as a tuple in the order given;
    ValueError for an unknown name, a repeat or none at all."""
    from testbench.tools import Simulator
    sims = Simulator.parse_all(sims)
    if not sims:
        raise ValueError("sims must name at least one simulator, not none")
    return sims


def _positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, not {value!r}")


def plan(presets, sims, vectors: int, seed: int = 1, lanes: int = 1,
         chunk_blocks: int | None = None, *, max_errors: int = 10,
         block: int | None = None) -> list[TaskSpec]:
    """The task specs of a campaign: ``vectors`` vectors of every preset on ``sims``.

    Parameters
    ----------
    presets : list of str or configs (any rule's), or "a,b"
    sims : list of str, or "icarus,verilator"
    vectors : int
        Vectors per preset.
    seed, lanes : int
    chunk_blocks : int, optional
        Blocks a task (default `CHUNK_BLOCKS`).
    block : int, optional
        Vectors a block (default `testbench.streaming.BLOCK`, which defines the vectors).

    The specs do not depend on the number of workers: presets in the order given, chunks in
    block order, the last chunk of a preset possibly shorter.
    """
    from testbench.vectors import config_dict
    named = resolve_presets(presets)
    sims = tuple(str(s) for s in resolve_sims(sims))
    _positive("vectors", vectors)
    _positive("lanes", lanes)
    _positive("max_errors", max_errors)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    if block is None:
        from testbench.streaming import BLOCK as block
    _positive("block", block)
    if chunk_blocks is None:
        chunk_blocks = CHUNK_BLOCKS
    _positive("chunk_blocks", chunk_blocks)
    n_blocks = -(-vectors // block)
    specs = []
    for name, cfg in named:
        config = config_dict(cfg)
        for first in range(0, n_blocks, chunk_blocks):
            specs.append(TaskSpec(name, config, sims, seed, lanes, first,
                                  min(chunk_blocks, n_blocks - first), vectors, max_errors))
    return specs
