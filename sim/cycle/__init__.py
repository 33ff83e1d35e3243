"""Cycle-level simulation of whole tensors through the update array.

``simulate``         one entry point over the three engines (`simulate.py`)
``stream``           what a beat carries, by role, for Madam, Adam and SGD
``memory``           the memory side every engine shares: seeded stalls, a bandwidth limit
``model_engine``     cycle-accurate performance model in Numba (no data)
``verilator_engine`` the generated Verilog in a compiled C++ harness
``amaranth_engine``  the same design in Amaranth's simulator
"""

from .simulate import Tensor, expected_outputs, make_tensor, simulate
from .stream import Stream, stream_of

__all__ = ["simulate", "make_tensor", "expected_outputs", "Tensor", "Stream", "stream_of"]
