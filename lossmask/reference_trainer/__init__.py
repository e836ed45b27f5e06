"""A minimal, readable PyTorch SFT trainer that proves a config trains what it says.

config (`settings`) -> conversations -> masked samples (`lossmask.masks`) -> batches (`batching`)
-> model (`model`) -> trained-positions loss (`loss`) -> loop and outputs (`loop`, `outputs`) ->
greedy stop eval (`evaluate`) -> comparison of runs (`experiment`).

Importing this package does not import torch; its modules do.
"""
