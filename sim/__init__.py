"""sim: the applications built on lns, rtl and testbench, each in a room of its own.

``sim.cycle``     cycle-level simulation of whole tensors (three engines, one memory side)
``sim.analysis``  precision sweep, tracking, training emulation, operation counts, energy, cost
``sim.report``    the report folder (report.md, report.json, plots)
``sim.campaign``  verification campaigns: presets x simulators x N vectors as Dask tasks
``sim.cli``       the `lnsmadam` command line: parses arguments and prints, nothing else

Nothing imports sim except the command line (and the tests and benchmarks).
"""
