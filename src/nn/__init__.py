"""Deep models built on normgraph's kernels; needs the ``nn`` extra (torch).

Nothing is implemented here yet: the ``nn`` issues build on the numeric cores.
"""
