#!/usr/bin/env bash
# End-to-end check of backup.sh and restore.sh against a real PostgreSQL (not part of npm test;
# run by hand or by an ops suite). It works only on scratch databases of its own
# (pm_bkt_<pid>_metadata, ...), never on pm_metadata/pm_content/pm_queue, and drops them at the end.
#
#   PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres deploy/backup/test-backup-restore.sh
#
# Checks: a set is written with manifest + checksums; after the databases are dropped the set
# restores them with the same row counts and content; outbox rows published after the set began
# become unpublished; restore refuses a set without COMPLETE, with a tier missing, with a
# corrupted dump, and without --yes (and then drops nothing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
with_db() { printf '%s\n' "$1" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?\$#\1/$2\4#"; }

prefix="pm_bkt_$$"
tiers=(metadata content queue)
work=$(mktemp -d)
passed=0 failed=0

cleanup() {
  for t in "${tiers[@]}"; do
    psql "$PG_ADMIN_URL" -Xqc "drop database if exists ${prefix}_$t with (force)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "ok   - $*"; passed=$((passed + 1)); }
not_ok() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

psql "$PG_ADMIN_URL" -XAtqc 'select 1' >/dev/null || { echo "cannot connect to $PG_ADMIN_URL" >&2; exit 1; }

export METADATA_DATABASE_URL CONTENT_DATABASE_URL QUEUE_DATABASE_URL
METADATA_DATABASE_URL=$(with_db "$PG_ADMIN_URL" "${prefix}_metadata")
CONTENT_DATABASE_URL=$(with_db "$PG_ADMIN_URL" "${prefix}_content")
QUEUE_DATABASE_URL=$(with_db "$PG_ADMIN_URL" "${prefix}_queue")
export PG_ADMIN_URL
unset CLICKHOUSE_URL NATS_URL
url_of() { case $1 in metadata) echo "$METADATA_DATABASE_URL" ;; content) echo "$CONTENT_DATABASE_URL" ;; queue) echo "$QUEUE_DATABASE_URL" ;; esac; }

# A table of rows per tier (a different count each), plus the outbox table every PostgreSQL
# service has: 3 rows published long ago, 1 unpublished, and 2 published "after" the backup began.
rows() { case $1 in metadata) echo 1200 ;; content) echo 345 ;; queue) echo 67 ;; esac; }
for t in "${tiers[@]}"; do
  psql "$PG_ADMIN_URL" -Xqc "create database ${prefix}_$t" >/dev/null
  psql "$(url_of "$t")" -Xq -v ON_ERROR_STOP=1 -v n="$(rows "$t")" <<'SQL' >/dev/null
create table items (id bigint primary key, label text not null, payload bytea);
insert into items select g, 'item ' || g, sha256(g::text::bytea) from generate_series(1, :n) g;
create table outbox_events (
  id uuid primary key,
  tenant_id uuid not null,
  subject varchar(255) not null,
  event_type varchar(200) not null,
  payload bytea not null,
  created timestamptz not null default now(),
  published timestamptz,
  attempts integer not null default 0,
  last_error text
);
insert into outbox_events (id, tenant_id, subject, event_type, payload, published)
select gen_random_uuid(), gen_random_uuid(), 'pm.test.t.e', 'test.v1.E', '\x00',
       case when g <= 3 then now() - interval '1 day' when g = 4 then null else now() + interval '1 hour' end
from generate_series(1, 6) g;
SQL
done
fingerprint() { psql "$(url_of "$1")" -XAtqc "select count(*) || ':' || md5(string_agg(id || label || encode(payload, 'hex'), ',' order by id)) from items"; }
declare -A before
for t in "${tiers[@]}"; do before[$t]=$(fingerprint "$t"); done

