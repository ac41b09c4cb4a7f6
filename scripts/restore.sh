#!/usr/bin/env bash
# Restore a dump made by scripts/backup.sh into a NEW database, then check it
# against the code's migrations.
#
#   DATABASE_URL=postgres://user:pass@host:5432/alliance \
#   scripts/restore.sh /srv/backups/db/daily/alliance-20261203T183000Z.dump alliance_restored
#
# DATABASE_URL names the server and the role to restore with (its database part
# is not touched). The target database must not exist: the script creates it,
# restores with `pg_restore --no-owner --no-privileges --exit-on-error
# --single-transaction` (all or nothing; the restoring role owns everything) and
# drops it again if anything fails. Then it runs `manage.py migrate --check`
# against the restored copy (non-zero when the dump is older than the code's
# migrations: it then lists the pending ones; run `manage.py migrate` on the copy
# before serving it). A checksum file next to the dump is verified first. The password is passed through PGPASSWORD, never printed.
#
# Settings (environment):
#   DATABASE_URL               required
#   DJANGO_SETTINGS_MODULE     the settings manage.py uses (default: manage.py's own)
#   PYTHON                     the project's Python (default: .venv/bin/python, else python3)
#   RESTORE_SKIP_DJANGO_CHECK  1: restore only (no manage.py, e.g. on a database-only host)
set -euo pipefail
umask 077

log() { printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

[[ $# -eq 2 ]] || die "usage: scripts/restore.sh DUMP_FILE NEW_DATABASE_NAME"
dump="$1"
target="$2"
[[ -r "$dump" ]] || die "cannot read $dump"
[[ "$target" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] || die "the new database name must be letters, digits and _"
: "${DATABASE_URL:?DATABASE_URL is required}"

url_decode() {
    local text="${1//+/ }"
    printf '%b' "${text//%/\\x}"
}
pattern='^(postgres|postgresql|pgsql)://(([^:@/]*)(:([^@/]*))?@)?([^:/?]*)(:([0-9]+))?/([^?]+)(\?.*)?$'
[[ "$DATABASE_URL" =~ $pattern ]] || die "DATABASE_URL is not a postgres:// URL"
PGUSER="$(url_decode "${BASH_REMATCH[3]}")"
PGPASSWORD="$(url_decode "${BASH_REMATCH[5]}")"
PGHOST="$(url_decode "${BASH_REMATCH[6]}")"
PGPORT="${BASH_REMATCH[8]:-5432}"
source_database="$(url_decode "${BASH_REMATCH[9]}")"
query="${BASH_REMATCH[10]}"
export PGUSER PGHOST PGPORT
if [[ -n "$PGPASSWORD" ]]; then export PGPASSWORD; else unset PGPASSWORD; fi
[[ -n "$PGUSER" ]] || unset PGUSER
[[ -n "$PGHOST" ]] || unset PGHOST
[[ "$target" != "$source_database" ]] || die "refusing to restore over the database DATABASE_URL names"

if [[ -f "$dump.sha256" ]]; then
    (cd "$(dirname -- "$dump")" && sha256sum --quiet -c -- "$(basename -- "$dump").sha256") ||
        die "$dump does not match its checksum"
fi
pg_restore --list "$dump" >/dev/null || die "$dump is not a pg_dump custom-format archive"

exists="$(psql --dbname=postgres -XtAc "SELECT 1 FROM pg_database WHERE datname = '$target'")" ||
    die "cannot reach the database server"
[[ -z "$exists" ]] || die "database $target already exists: restore into a new name"

created=""
cleanup() {
    local status=$?
    if [[ $status -ne 0 && -n "$created" ]]; then
        log "dropping the incomplete database $target"
        dropdb --if-exists -- "$target" || true
    fi
}
trap cleanup EXIT

createdb --template=template0 --encoding=UTF8 -- "$target"
created=1
log "restoring $dump into $target"
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    --dbname="$target" -- "$dump" || die "pg_restore exited with $?"
counts="$(psql --dbname="$target" -XAtq -F $'\t' --set ON_ERROR_STOP=1 -c \
    "SELECT table_name, (xpath('/row/c/text()', query_to_xml(format(
       'SELECT count(*) AS c FROM public.%I', table_name), false, true, '')))[1]::text
     FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")" ||
    die "cannot count the rows of $target"
tables="$(printf '%s\n' "$counts" | grep -c .)"
# backup.sh counted the rows in the dump's own snapshot: the copy must hold exactly those.
if [[ -f "$dump.counts" ]]; then
    if ! difference="$(diff -- "$dump.counts" <(printf '%s\n' "$counts"))"; then
        printf '%s\n' "$difference" >&2
        die "the rows of $target differ from those counted at the backup (above: < backup, > restored)"
    fi
    log "restored $tables tables into $target; every table has the rows counted at the backup"
else
    log "restored $tables tables into $target (no .counts file next to the dump to compare with)"
fi

if [[ "${RESTORE_SKIP_DJANGO_CHECK:-0}" != "1" ]]; then
    project="$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
    python="${PYTHON:-}"
    if [[ -z "$python" ]]; then
        if [[ -x "$project/.venv/bin/python" ]]; then python="$project/.venv/bin/python"; else python=python3; fi
    fi
    # The same server and role, the restored database (libpq reads PG* for the rest).
    restored_url="${DATABASE_URL%%\?*}"
    restored_url="${restored_url%/*}/${target}${query}"
    cd "$project"
    if ! DATABASE_URL="$restored_url" "$python" manage.py migrate --check >/dev/null; then
        created="" # the copy is whole; only its schema is behind the code (or Django failed)
        DATABASE_URL="$restored_url" "$python" manage.py showmigrations --list 2>&1 |
            awk '/^[^ ]/ { app = $0 } /\[ \]/ { print "  pending: " app "." $2 }' >&2 || true
        die "$target is restored, but manage.py migrate --check failed (pending migrations above): run manage.py migrate on it before serving"
    fi
    log "migrations: none pending"
fi
created=""
printf 'restored: %s\n' "$target"
log "done"
