"""Analyses of a configuration, each one module:

``sweep``     update precision against float Madam across bit widths; table precision
``tracking``  one configuration's weights tracked against float Madam over many steps
``training``  training emulation on scikit-learn's digits: LNS Madam, Adam and SGD beside float
              optimizers, tuned eta, paired verdicts, the sigma* sweep, the eta schedule
``ops``       operations per update of every rule, through the registry (LNS units from their
              datapaths, IEEE units from their operation tables), and the float32 baselines
              (the IEEE FP32 Adam unit; the published algorithms as written)
``energy``    the one pricing of any operation count (Horowitz, ISSCC 2014), the energy
              estimate of any rule beside the float32 baselines
``cost``      the one cost path: operation counts, synthesis and energy of one configuration
              in one record; the one unit row of the tables below
``optimizers`` one datapath, every LNS optimizer: LNS Madam, Adam, SGD, Lion side by side
``headline``  one update unit per optimizer and number system: LNS against IEEE FP32/BF16
"""
