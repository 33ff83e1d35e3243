"""Analyses of a configuration, each one module:

``sweep``     update precision against float Madam across bit widths; table precision
``tracking``  one configuration's weights tracked against float Madam over many steps
``training``  training emulation on scikit-learn's digits: LNS Madam, Adam and SGD beside float
              optimizers, tuned eta, paired verdicts, the sigma* sweep, the eta schedule
``ops``       operations per update (LNS Madam, Adam, SGD from the config; float32 Madam,
              Adam, SGD)
``energy``    the energy estimate built on the operation counts (Horowitz, ISSCC 2014), also
              of the IEEE float Adam units
``cost``      operation counts, synthesis and energy of one configuration in one record
``optimizers`` one datapath, three optimizers: LNS Madam, Adam, SGD side by side
``headline``  one update unit per optimizer and number system: LNS against IEEE FP32/BF16
"""
