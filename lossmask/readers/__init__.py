"""Readers: what one trainer version means by a config.

The same TOML text trains different tokens depending on the trainer that reads it. A *reader* names
one of those semantics; every command (validate's wording, migrate's source meaning, the masks of
show / audit / train) follows the reader the user picks (`--reader`, `[tool.lossmask] reader`).

- `registry`: the readers, the default, and how a command's options pick one (light: no pydantic);
- `prime_rl_main`: what prime-rl main refuses and how it reads `[data.loss_mask]` (plain Python);
- `prime_rl_main_registry`: the renderer names and registered models main checks against, as
  carried data (config commands may not import `renderers`);
- `meanings`: a data section's mask meaning under each reader, the one definition migrate proves
  equal and the mask engine applies.
"""

from lossmask.readers.registry import (
    DEFAULT_READER,
    LOSSMASK,
    PRIME_RL_MAIN,
    PRIME_RL_PRE_2988,
    READER_NAMES,
    READERS,
    Reader,
    ReaderChoiceError,
    Reading,
    choose_reading,
    lossmask_reading,
    reader_named,
)

__all__ = [
    "DEFAULT_READER",
    "LOSSMASK",
    "PRIME_RL_MAIN",
    "PRIME_RL_PRE_2988",
    "READERS",
    "READER_NAMES",
    "Reader",
    "ReaderChoiceError",
    "Reading",
    "choose_reading",
    "lossmask_reading",
    "reader_named",
]
