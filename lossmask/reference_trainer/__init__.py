"""A minimal, readable PyTorch SFT trainer that proves a config trains what it says.

config (`settings`) -> conversations -> masked samples (`lossmask.masks`) -> batches (`batching`)
-> model (`model`) -> trained-positions loss (`loss`) -> loop, DDP or FSDP2 (`loop`, `parallel`)
and outputs (`outputs`, `resume`) -> greedy stop eval (`evaluate`, `tool_calls`, `stop_table`) ->
`lossmask train` (`train_configs`, `command`) and the experiment grid (`grid`, `shared_training`,
`cell_workers`, `grid_report`, `grid_command`), both on one command runner (`runner`).

Importing this package does not import torch; its modules do.
"""
