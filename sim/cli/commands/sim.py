"""`lnsmadam sim`: cycle-level simulation of a whole tensor through the update array (the
Madam presets and the Adam / SGD ones: `sim.cycle.stream`)."""

from __future__ import annotations

import math

from ..jsonout import dumps
from ..options import seed
from . import UsageError, add_config_arguments, load_config

VCD_CYCLES = 1000               # cycles of the waveform when --vcd-cycles is not given

NAME = "sim"
HELP = "cycle-level simulation of a tensor through the update unit (verilator, amaranth, model)"
ORDER = 45


def add_arguments(parser):
    add_config_arguments(parser)
    from sim.cycle.simulate import ENGINES
    parser.epilog = ("Every preset streams: Madam reads w, g, v and writes w, v a beat; Adam "
                     "reads w, g, m, v and writes w, m, v; SGD and Lion read w, g, m and "
                     "write w, m.")
    parser.add_argument("--weights", type=int, required=True, metavar="N",
                        help="weights in the tensor")
    parser.add_argument("--lanes", type=int, default=1,
                        help="lanes of the unit, 1 to 64 (default 1)")
    parser.add_argument("--engine", default="model", choices=ENGINES,
                        help="verilator (compiled Verilog), amaranth (Amaranth's simulator) or "
                             "model (cycle-accurate performance model); default model")
    parser.add_argument("--steps", type=int, default=1, metavar="T", help="steps (default 1)")
    parser.add_argument("--stall-prob", type=float, default=0.0, metavar="P",
                        help="probability that the memory stalls in a cycle, in [0, 1) "
                             "(default 0)")
    parser.add_argument("--mem-bytes-per-cycle", type=float, default=None, metavar="B",
                        help="memory bandwidth limit in bytes a cycle (read + write; "
                             "default none)")
    parser.add_argument("--seed", type=seed, default=1,
                        help="seeds the data, the stall PRNG and the LFSRs, 0 to 2**32-1 "
                             "(default 1)")
    parser.add_argument("--vcd", metavar="FILE", help="write a waveform of the first cycles")
    parser.add_argument("--vcd-cycles", type=int, default=None, metavar="K",
                        help=f"cycles in the waveform of --vcd (default {VCD_CYCLES})")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")


def _check(args):
    if args.weights <= 0:
        raise UsageError(f"--weights must be a positive number, not {args.weights}")
    if args.lanes < 1:
        raise UsageError(f"--lanes must be at least 1, not {args.lanes}")
    from rtl.design import MAX_LANES
    if args.lanes > MAX_LANES:
        raise UsageError(f"--lanes must be at most {MAX_LANES}, not {args.lanes}")
    from sim.cycle.simulate import MAX_UPDATES
    if args.weights > 0 and args.steps > 0 and args.weights * args.steps > MAX_UPDATES:
        raise UsageError(f"--weights x --steps must be at most 2**53 = {MAX_UPDATES:,}, "
                         f"not {args.weights * args.steps:,}")
    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, not {args.steps}")
    if not 0.0 <= args.stall_prob < 1.0:
        raise UsageError(f"--stall-prob must be in [0, 1), not {args.stall_prob}")
    b = args.mem_bytes_per_cycle
    from sim.cycle.memory import BYTES_PER_CYCLE_MAX, BYTES_PER_CYCLE_WHY
    if b is not None and not math.isnan(b) and b > BYTES_PER_CYCLE_MAX:   # inf included
        raise UsageError(f"--mem-bytes-per-cycle must be at most {BYTES_PER_CYCLE_MAX:,} "
                         f"({BYTES_PER_CYCLE_WHY}), not {b:g}")
    if b is not None and (math.isnan(b) or round(8 * b) < 1):
        raise UsageError(f"--mem-bytes-per-cycle must be at least 0.0625 (one bit a cycle), "
                         f"not {b}")
    if args.vcd_cycles is not None and args.vcd is None:    # it would be ignored
        raise UsageError("--vcd-cycles sets the cycles of a waveform: it needs --vcd FILE")
    if args.vcd_cycles is not None and args.vcd_cycles < 1:
        raise UsageError(f"--vcd-cycles must be at least 1, not {args.vcd_cycles}")
    if args.vcd is not None and args.engine == "model":
        raise UsageError("--vcd needs --engine verilator or amaranth, not model")


def run(args) -> int:
    from sim.cycle import simulate
    from testbench.tools import MissingSimulator, SimulatorError
    _check(args)
    cfg = load_config(args)                     # Madam, Adam and SGD presets
    try:
        r = simulate(cfg, args.weights, args.lanes, args.engine, steps=args.steps,
                     stall_prob=args.stall_prob, bytes_per_cycle=args.mem_bytes_per_cycle,
                     seed=args.seed, vcd=args.vcd,
                     vcd_cycles=VCD_CYCLES if args.vcd_cycles is None else args.vcd_cycles)
    except MissingSimulator as exc:
        raise UsageError(str(exc)) from None
    except SimulatorError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    if args.json:
        print(dumps(r, sort_keys=True))
    else:
        mem = r["memory"]
        limit = (f"{mem['bytes_per_cycle']} B/cycle" if mem["bytes_per_cycle"] is not None
                 else "no bandwidth limit")
        print(f"{r['engine']}: {r['preset']}, {r['weights']:,} weights x {r['steps']} steps "
              f"on {r['lanes']} lanes ({r['beats_per_step']:,} beats a step, "
              f"{r['padding']} padding), stall p = {mem['stall_prob']}, {limit}")
        print(f"cycles               {r['cycles']:,}")
        print(f"updates per cycle    {r['updates_per_cycle']:.3f} (peak {r['lanes']})")
        print(f"utilisation          {100 * r['utilisation']:.1f} % of cycles accept a beat")
        print(f"pipeline latency     {r['pipeline_latency']} (measured {r['latency_min']}.."
              f"{r['latency_max']})")
        print(f"stall cycles         {r['stall_cycles']:,}; waiting for bandwidth "
              f"{r['bandwidth_wait_cycles']:,}")
        print(f"bytes per update     {r['bytes_per_update']:.3f} ({r['bytes_per_beat']:g} a beat)")
        if r["checked"]:
            from sim.cycle.stream import stream_of
            ref = stream_of(cfg).reference
            verdict = (f"bit-exact against {ref}" if not r["mismatches"]
                       else f"{r['mismatches']} MISMATCHES against {ref}, first "
                            f"{r['first_mismatch']}")
            print(f"outputs              {verdict}")
        if r["method"] == "closed form":       # no loop ran: a rate would mean nothing
            print("simulation           closed form (no stalls, no bandwidth limit: "
                  "no cycle loop)")
        elif r["cycles_per_second"] is None:
            print(f"simulation           {r['sim_seconds']:.3f} s ({r['method']})")
        else:
            print(f"simulation           {r['sim_seconds']:.3f} s, "
                  f"{r['cycles_per_second']:,.0f} cycles/s, {r['weights_per_second']:,.0f} "
                  f"weights/s" + (" (one iteration a beat)" if r["method"] == "per beat"
                                  else "")
                  + (f" (build {r['build_seconds']:.1f} s)" if r["build_seconds"] else ""))
        if r["vcd"]:
            print(f"wrote {r['vcd']}")
    return 1 if r["mismatches"] else 0
