#!/usr/bin/env bash
# Restores ONE backup set written by backup.sh: all PostgreSQL tiers (and ClickHouse when the set
# has it), or nothing. Everything is checked before the first database is dropped.
# See README.md beside this file for the consistency model and the order of operations.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: restore.sh [--yes] [--no-republish] [--without-analytics] BACKUP_SET_DIR

Replaces pm_metadata, pm_content and pm_queue (and the ClickHouse analytics database when the
set contains it) with the contents of BACKUP_SET_DIR. Stop the four services first.

Refuses, before touching any database, a set that is:
  - incomplete (no COMPLETE marker: backup.sh did not finish),
  - partial (a tier missing from manifest.tsv or its file missing),
  - corrupt (sha256 mismatch, or pg_restore cannot read a dump),
  - not restorable here (a database server does not answer; ClickHouse part but no CLICKHOUSE_URL).

Options:
  --yes                 required: confirms that the current databases are dropped
  --no-republish        keep outbox rows as they were dumped (default: rows published after the
                        set's started_at become unpublished again, so the relays send them once
                        more and consumers de-duplicate; see README)
  --without-analytics   restore PostgreSQL only although the set has a ClickHouse part
                        (breaks the "one set for all tiers" rule; you own the consequences)

Environment: the same as backup.sh (PG_ADMIN_URL, METADATA_DATABASE_URL, CONTENT_DATABASE_URL,
QUEUE_DATABASE_URL, CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD), plus
  PG_MAINTENANCE_DB   database to connect to while dropping/creating a tier's (default postgres)
  PG_RESTORE_NO_OWNER 1 = restore objects owned by the connecting role (pg_restore --no-owner)
EOF
}

die() { echo "restore: $*" >&2; exit 1; }

yes=0 republish=1 without_analytics=0 dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --yes) yes=1 ;;
    --no-republish) republish=0 ;;
    --without-analytics) without_analytics=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [ -z "$dir" ] || { usage >&2; exit 2; }; dir=$1 ;;
  esac
  shift
done
[ -n "$dir" ] || { usage >&2; exit 2; }
[ -d "$dir" ] || die "$dir is not a folder"

