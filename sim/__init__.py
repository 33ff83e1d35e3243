"""sim: applications on top of lns, rtl and testbench: the command line, cycle-level
simulation and reports.  Nothing imports sim except the command line."""
