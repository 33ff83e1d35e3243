"""rtl: Amaranth descriptions of every registered rule's lane unit (LNS Madam `rtl.unit`,
LNS Adam and SGD `rtl.additive_unit`, LNS Lion `rtl.lion_unit`, IEEE Adam
`rtl.float_adam`), the one array that puts ``lanes`` of them behind one valid/ready stream
(`rtl.array.UpdateArray`), Verilog generation with a JSON sidecar, and synthesis cost.

The ROMs and constants are built from `lns` (``cfg.params``, ``cfg.sb_table``,
``cfg.exp_table``, `lns.lfsr`), never recomputed here.  Every generated design comes from
`rtl.design.design` (one flow, one cache; the function is not re-exported here, so
``rtl.design`` stays the module); `generate_verilog` copies it into a folder.

The Amaranth components are imported on first use, so `rtl.cache`, `rtl.lanes` and
`rtl.design.Design` import without Amaranth (the testbench reports a missing simulator
instead of failing to import).
"""

from __future__ import annotations

from pathlib import Path

from .design import Design, module_name, sidecar, table_summary

__all__ = ["UpdateArray", "MadamUpdateUnit", "MadamUpdateArray", "AdamUpdateUnit",
           "SGDUpdateUnit", "AdditiveUpdateArray", "generate_verilog", "module_name", "sidecar",
           "pipeline_stages", "additive_stages", "xbc_shape", "table_summary", "Design",
           "simulate"]

_FROM_UNIT = ("MadamUpdateArray", "MadamUpdateUnit", "pipeline_stages", "xbc_shape")
_FROM_ADDITIVE = ("AdamUpdateUnit", "SGDUpdateUnit", "AdditiveUpdateArray", "additive_stages")


def __getattr__(name):
    if name == "UpdateArray":
        from .array import UpdateArray
        return UpdateArray
    if name == "simulate":
        from .sim import simulate
        return simulate
    if name in _FROM_UNIT:
        from . import unit
        return getattr(unit, name)
    if name in _FROM_ADDITIVE:
        from . import additive_unit
        return getattr(additive_unit, name)
    raise AttributeError(f"module 'rtl' has no attribute {name!r}")


def generate_verilog(cfg, out_dir, lanes: int = 1) -> tuple[Path, Path]:
    """Write ``<module>.v`` and ``<module>.json`` into ``out_dir`` (created if missing).

    The files are those of `rtl.design.design` (generated once, cached), copied byte for
    byte: the same config gives byte-identical files.  Both are written to temporary files
    in ``out_dir`` first and renamed into place, so an error leaves no half-written file;
    ``out_dir`` is created only once the files are ready (an error or an interrupt before
    leaves no new folder).

    Returns
    -------
    (verilog_path, sidecar_path)

    Raises
    ------
    TypeError
        ``cfg`` not a `lns.MadamConfig`, `lns.AdamConfig` or `lns.SGDConfig` (the module is
        ``lnsmadam_``, ``lnsadam_`` or ``lnssgd_<name>_x<lanes>``).
    ValueError
        ``lanes`` not a positive int or over `rtl.design.MAX_LANES` (64), or ``out_dir``
        not a writable directory.
    """
    from .design import _check, check_out_dir, design, export
    _check(cfg, lanes)
    check_out_dir(out_dir)            # a bad folder fails before any generation (creating
    d = export(design(cfg, lanes), out_dir)   # nothing: an interrupt leaves no new folder)
    return d.verilog, d.sidecar
