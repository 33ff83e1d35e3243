"""The rules: one optimizer in one number system each, every configuration implementing the
contract of `lns.rule.Rule` and registered in `lns.registry`.

=============== ======================================================================
module          rule
=============== ======================================================================
`madam`         LNS Madam: `MadamConfig`
`madam_update`  LNS Madam's update: `madam_update` (scalar reference and Numba kernel)
`adam`          LNS Adam: `AdamConfig`, `adam_update`
`sgd`           LNS SGD with momentum: `SGDConfig`, `sgd_update`
`lion`          LNS Lion: `LionConfig`, `lion_update`
`additive`      what the additive LNS rules share: the signed LNS sum and the weight step
`ieee_adam`     IEEE Adam on words of one `lns.ieee.FloatFormat`: `FloatAdamConfig`
=============== ======================================================================

The number systems these rules compute in are beside them: the LNS formats and arithmetic
at the top of `lns`, the IEEE formats and operations in `lns.ieee`.
"""
