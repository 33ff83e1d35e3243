"""The rules: one optimizer in one number system each, every configuration implementing the
contract of `lns.rule.Rule` and registered in `lns.registry`.

================ ======================================================================
module           rule
================ ======================================================================
`madam`          LNS Madam: `MadamConfig`
`madam_update`   LNS Madam's update: `madam_update` (scalar reference and Numba kernel)
`adam`           LNS Adam: `AdamConfig`, `adam_update`
`sgd`            LNS SGD with momentum: `SGDConfig`, `sgd_update`
`lion`           LNS Lion: `LionConfig`, `lion_update`
`additive`       what the additive LNS rules share: the signed LNS sum and the weight step
`ieee_program`   what every IEEE rule is: a program of single operations (`FloatProgram`,
                 the op table `OPS`, the interpreter `run_program`)
`ieee_adam`      IEEE Adam, the literal 14 operations: `FloatAdamConfig`
`ieee_adam_fast` IEEE Adam, the efficient form (per-step alpha_t, eps_t; lerp moments):
                 `FloatAdamFastConfig` (fp32_adam_fast, the 12-bit fp12_adam)
`ieee_mp_adam`   mixed-precision Adam (BF16 gradient and weight copy, FP32 state):
                 `MixedAdamConfig`
================ ======================================================================

The number systems these rules compute in are beside them: the LNS formats and arithmetic
at the top of `lns`, the IEEE formats and operations in `lns.ieee`.
"""
