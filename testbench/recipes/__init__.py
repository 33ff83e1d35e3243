"""Vector recipes: what each rule brings to the one verification path.

A *recipe* is the module a rule's registry entry names (`lns.registry.RuleEntry.recipe`:
``testbench.recipes.madam``, ``testbench.recipes.additive`` for LNS Adam, SGD and Lion,
``testbench.recipes.float_adam``).  It knows the rule's corners and writes input words by
role; everything else (held values, expectations, blocks, the HDL testbench, the harness,
the compare, streaming, campaigns, faults) is common code that only calls the contract
(`lns.rule.Rule`) and the functions below.  `recipe_of` loads the recipe of a config.

The interface
-------------
A recipe module defines:

``TENSOR_HELD : tuple[str, ...]``
    The per-tensor held values the recipe picks for a group, by name: keyword arguments
    of ``cfg.held(t, **values)``.  Madam ``("clip",)``; every other rule ``()`` (its held
    ports follow from ``t`` alone).  They are columns of the `testbench.vectors.VectorSet`
    and fields of the hex line, after ``t``.

``groups(cfg, seed) -> tuple[Group, ...]``
    The groups of a run: a step ``t`` and the tensor-held values (`Group`).  Block ``i``
    of a streamed run (`testbench.streaming`) takes ``groups[i]`` while ``i <
    len(groups)`` (and holds that group's edge table), later blocks a seeded choice; an
    in-memory set (`testbench.vectors.generate`) takes the first group and a seeded
    choice of the others.  The first group should be ``t = 1``.

``edges(cfg, group) -> {role: int64 array}``
    The group's edge table: input words of every role (``cfg.WORD_ROLES``), one case an
    index; deterministic (the common code caches it by ``(cfg, group)`` and takes a seeded
    sample of at most 2/5 of a block).

``specials(cfg, group, rng, n, seed) -> {role: int64 array}``
    Cases picked for a block of ``n`` vectors (well under ``n``): corners that depend on
    the datapath and are found by construction or by running the model on a seeded pool
    (``rng``; ``seed`` seeds a pool's LFSR lanes), such as ties of a rounding, clamps,
    cancellation, a step landing exactly on a weight.

``randoms(cfg, group, rng, n) -> {role: int64 array}``
    Exactly ``n`` seeded random cases (uniform words mixed with "realistic" ones).

``exhaustive(cfg, seed) -> list[(Group, {role: int64 array})] or None``
    Every input word combination, one entry a group, where the recipe offers an
    exhaustive set (Madam on small formats, e.g. ``tiny``); ``None`` where it offers
    none.  Raises `lns.errors.InvalidValue` when the formats are too wide.

Every array of one call has the same length; words are valid words of the role's format
(the unit reads any bit pattern, so uniform patterns are valid too).  The same ``(cfg,
group, seed)`` and the same ``rng`` state give the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Group", "recipe_of", "each_role_rows"]


@dataclass(frozen=True)
class Group:
    """One group of cases: the step ``t`` and the tensor-held values as ``((name,
    value), ...)`` (hashable; `kw` gives them as a dict for ``cfg.held``)."""

    t: int
    tensor: tuple = ()

    @property
    def kw(self) -> dict:
        return dict(self.tensor)

    def held(self, cfg) -> dict:
        """The ports held with every beat of the group (``cfg.held``)."""
        return cfg.held(int(self.t), **self.kw)

    @classmethod
    def of(cls, t: int, **tensor) -> "Group":
        return cls(int(t), tuple((k, int(v)) for k, v in tensor.items()))


def recipe_of(cfg):
    """The recipe module of ``cfg``'s rule (`lns.registry.load`, imported once)."""
    from lns.registry import load
    return load(cfg, "recipe")


def each_role_rows(edges: dict, typical: dict, keys) -> list:
    """Every edge word ``edges[key]`` in its role ``key``, the other roles at their
    ``typical`` word: one row a word, a tuple in ``keys`` order (the IEEE recipes' first
    edge cases)."""
    rows = []
    for key in keys:
        for x in edges[key]:
            row = dict(typical)
            row[key] = int(x)
            rows.append(tuple(row[k] for k in keys))
    return rows
