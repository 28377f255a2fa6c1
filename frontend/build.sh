#!/bin/sh
# Rebuild cms/static/cms/dgbox.{css,js} from the committed lock file.
# Arguments go to the build, e.g. `frontend/build.sh --out /tmp/static`.
set -eu
cd "$(dirname "$0")"
npm ci
npm run build -- "$@"
