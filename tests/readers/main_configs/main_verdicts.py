"""prime-rl main's own verdict on config files: `SFTConfig.model_validate` (see README.md).

Needs prime-rl-configs importable (not a lossmask dependency); prints `path<TAB>verdict<TAB>...`.
"""

import pathlib
import sys
import tomllib
import warnings

from prime_rl.configs.sft import SFTConfig  # type: ignore[import-not-found]
from pydantic import ValidationError

warnings.simplefilter("ignore")
for path in sys.argv[1:]:
    data = tomllib.loads(pathlib.Path(path).read_text())
    try:
        SFTConfig.model_validate(data)
        print(f"{path}\taccepts")
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        print(f"{path}\trefuses\t{where}\t{first['msg'][:150]}")
