"""asv benchmarks of normgraph, one module per subpackage (``bench_<area>.py``).

Peer comparisons are plain scripts, ``compare_<area>.py``, which print a table with the
columns: work, ours (s), peer, peer (s), ratio (peer / ours).
"""
