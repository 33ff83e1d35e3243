"""sim.jaxlns: the bit-exact LNS optimizers in JAX (optax), and a small CNN trained with them.

``rules``      the three LNS rules behind one numpy interface: a tensor's initial words, one
               step from a float gradient (the host side; no JAX)
``transform``  `lns_madam`, `lns_adam`, `lns_sgd`: optax transformations over the Numba kernels
``madam``      `madam`: float Madam from the published equations, an optax transformation
``cnn``        `train_cnn`: a two-convolution CNN on the 8x8 digits with any of the optimizers
"""

from .cnn import METHODS, train_cnn
from .madam import MadamState, madam
from .transform import LNSState, lns_adam, lns_madam, lns_sgd, lns_transform

__all__ = ["LNSState", "lns_madam", "lns_adam", "lns_sgd", "lns_transform", "MadamState",
           "madam", "METHODS", "train_cnn"]
