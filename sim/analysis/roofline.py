"""The memory-bound view of an update unit: bytes per update, a roofline, memory energy.

An optimizer step on a real accelerator reads and writes every parameter's words once, so
its rate is at most ``bandwidth / bytes per update`` however many units fit; the compute
ceiling is ``units that fit x Fmax`` (every unit accepts one element a clock, II = 1).
``updates/s = min(compute ceiling, bandwidth / bytes)`` (the roofline of Williams,
Waterman and Patterson, CACM 2009, with updates in place of flops).

Figures, each cited where it is defined:

* bandwidths: DDR4-3200, one 64-bit channel, 3,200 MT/s x 8 B = 25.6 GB/s (JEDEC
  JESD79-4); one HBM2e stack about 460 GB/s (3.6 Gb/s per pin x 1,024 pins / 8);
* area budgets: the ECP5 LFE5U-85F (nextpnr's utilisation report: 83,640 LUT4 sites
  (TRELLIS_COMB; a CCU2C carry takes two), 83,640 flip-flops (two a slice), 156
  MULT18X18D, 208 DP16KD), the iCE40 HX8K (7,680 logic cells, each a LUT4, its carry and
  a flip-flop; 32 SB_RAM40_4K) and 1 mm2 of sky130 standard cells;
* a hard block's share of its device (`block_share`): the device's LUT4 sites divided by
  its blocks of that kind (LFE5U-85F: 83,640 / 156 = 536 LUT4 a MULT18X18D, 83,640 / 208 =
  402 a DP16KD; HX8K: 7,680 / 32 = 240 an SB_RAM40_4K), one of the three prices of a hard
  block in `sim.analysis.headline`;
* access energy per 64-bit word (Horowitz, ISSCC 2014, 45 nm): 8 KB SRAM 10 pJ, 32 KB
  20 pJ, 1 MB 100 pJ, DRAM 1.3-2.6 nJ;
* blockwise 8-bit Adam (Dettmers, Lewis, Shleifer and Zettlemoyer, "8-bit Optimizers via
  Block-wise Quantization", ICLR 2022; bitsandbytes): m and v as one 8-bit code each, one
  FP32 absmax per block of 2,048 for each: 2 B of state per parameter plus 8 B per block.

Nothing here synthesises: rows come from `sim.analysis.cost.unit_row` (or any dict with
its keys) and from `bytes_only_rows`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lns.errors import InvalidValue

__all__ = ["Bandwidth", "BANDWIDTHS", "Budget", "ECP5_85F", "ICE40_HX8K", "SKY130_MM2",
           "FPGA_BUDGETS", "HARD_BLOCKS", "block_share", "ACCESS_PJ_64", "BLOCK",
           "blockwise8_adam_bytes", "bytes_only_rows", "units_that_fit", "roofline_rates",
           "memory_energy", "plot_roofline"]


@dataclass(frozen=True)
class Bandwidth:
    name: str
    bytes_per_s: float
    source: str


BANDWIDTHS = (
    Bandwidth("DDR4-3200", 25.6e9, "one 64-bit channel: 3,200 MT/s x 8 B (JEDEC JESD79-4)"),
    Bandwidth("HBM2e", 460e9, "one stack: 3.6 Gb/s per pin x 1,024 pins / 8"),
)


@dataclass(frozen=True)
class Budget:
    """An area budget: what one chip (or area) offers, by the unit row's resource keys."""
    name: str
    limits: dict            # {row key: amount}; "lut4_sites" = luts + 2 x carries
    source: str


ECP5_85F = Budget("ECP5 LFE5U-85F",
                  {"lut4_sites": 83_640, "ffs": 83_640, "dsps": 156, "brams": 208},
                  "nextpnr's utilisation report of the LFE5U-85F (TRELLIS_COMB, TRELLIS_FF, "
                  "MULT18X18D, DP16KD)")
ICE40_HX8K = Budget("iCE40 HX8K",
                    {"lut4_sites": 7_680, "ffs": 7_680, "brams": 32},
                    "nextpnr's utilisation report of the HX8K (ICESTORM_LC: a LUT4, its carry "
                    "and a flip-flop each; ICESTORM_RAM); no DSP blocks")
SKY130_MM2 = Budget("1 mm2 of sky130 cells", {"area_um2": 1_000_000.0},
                    "area-only mapping to sky130_fd_sc_hd (no routing overhead)")

FPGA_BUDGETS = {"ecp5": ECP5_85F, "ice40": ICE40_HX8K}     # by `rtl.cost.TARGETS` name
HARD_BLOCKS = {"dsps": "MULT18X18D", "brams": "DP16KD"}    # the unit row's keys (ECP5 names)


