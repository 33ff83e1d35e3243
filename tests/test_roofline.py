"""The memory-bound view (sim.analysis.roofline): bytes per update, units that fit, the
roofline rates and the memory energy, against figures worked by hand from the cited
sources."""

import pytest

from lns import presets
from lns.errors import InvalidValue
from sim.analysis import roofline as rl


def test_blockwise_8bit_adam_bytes_as_bitsandbytes_stores_them():
    # FP32 weights: w read + written (8 B), g read (4 B), m and v one byte each read and
    # written (4 B), two FP32 absmax per 2,048 read and written (16 B / 2048).
    b = rl.blockwise8_adam_bytes(4)
    assert b["parts"] == {"w": 8, "g": 4, "m": 2, "v": 2, "absmax": 16 / 2048}
    assert b["bytes"] == pytest.approx(16.0078125)
    assert rl.blockwise8_adam_bytes(2)["bytes"] == pytest.approx(10.0078125)
    # a BF16 gradient beside FP32 master weights
    assert rl.blockwise8_adam_bytes(4, grad_bytes=2)["bytes"] == pytest.approx(14.0078125)
    with pytest.raises(InvalidValue):
        rl.blockwise8_adam_bytes(0)


def test_bytes_only_rows_name_both_weight_widths():
    rows = rl.bytes_only_rows()
    assert [r["label"] for r in rows] == ["8-bit Adam, FP32 weights", "8-bit Adam, BF16 weights"]
    assert all(r["bytes_only"] and r["fmax_mhz"] is None for r in rows)


def test_units_that_fit_take_the_scarcest_resource():
    row = {"luts": 1000, "carries": 100, "ffs": 500, "dsps": 4, "brams": 0}
    # LUT4 sites 1,200 -> 69; FFs -> 167; DSPs 156 / 4 -> 39; no BRAM used
    assert rl.units_that_fit(row, rl.ECP5_85F) == 39
    assert rl.units_that_fit(dict(row, dsps=0), rl.ECP5_85F) == 69
    assert rl.units_that_fit({"area_um2": 44_600.0}, rl.SKY130_MM2) == 22
    assert rl.units_that_fit({"luts": 10}, rl.ECP5_85F) is None      # no FF count: unknown


def test_roofline_is_the_lesser_of_compute_and_memory():
    # FP32 Adam moves 28 B an update (w, g, m, v read; w, m, v written, 4 B each)
    assert presets.get("fp32_adam").update_bytes == 28
    row = {"luts": 8000, "carries": 0, "ffs": 4000, "dsps": 32, "brams": 0,
           "fmax_mhz": 50.0, "bytes_moved": 28.0}
    r = rl.roofline_rates(row, rl.ECP5_85F)
    assert r["units"] == 4                               # 156 // 32 DSPs
    assert r["compute_per_s"] == pytest.approx(4 * 50e6)
    ddr = r["DDR4-3200"]
    assert ddr["memory_per_s"] == pytest.approx(25.6e9 / 28)     # 914 M/s
    assert ddr["updates_per_s"] == pytest.approx(200e6) and ddr["bound"] == "compute"
    hbm = r["HBM2e"]
    assert hbm["updates_per_s"] == pytest.approx(200e6) and hbm["bound"] == "compute"
    small = dict(row, dsps=0, luts=100, ffs=100)         # 836 units at 50 MHz: 41.8 G/s
    r = rl.roofline_rates(small, rl.ECP5_85F)
    assert r["DDR4-3200"]["bound"] == "memory"
    assert r["DDR4-3200"]["updates_per_s"] == pytest.approx(25.6e9 / 28)


def test_bytes_only_rows_are_memory_bound_everywhere():
    row = rl.bytes_only_rows()[1]
    r = rl.roofline_rates(row, rl.ECP5_85F)
    assert r["units"] is None and r["compute_per_s"] is None
    assert r["HBM2e"]["updates_per_s"] == pytest.approx(460e9 / 10.0078125)


def test_memory_energy_per_64_bit_access():
    e = rl.memory_energy(28.0)                           # 224 bits = 3.5 accesses
    assert e["sram_8kb"] == pytest.approx(35.0)
    assert e["dram_low"] == pytest.approx(4550.0) and e["dram_high"] == pytest.approx(9100.0)


def test_plot_writes_a_png(tmp_path):
    rows = [{"label": "unit", "luts": 500, "carries": 10, "ffs": 300, "dsps": 0, "brams": 0,
             "fmax_mhz": 100.0, "bytes_moved": 8.625}] + rl.bytes_only_rows()
    out = rl.plot_roofline(rows, rl.ECP5_85F, tmp_path / "roofline.png")
    data = (tmp_path / "roofline.png").read_bytes()
    assert out.endswith("roofline.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_a_hard_block_at_its_share_of_the_device():
    # LFE5U-85F: 83,640 LUT4 sites / 156 MULT18X18D = 536.15, / 208 DP16KD = 402.1;
    # HX8K: 7,680 logic cells / 32 SB_RAM40_4K = 240, and no DSP blocks
    assert rl.block_share(rl.ECP5_85F) == {"dsps": 536, "brams": 402}
    assert rl.block_share(rl.ICE40_HX8K) == {"brams": 240}
    assert rl.FPGA_BUDGETS == {"ecp5": rl.ECP5_85F, "ice40": rl.ICE40_HX8K}
    with pytest.raises(InvalidValue, match=r"^1 mm2 of sky130 cells has no LUT4 sites to "
                                           r"share out$"):
        rl.block_share(rl.SKY130_MM2)


def test_a_rows_own_lut4_sites_count_first():
    # an iCE40 carry sits beside its LUT: the unit row says 1,000 sites, not 1,000 + 2 x 100
    row = {"luts": 1000, "carries": 100, "ffs": 500, "brams": 4, "lut4_sites": 1000}
    assert rl.units_that_fit(row, rl.ICE40_HX8K) == 7            # 7,680 // 1,000; 32 // 4 = 8
    # without its own count an ECP5 CCU2C takes two sites: 83,640 // 1,200 = 69
    assert rl.units_that_fit(dict(row, lut4_sites=None, brams=0, dsps=0), rl.ECP5_85F) == 69
