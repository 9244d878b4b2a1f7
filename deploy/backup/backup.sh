#!/usr/bin/env bash
# Coordinated backup of the PenguinMails stores into ONE timestamped folder (a "backup set"):
# pg_dump -Fc of the three PostgreSQL databases started together, ClickHouse's analytics
# database when a server is configured, JetStream streams when the nats CLI is available (else a
# hint), a manifest with sizes and sha256, and a COMPLETE marker written last.
# See README.md beside this file for the consistency model.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: backup.sh [-o BACKUP_ROOT] [-h]

Writes BACKUP_ROOT/<UTC timestamp>/ containing:
  pm_metadata.dump pm_content.dump pm_queue.dump   pg_dump -Fc, started at the same moment
  clickhouse.txt        where ClickHouse wrote BACKUP DATABASE (only with CLICKHOUSE_URL)
  jetstream/ or jetstream.txt   stream backups (nats CLI present) or how to take them
  manifest.tsv          tier, database, file, bytes, sha256; started_at / finished_at
  SHA256SUMS            for `sha256sum -c`
  COMPLETE              written last; restore.sh refuses a set without it

Environment (URLs never printed with their passwords):
  PG_ADMIN_URL            server holding the three databases
                          (default postgres://postgres@127.0.0.1:5432/postgres)
  METADATA_DATABASE_URL   per-tier overrides (default: PG_ADMIN_URL with the database
  CONTENT_DATABASE_URL      name replaced by pm_metadata / pm_content / pm_queue)
  QUEUE_DATABASE_URL
  BACKUP_ROOT             parent folder of the sets (default ./backups; -o overrides)
  CLICKHOUSE_URL          http(s)://host:8123 of the analytics ClickHouse server; unset = skip
                          (embedded chDB: stop analytics and copy CHDB_PATH instead, see README)
  CLICKHOUSE_USER / CLICKHOUSE_PASSWORD / CLICKHOUSE_DATABASE (default pm_analytics)
  CLICKHOUSE_BACKUP_DISK  a disk allowed in the server's <backups> config (default backups)
  NATS_URL                for `nats stream backup` of the PM_* streams (nats CLI on PATH)
  NATS_STREAM_PREFIX      default PM
EOF
}

die() { echo "backup: $*" >&2; exit 1; }

while getopts ':o:h' opt; do
  case "$opt" in
    o) BACKUP_ROOT=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

