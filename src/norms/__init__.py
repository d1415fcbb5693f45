"""Exact operator norms of convolution and linear layers (work in progress)."""