# ---- back up ----
"$here/backup.sh" -o "$work/sets" >"$work/backup.log" 2>&1 || { cat "$work/backup.log"; not_ok "backup.sh exits 0"; exit 1; }
ok "backup.sh exits 0"
set_dir=$(find "$work/sets" -mindepth 1 -maxdepth 1 -type d | head -1)
check "one set folder with COMPLETE" test -f "$set_dir/COMPLETE"
check "three dumps listed in manifest.tsv" test "$(grep -cE '^(metadata|content|queue)	' "$set_dir/manifest.tsv")" -eq 3
check "SHA256SUMS verifies" bash -c "cd '$set_dir' && sha256sum --quiet -c SHA256SUMS"
check "JetStream hint written (no nats CLI / NATS_URL)" test -f "$set_dir/jetstream.txt"

# ---- refusals (nothing may be dropped) ----
refuses() { # name, set folder, expected message fragment, extra args...
  local name=$1 d=$2 frag=$3; shift 3
  if out=$("$here/restore.sh" "$@" "$d" 2>&1); then not_ok "$name (exit 0)"; return; fi
  if grep -q -- "$frag" <<<"$out"; then ok "$name"; else not_ok "$name (said: $out)"; fi
}
refuses "restore without --yes refuses" "$set_dir" "re-run with --yes"
cp -r "$set_dir" "$work/incomplete" && rm "$work/incomplete/COMPLETE"
refuses "refuses a set without COMPLETE" "$work/incomplete" "no COMPLETE marker" --yes
cp -r "$set_dir" "$work/partial" && rm "$work/partial/${prefix}_content.dump"
refuses "refuses a set with a dump missing" "$work/partial" "is missing; refusing a partial set" --yes
cp -r "$set_dir" "$work/partial2" && sed -i '/^queue\t/d' "$work/partial2/manifest.tsv" \
  && (cd "$work/partial2" && grep -v 'manifest.tsv$' SHA256SUMS >S && sha256sum manifest.tsv >>S && mv S SHA256SUMS)
refuses "refuses a set whose manifest lacks a tier" "$work/partial2" "no queue tier" --yes
cp -r "$set_dir" "$work/corrupt" && printf 'x' | dd of="$work/corrupt/${prefix}_metadata.dump" bs=1 seek=100 conv=notrunc status=none
refuses "refuses a corrupted dump" "$work/corrupt" "checksum mismatch" --yes
for t in "${tiers[@]}"; do
  check "after refusals, $t is untouched" test "$(fingerprint "$t")" = "${before[$t]}"
done

# ---- disaster: drop, then restore ----
for t in "${tiers[@]}"; do psql "$PG_ADMIN_URL" -Xqc "drop database ${prefix}_$t with (force)"; done
"$here/restore.sh" --yes "$set_dir" >"$work/restore.log" 2>&1 || { cat "$work/restore.log"; not_ok "restore.sh --yes exits 0"; exit 1; }
ok "restore.sh --yes exits 0"
for t in "${tiers[@]}"; do
  after=$(fingerprint "$t")
  check "$t: $(rows "$t") rows, same content (${after%%:*} after restore)" test "$after" = "${before[$t]}"
  unpub=$(psql "$(url_of "$t")" -XAtqc 'select count(*) from outbox_events where published is null')
  check "$t: outbox rows published after the set began are unpublished again (3 = 1 + 2, got $unpub)" test "$unpub" -eq 3
done

# ---- restore over live databases (the usual case) ----
psql "$METADATA_DATABASE_URL" -Xqc "insert into items values (999999, 'written after the backup', null)"
"$here/restore.sh" --yes --no-republish "$set_dir" >"$work/restore2.log" 2>&1 || { cat "$work/restore2.log"; not_ok "restore over existing databases exits 0"; exit 1; }
check "restore over existing databases brings back the set's state" test "$(fingerprint metadata)" = "${before[metadata]}"
unpub=$(psql "$METADATA_DATABASE_URL" -XAtqc 'select count(*) from outbox_events where published is null')
check "--no-republish keeps the outbox as dumped (1 unpublished, got $unpub)" test "$unpub" -eq 1

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
