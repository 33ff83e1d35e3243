"""Analyses of a configuration, each one module:

``sweep``     update precision against float Madam across bit widths; table precision
``tracking``  one configuration's weights tracked against float Madam over many steps
``training``  training emulation on scikit-learn's digits (LNS Madam beside float optimizers)
``ops``       operations per update (LNS from the config; float32 Madam and Adam)
``energy``    the energy estimate built on the operation counts (Horowitz, ISSCC 2014)
``cost``      operation counts, synthesis and energy of one configuration in one record
"""
