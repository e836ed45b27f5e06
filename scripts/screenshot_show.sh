#!/usr/bin/env bash
# Screenshot of the `lossmask show --html` page in headless Chromium, for docs/img/show.png.
#
#   scripts/screenshot_show.sh [OUTPUT.png]
#
# Needs Debian's `chromium` package (apt-get install -y chromium) and lossmask installed with the
# [train] extra. It writes the page for row 1 of the bundled synthetic data, "sampled" on the GLM-4.5
# renderer compared with the legacy role table on the chat template, then opens it with no network,
# no GPU and a throw-away profile, so the picture depends only on this repository. Paths are given
# relative to the repository, so the page (and the picture) names no directory of this machine.
# The PNG records the hash of the page code it shows (`lossmask-show-code`); a test fails when the
# code changes and the picture is not made again.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output="$(realpath -m "${1:-$repo/docs/img/show.png}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
  echo "screenshot_show.sh: chromium not found; install it with: apt-get install -y chromium" >&2
  exit 2
fi

cd "$repo"
lossmask show examples/configs/show/glm-sampled.toml \
  --data examples/data/weather-tools.jsonl --index 1 \
  --compare examples/configs/show/glm-legacy-roles.toml \
  --no-color --html "$work/show.html" > /dev/null

mkdir -p "$(dirname "$output")"
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1100,1250 \
  --screenshot="$output" "file://$work/show.html" 2> "$work/chromium.log" \
  || { cat "$work/chromium.log" >&2; exit 2; }
python - "$output" <<'PY'
import sys

from PIL import Image, PngImagePlugin

from lossmask.reference_trainer.figure_environment import SHOW_CODE, code_hash

path = sys.argv[1]
image = Image.open(path)
info = PngImagePlugin.PngInfo()
info.add_text("lossmask-show-code", code_hash(SHOW_CODE))
image.save(path, pnginfo=info)
PY
echo "wrote $output"