for tool in pg_dump psql sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found on PATH (install postgresql-client matching the server's major version or newer)"
done

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKUP_ROOT=${BACKUP_ROOT:-./backups}
CLICKHOUSE_DATABASE=${CLICKHOUSE_DATABASE:-pm_analytics}
CLICKHOUSE_BACKUP_DISK=${CLICKHOUSE_BACKUP_DISK:-backups}
NATS_STREAM_PREFIX=${NATS_STREAM_PREFIX:-PM}

# postgres://u:p@h:5432/olddb?x=y -> postgres://u:p@h:5432/<db>?x=y
with_db() { printf '%s\n' "$1" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?\$#\1/$2\4#"; }
redact() { printf '%s\n' "$1" | sed -E 's#://([^:/@]*):[^@]*@#://\1:***@#'; }

TIERS=(metadata content queue)
declare -A URL
URL[metadata]=${METADATA_DATABASE_URL:-$(with_db "$PG_ADMIN_URL" pm_metadata)}
URL[content]=${CONTENT_DATABASE_URL:-$(with_db "$PG_ADMIN_URL" pm_content)}
URL[queue]=${QUEUE_DATABASE_URL:-$(with_db "$PG_ADMIN_URL" pm_queue)}

# Fail before writing anything when a database does not answer: a set is all tiers or nothing.
declare -A DBNAME
for t in "${TIERS[@]}"; do
  DBNAME[$t]=$(psql "${URL[$t]}" -XAtqc 'select current_database()' 2>/dev/null) \
    || die "cannot connect to the $t database at $(redact "${URL[$t]}")"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
dir="$BACKUP_ROOT/$stamp"
[ ! -e "$dir" ] || die "$dir already exists"
mkdir -p "$dir"
# A failed run leaves no folder that looks like a backup set.
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "backup: failed; removing incomplete $dir" >&2; rm -rf "$dir"; fi' EXIT

# Taken before any dump starts: restore.sh republishes outbox rows published after this moment
# (some consumer's dump may predate them).
started_at=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
echo "backup: set $dir (started $started_at)"

# The three dumps start together. Each is internally consistent (one repeatable-read snapshot);
# across databases PostgreSQL has no common snapshot, which the outbox makes harmless.
declare -A PID
for t in "${TIERS[@]}"; do
  pg_dump --format=custom --compress=6 --no-password \
    --file="$dir/${DBNAME[$t]}.dump" --dbname="${URL[$t]}" 2>"$dir/.${t}.err" &
  PID[$t]=$!
done
failed=()
for t in "${TIERS[@]}"; do
  if ! wait "${PID[$t]}"; then failed+=("$t: $(tr '\n' ' ' <"$dir/.${t}.err")"); fi
  rm -f "$dir/.${t}.err"
done
[ ${#failed[@]} -eq 0 ] || die "pg_dump failed: ${failed[*]}"

{
  printf '# penguinmails backup set\n'
  printf '# started_at\t%s\n' "$started_at"
  printf 'tier\tdatabase\tfile\tbytes\tsha256\n'
} >"$dir/manifest.tsv"
: >"$dir/SHA256SUMS"
for t in "${TIERS[@]}"; do
  f="${DBNAME[$t]}.dump"
  bytes=$(stat -c %s "$dir/$f")
  sum=$(sha256sum "$dir/$f" | cut -d' ' -f1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${DBNAME[$t]}" "$f" "$bytes" "$sum" >>"$dir/manifest.tsv"
  printf '%s  %s\n' "$sum" "$f" >>"$dir/SHA256SUMS"
  echo "backup: $t ${DBNAME[$t]} -> $f ($bytes bytes)"
done

# ClickHouse: the server writes the backup to one of its own disks; the set records where.
if [ -n "${CLICKHOUSE_URL:-}" ]; then
  command -v curl >/dev/null || die "curl not found (needed for CLICKHOUSE_URL)"
  target="$stamp/$CLICKHOUSE_DATABASE.zip"
  query="BACKUP DATABASE \`$CLICKHOUSE_DATABASE\` TO Disk('$CLICKHOUSE_BACKUP_DISK', '$target')"
  out=$(curl -sS --fail-with-body -u "${CLICKHOUSE_USER:-default}:${CLICKHOUSE_PASSWORD:-}" \
    --data-binary "$query" "$CLICKHOUSE_URL/") || die "ClickHouse backup failed: $out"
  printf 'disk\t%s\npath\t%s\ndatabase\t%s\nresult\t%s\n' "$CLICKHOUSE_BACKUP_DISK" "$target" "$CLICKHOUSE_DATABASE" "$out" >"$dir/clickhouse.txt"
  printf 'analytics\t%s\tclickhouse:%s/%s\t-\t-\n' "$CLICKHOUSE_DATABASE" "$CLICKHOUSE_BACKUP_DISK" "$target" >>"$dir/manifest.tsv"
  echo "backup: analytics $CLICKHOUSE_DATABASE -> Disk('$CLICKHOUSE_BACKUP_DISK', '$target') on the server"
fi

# JetStream: streams are a transport, not the source of truth (every event is in an outbox), but
# a snapshot lets consumers resume without a full republish.
if command -v nats >/dev/null && [ -n "${NATS_URL:-}" ]; then
  mkdir -p "$dir/jetstream"
  for s in $(nats --server "$NATS_URL" stream ls --names 2>/dev/null | grep "^${NATS_STREAM_PREFIX}_" || true); do
    nats --server "$NATS_URL" stream backup "$s" "$dir/jetstream/$s" >/dev/null
    echo "backup: stream $s -> jetstream/$s"
  done
else
  cat >"$dir/jetstream.txt" <<EOF
JetStream streams were not backed up (no nats CLI on PATH, or NATS_URL unset).
They are rebuilt from the outboxes on restore. To snapshot them anyway, at about this time:
  nats --server \$NATS_URL stream ls --names | grep '^${NATS_STREAM_PREFIX}_'
  nats --server \$NATS_URL stream backup <stream> <folder>     # per stream
  nats --server \$NATS_URL stream restore <folder>              # later, into an empty server
EOF
fi

finished_at=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
printf '# finished_at\t%s\n' "$finished_at" >>"$dir/manifest.tsv"
sha256sum "$dir/manifest.tsv" | sed "s#  $dir/#  #" >>"$dir/SHA256SUMS"
printf '%s\n' "$stamp" >"$dir/COMPLETE"
trap - EXIT
echo "backup: complete: $dir"
