"""Cocreate in the local Discord sandbox: the world the demo and the end-to-end tests meet.

:mod:`bot.sandbox` is Discord and knows nothing of Cocreate; this package is where the two
meet. :mod:`.community` seeds a co-creation community and connects the real bot to it
through the one wiring point; :mod:`.scenes` is ``cocreate demo``.
"""
