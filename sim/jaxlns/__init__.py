"""sim.jaxlns: the bit-exact LNS optimizers in JAX (optax), and a small CNN trained with them.

``rules``      every LNS rule behind one numpy interface over the rule contract: a tensor's
               initial words, one step from a float gradient (the host side; no JAX)
``transform``  `lns_transform` of any LNS rule's configuration, and `lns_madam`, `lns_adam`,
               `lns_sgd`, `lns_lion`: optax transformations over the Numba kernels
``madam``      `madam`: float Madam from the published equations, an optax transformation
``cnn``        `train_cnn`: a two-convolution CNN on the 8x8 digits with any of the methods
"""

from .cnn import METHODS, train_cnn
from .madam import MadamState, madam
from .transform import LNSState, lns_adam, lns_lion, lns_madam, lns_sgd, lns_transform

__all__ = ["LNSState", "lns_madam", "lns_adam", "lns_sgd", "lns_lion", "lns_transform",
           "MadamState", "madam", "METHODS", "train_cnn"]
