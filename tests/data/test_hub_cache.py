"""Hub ids are served from the local cache only: a cached dataset reads offline, an uncached one
fails at once naming the id, wherever `HF_HOME` points."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from lossmask.data import DataRow, iter_conversations, open_source
from tests.data.conftest import write_parquet_rows

GOOD = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}


def cache_as_hub_dataset(parquet: Path, cache_dir: str, repo_id: str) -> None:
    """Lay a dataset out in `cache_dir` as `datasets` caches a hub download of `repo_id`.

    Built from a local parquet load, since tests have no network: the packaged builder's cache
    folder is renamed to the `namespace___name` folder a hub load would have written.
    """
    import datasets

    datasets.load_dataset("parquet", data_files=[str(parquet)], split="train", cache_dir=cache_dir)
    built = next(p for p in glob.glob(f"{cache_dir}/parquet/*/*/*") if os.path.isdir(p))
    namespace, name = repo_id.split("/")
    target = Path(cache_dir) / f"{namespace}___{name}" / "default" / "0.0.0" / Path(built).name
    shutil.copytree(built, target)
    (target / "parquet-train.arrow").rename(target / f"{name}-train.arrow")


def test_cached_hub_dataset_is_read_offline(tmp_path: Path, cache_dir: str) -> None:
    second = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "name": "x"}]
    rows = [GOOD, {"messages": second}]
    parquet = write_parquet_rows(tmp_path / "rows.parquet", rows)
    cache_as_hub_dataset(parquet, cache_dir, "someone/tiny-sft")
    source = open_source("someone/tiny-sft", cache_dir=cache_dir)
    items = list(iter_conversations(source))
    assert [item.ref.format() for item in items] == [
        "someone/tiny-sft[train]: row 0",
        "someone/tiny-sft[train]: row 1",
    ]
    assert [item.conversation for item in items if isinstance(item, DataRow)] == [
        GOOD,
        {"messages": second},  # and no `"name": null` on the messages that had no name
    ]


PROBE = """
import sys, time
import datasets  # imported before lossmask.data sets HF_HUB_OFFLINE, as a trainer might
from lossmask.data import DataError, open_source
start = time.monotonic()
try:
    open_source("someone/not-cached")
except DataError as error:
    print(error)
print(f"{time.monotonic() - start:.1f}", file=sys.stderr)
"""


def test_uncached_hub_id_under_a_fresh_hf_home_fails_fast(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env["HF_HOME"] = str(tmp_path / "hf-home")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.strip() == (
        "someone/not-cached: is not a local path and is not in the local Hugging Face cache "
        f"({tmp_path / 'hf-home' / 'datasets'}) (download it once where there is network "
        "(datasets.load_dataset('someone/not-cached')), or give a local path)"
    )
    assert float(done.stderr.strip().splitlines()[-1]) < 60