for tool in pg_restore psql sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found on PATH (install postgresql-client)"
done

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_MAINTENANCE_DB=${PG_MAINTENANCE_DB:-postgres}
with_db() { printf '%s\n' "$1" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?\$#\1/$2\4#"; }
redact() { printf '%s\n' "$1" | sed -E 's#://([^:/@]*):[^@]*@#://\1:***@#'; }

TIERS=(metadata content queue)
declare -A URL
URL[metadata]=${METADATA_DATABASE_URL:-$(with_db "$PG_ADMIN_URL" pm_metadata)}
URL[content]=${CONTENT_DATABASE_URL:-$(with_db "$PG_ADMIN_URL" pm_content)}
URL[queue]=${QUEUE_DATABASE_URL:-$(with_db "$PG_ADMIN_URL" pm_queue)}

# ---- 1. the set is whole and intact ----
[ -f "$dir/COMPLETE" ] || die "$dir has no COMPLETE marker: backup.sh did not finish; refusing a partial set"
[ -f "$dir/manifest.tsv" ] && [ -f "$dir/SHA256SUMS" ] || die "$dir lacks manifest.tsv or SHA256SUMS"
started_at=$(awk -F'\t' '$1 == "# started_at" { print $2 }' "$dir/manifest.tsv")
[ -n "$started_at" ] || die "manifest.tsv has no started_at"

declare -A FILE
for t in "${TIERS[@]}"; do
  line=$(awk -F'\t' -v t="$t" '$1 == t' "$dir/manifest.tsv")
  [ -n "$line" ] || die "the set has no $t tier; refusing a partial set"
  f=$(cut -f3 <<<"$line")
  [ -f "$dir/$f" ] || die "$f listed in manifest.tsv is missing; refusing a partial set"
  grep -q "  $f\$" "$dir/SHA256SUMS" || die "$f is not covered by SHA256SUMS; refusing"
  FILE[$t]=$f
done
(cd "$dir" && sha256sum --quiet -c SHA256SUMS) || die "checksum mismatch in $dir (see above); refusing"
for t in "${TIERS[@]}"; do
  pg_restore --list "$dir/${FILE[$t]}" >/dev/null 2>&1 || die "${FILE[$t]} is not a readable pg_dump archive"
done

ch_line=$(awk -F'\t' '$1 == "analytics"' "$dir/manifest.tsv")
restore_ch=0
if [ -n "$ch_line" ]; then
  if [ "$without_analytics" = 1 ]; then
    echo "restore: WARNING: skipping the set's ClickHouse part (--without-analytics)" >&2
  else
    [ -n "${CLICKHOUSE_URL:-}" ] || die "the set has a ClickHouse part; set CLICKHOUSE_URL (or pass --without-analytics)"
    command -v curl >/dev/null || die "curl not found (needed for CLICKHOUSE_URL)"
    ch_disk=$(awk -F'\t' '$1 == "disk" { print $2 }' "$dir/clickhouse.txt")
    ch_path=$(awk -F'\t' '$1 == "path" { print $2 }' "$dir/clickhouse.txt")
    ch_db=$(awk -F'\t' '$1 == "database" { print $2 }' "$dir/clickhouse.txt")
    [ -n "$ch_disk" ] && [ -n "$ch_path" ] && [ -n "$ch_db" ] || die "clickhouse.txt is incomplete"
    restore_ch=1
  fi
fi

# ---- 2. every target answers ----
declare -A DBNAME ADMIN
for t in "${TIERS[@]}"; do
  DBNAME[$t]=$(printf '%s\n' "${URL[$t]}" | sed -E 's#^postgres(ql)?://[^/?]*/([^?]+).*#\2#')
  [[ "${DBNAME[$t]}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "cannot read a plain database name from $(redact "${URL[$t]}")"
  ADMIN[$t]=$(with_db "${URL[$t]}" "$PG_MAINTENANCE_DB")
  psql "${ADMIN[$t]}" -XAtqc 'select 1' >/dev/null 2>&1 || die "cannot connect to $(redact "${ADMIN[$t]}")"
done
if [ "$restore_ch" = 1 ]; then
  curl -sS --fail-with-body -u "${CLICKHOUSE_USER:-default}:${CLICKHOUSE_PASSWORD:-}" \
    --data-binary 'select 1' "$CLICKHOUSE_URL/" >/dev/null || die "ClickHouse at $(redact "$CLICKHOUSE_URL") does not answer"
fi

echo "restore: set $dir (started $started_at) is complete and intact"
for t in "${TIERS[@]}"; do echo "restore:   $t: ${FILE[$t]} -> ${DBNAME[$t]} on $(redact "${ADMIN[$t]}")"; done
[ "$restore_ch" = 0 ] || echo "restore:   analytics: Disk('$ch_disk', '$ch_path') -> $ch_db"
[ "$yes" = 1 ] || die "this drops and replaces the databases above; stop the services and re-run with --yes"

# ---- 3. replace, tier by tier ----
owner_flags=()
[ "${PG_RESTORE_NO_OWNER:-0}" = 1 ] && owner_flags=(--no-owner)
for t in "${TIERS[@]}"; do
  db=${DBNAME[$t]}
  # WITH (FORCE) (PostgreSQL 13+) ends sessions a stopped service left behind.
  psql "${ADMIN[$t]}" -Xqv ON_ERROR_STOP=1 \
    -c "drop database if exists \"$db\" with (force)" \
    -c "create database \"$db\" template template0"
  pg_restore --exit-on-error --single-transaction --no-password "${owner_flags[@]}" \
    --dbname="${URL[$t]}" "$dir/${FILE[$t]}"
  echo "restore: $t restored into $db"
done

if [ "$restore_ch" = 1 ]; then
  for q in "DROP DATABASE IF EXISTS \`$ch_db\` SYNC" \
           "RESTORE DATABASE \`$ch_db\` FROM Disk('$ch_disk', '$ch_path')"; do
    curl -sS --fail-with-body -u "${CLICKHOUSE_USER:-default}:${CLICKHOUSE_PASSWORD:-}" \
      --data-binary "$q" "$CLICKHOUSE_URL/" >/dev/null || die "ClickHouse: '$q' failed"
  done
  echo "restore: analytics restored into $ch_db"
fi

# ---- 4. let the outboxes converge ----
# A row published after started_at may be missing from a consumer whose dump was taken earlier:
# mark it unpublished, the relay sends it again under the same event id, consumers skip what
# they already have.
if [ "$republish" = 1 ]; then
  for t in "${TIERS[@]}"; do
    n=$(psql "${URL[$t]}" -XAtq -v ON_ERROR_STOP=1 -v since="$started_at" <<'SQL'
select case when to_regclass('outbox_events') is null then 'no outbox' end;
SQL
    )
    if [ "$n" = "no outbox" ]; then echo "restore: $t has no outbox_events table"; continue; fi
    n=$(psql "${URL[$t]}" -XAtq -v ON_ERROR_STOP=1 -v since="$started_at" <<'SQL'
with r as (
  update outbox_events set published = null, attempts = 0, last_error = null
  where published >= :'since'::timestamptz
  returning 1
)
select count(*) from r;
SQL
    )
    echo "restore: $t: $n outbox row(s) published after $started_at will be sent again"
  done
fi
echo "restore: done. Start the services (migrations first); see README.md for NATS."
