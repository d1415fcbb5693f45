"""Quantization-threshold solvers and the N2UQ quantizer (work in progress)."""