def block_share(budget: Budget) -> dict:
    """``{kind: LUT4}``: each hard block kind of ``budget`` (``dsps``, ``brams``) priced at its
    share of the device, the device's LUT4 sites divided by its blocks of that kind (whole
    LUT4, rounded down): LFE5U-85F ``{"dsps": 536, "brams": 402}``, HX8K ``{"brams": 240}``."""
    sites = budget.limits.get("lut4_sites")
    if not sites:
        raise InvalidValue(f"{budget.name} has no LUT4 sites to share out")
    return {k: int(sites // budget.limits[k]) for k in HARD_BLOCKS if budget.limits.get(k)}


ACCESS_PJ_64 = {"sram_8kb": 10.0, "sram_32kb": 20.0, "sram_1mb": 100.0,
                "dram_low": 1300.0, "dram_high": 2600.0}

BLOCK = 2048                      # bitsandbytes' block size for blockwise quantisation
_ABSMAX_BYTES = 4                 # one FP32 absmax per block, per state


def blockwise8_adam_bytes(weight_bytes: int, grad_bytes: int | None = None,
                          block: int = BLOCK) -> dict:
    """Bytes one parameter's update moves with blockwise 8-bit Adam: the weight read and
    written, the gradient read, m and v read and written as one byte each, and each state's
    FP32 absmax read and written once per ``block`` parameters.  ``grad_bytes`` defaults to
    the weight's width (the gradient has the weights' dtype)."""
    if weight_bytes <= 0 or block <= 0:
        raise InvalidValue("weight_bytes and block must be positive")
    g = weight_bytes if grad_bytes is None else grad_bytes
    parts = {"w": 2 * weight_bytes, "g": g, "m": 2, "v": 2,
             "absmax": 2 * 2 * _ABSMAX_BYTES / block}
    return {"parts": parts, "bytes": sum(parts.values())}


def bytes_only_rows() -> list[dict]:
    """The units listed by their memory traffic only (no RTL here): blockwise 8-bit Adam
    with FP32 and with BF16 weights."""
    rows = []
    for label, wb in (("8-bit Adam, FP32 weights", 4), ("8-bit Adam, BF16 weights", 2)):
        b = blockwise8_adam_bytes(wb)
        rows.append({"label": label, "preset": None, "bytes_moved": b["bytes"],
                     "bytes_parts": b["parts"], "fmax_mhz": None, "bytes_only": True,
                     "source": "Dettmers et al., ICLR 2022 (bitsandbytes), block "
                               f"{BLOCK}"})
    return rows


def _used(row: dict, key: str):
    if key == "lut4_sites":
        # the row's own count when it has one (`sim.analysis.cost.unit_row`: an iCE40 carry
        # sits beside its LUT), else an ECP5 CCU2C takes two LUT4 sites
        if row.get("lut4_sites") is not None:
            return row["lut4_sites"]
        return row.get("luts", 0) + 2 * row.get("carries", 0)
    return row.get(key)


def units_that_fit(row: dict, budget: Budget) -> int | None:
    """How many copies of ``row``'s unit fit ``budget`` (the scarcest resource decides);
    None when the row lacks a resource the budget counts."""
    n = math.inf
    for key, limit in budget.limits.items():
        used = _used(row, key)
        if used is None:
            return None
        if used > 0:
            n = min(n, int(limit // used))
    return None if n == math.inf else n


def roofline_rates(row: dict, budget: Budget, bandwidths=BANDWIDTHS) -> dict:
    """``{"units": n, "compute_per_s": n x Fmax (None without Fmax), bandwidth name:
    {"memory_per_s", "updates_per_s", "bound"}}`` for one row."""
    n = None if row.get("bytes_only") else units_that_fit(row, budget)
    fmax = row.get("fmax_mhz")
    compute = n * fmax * 1e6 if n is not None and fmax else None
    out = {"budget": budget.name, "units": n, "compute_per_s": compute}
    for bw in bandwidths:
        mem = bw.bytes_per_s / row["bytes_moved"]
        rate = mem if compute is None else min(compute, mem)
        bound = "memory" if compute is None or mem <= compute else "compute"
        out[bw.name] = {"memory_per_s": mem, "updates_per_s": rate, "bound": bound}
    return out


def memory_energy(bytes_moved: float) -> dict:
    """pJ of one update's memory traffic at each access energy of `ACCESS_PJ_64` (64-bit
    accesses, a partial word priced by its share)."""
    words = bytes_moved * 8 / 64
    return {k: words * pj for k, pj in ACCESS_PJ_64.items()}


def plot_roofline(rows: list[dict], budget: Budget, path, bandwidths=BANDWIDTHS) -> str:
    """Updates/s against memory bandwidth (log-log), one line per row: rising as
    ``bandwidth / bytes`` until the row's compute ceiling (flat); bytes-only rows dashed
    and without a ceiling.  The bandwidths of ``bandwidths`` are marked.  Writes the image;
    returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    bws = np.logspace(9, 13, 200)               # 1 GB/s .. 10 TB/s
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        rates = roofline_rates(r, budget, bandwidths)
        mem = bws / r["bytes_moved"]
        y = mem if rates["compute_per_s"] is None else np.minimum(mem, rates["compute_per_s"])
        ax.plot(bws, y, "--" if r.get("bytes_only") else "-", lw=1.2,
                label=f"{r['label']} ({r['bytes_moved']:.3g} B)")
    for bw in bandwidths:
        ax.axvline(bw.bytes_per_s, color="grey", lw=0.8, ls=":")
        ax.annotate(bw.name, (bw.bytes_per_s, ax.get_ylim()[0]), fontsize=7, rotation=90,
                    xytext=(2, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("memory bandwidth (bytes/s)")
    ax.set_ylabel("updates/s")
    ax.set_title(f"roofline: updates/s = min(units in {budget.name} x Fmax, "
                 "bandwidth / bytes)", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
