#!/usr/bin/env bash
# Nightly backup of the portal: the database and the uploaded media.
#
#   DATABASE_URL=postgres://user:pass@host:5432/alliance BACKUP_DIR=/srv/backups \
#   MEDIA_ROOT=/srv/alliance/media scripts/backup.sh
#
# What it writes under BACKUP_DIR (docs/OPERATIONS.md, "Backups and restore"):
#   db/daily/<db>-YYYYMMDDTHHMMSSZ.dump    pg_dump --format=custom, checked with pg_restore --list
#   db/daily/<db>-….dump.counts            rows per table, counted in the dump's own snapshot
#   db/daily/<db>-….dump.sha256            checksums of both (sha256sum -c)
#   db/weekly/…                            the same file (a hard link) on BACKUP_WEEKLY_DAY
#   media/YYYYMMDDTHHMMSSZ/                MEDIA_ROOT as it was: rsync --link-dest against the
#                                          previous snapshot, so an unchanged file is stored once
#   media/latest                           symlink to the newest complete snapshot
# Retention: BACKUP_KEEP_DAILY daily dumps and media snapshots (default 14),
# BACKUP_KEEP_WEEKLY weekly dumps (default 8). A run that fails leaves no partial
# file behind, deletes nothing and exits non-zero (cron mails it, or the timer
# fails). The password in DATABASE_URL is handed to pg_dump through the
# environment (PGPASSWORD), never on a command line, and never printed.
#
# Settings (environment):
#   DATABASE_URL          required: postgres://, postgresql:// or pgsql://
#   BACKUP_DIR            required: where backups go (a separate disk; copy it off site)
#   MEDIA_ROOT            the uploaded files; unset or BACKUP_MEDIA=0: database only
#   BACKUP_KEEP_DAILY     14
#   BACKUP_KEEP_WEEKLY    8
#   BACKUP_WEEKLY_DAY     7 (ISO weekday of the weekly copy, in UTC like the names: 1 = Monday … 7 = Sunday)
#   BACKUP_COMPRESS       6 (pg_dump --compress level, 0–9)
set -euo pipefail
umask 077

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

: "${DATABASE_URL:?DATABASE_URL is required}"
: "${BACKUP_DIR:?BACKUP_DIR is required}"
KEEP_DAILY="${BACKUP_KEEP_DAILY:-14}"
KEEP_WEEKLY="${BACKUP_KEEP_WEEKLY:-8}"
WEEKLY_DAY="${BACKUP_WEEKLY_DAY:-7}"
COMPRESS="${BACKUP_COMPRESS:-6}"
for number in "$KEEP_DAILY" "$KEEP_WEEKLY" "$WEEKLY_DAY" "$COMPRESS"; do
    [[ "$number" =~ ^[0-9]+$ ]] || die "retention and compression settings must be whole numbers"
done
((KEEP_DAILY >= 1)) || die "BACKUP_KEEP_DAILY must be at least 1"

# postgres://user:password@host:port/dbname?options — into libpq's PG* variables.
url_decode() {
    local text="${1//+/ }"
    printf '%b' "${text//%/\\x}"
}
pattern='^(postgres|postgresql|pgsql)://(([^:@/]*)(:([^@/]*))?@)?([^:/?]*)(:([0-9]+))?/([^?]+)'
[[ "$DATABASE_URL" =~ $pattern ]] || die "DATABASE_URL is not a postgres:// URL"
PGUSER="$(url_decode "${BASH_REMATCH[3]}")"
PGPASSWORD="$(url_decode "${BASH_REMATCH[5]}")"
PGHOST="$(url_decode "${BASH_REMATCH[6]}")"
PGPORT="${BASH_REMATCH[8]:-5432}"
PGDATABASE="$(url_decode "${BASH_REMATCH[9]}")"
export PGUSER PGHOST PGPORT PGDATABASE
if [[ -n "$PGPASSWORD" ]]; then export PGPASSWORD; else unset PGPASSWORD; fi
[[ -n "$PGUSER" ]] || unset PGUSER
[[ -n "$PGHOST" ]] || unset PGHOST

mkdir -p "$BACKUP_DIR/db/daily" "$BACKUP_DIR/db/weekly"
# One run at a time (a slow night must not overlap the next).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$BACKUP_DIR/.lock"
    flock -n 9 || die "another backup is running (lock $BACKUP_DIR/.lock)"
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="${PGDATABASE}-${stamp}.dump"
daily="$BACKUP_DIR/db/daily/$name"
partial="$daily.partial"
media_partial=""
trap 'rm -rf -- "$partial" "$partial.counts" ${media_partial:+"$media_partial"}' EXIT

# --- database -----------------------------------------------------------------
# One read-only snapshot for the dump and the row counts written next to it
# (<dump>.counts: "table<TAB>rows" per table of the public schema), so that
# scripts/restore.sh can prove the restored copy holds exactly what was dumped.
log "dumping database $PGDATABASE on ${PGHOST:-local socket}:$PGPORT"
coproc SNAPSHOT { psql -XAtq -F $'\t' --set ON_ERROR_STOP=1 2>&1; }
snapshot_pid="$SNAPSHOT_PID"
snapshot_in="${SNAPSHOT[1]}"
snapshot_out="${SNAPSHOT[0]}"
printf '%s\n' "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" \
    "SELECT 'snapshot', pg_export_snapshot();" \
    "SELECT table_name, (xpath('/row/c/text()', query_to_xml(format(
       'SELECT count(*) AS c FROM public.%I', table_name), false, true, '')))[1]::text
     FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1;" \
    "SELECT 'end', 'counts';" >&"$snapshot_in"
snapshot_id=""
: >"$partial.counts"
while IFS=$'\t' read -r -t 600 first second <&"$snapshot_out"; do
    case "$first" in
    snapshot) snapshot_id="$second" ;;
    end) break ;;
    *)
        [[ -n "$snapshot_id" && "$second" =~ ^[0-9]+$ ]] || die "counting rows failed: $first"
        printf '%s\t%s\n' "$first" "$second" >>"$partial.counts"
        ;;
    esac
done
[[ -n "$snapshot_id" && "$first" == "end" ]] || die "could not open a snapshot of the database"
pg_dump --format=custom --compress="$COMPRESS" --lock-wait-timeout=120s \
    --snapshot="$snapshot_id" --file="$partial" || die "pg_dump exited with $?"
printf '%s\n' "COMMIT;" "\\q" >&"$snapshot_in"
wait "$snapshot_pid" 2>/dev/null || true
# A dump that pg_restore cannot read is no backup.
pg_restore --list "$partial" >/dev/null || die "pg_restore cannot read the new dump"
mv -- "$partial.counts" "$daily.counts"
mv -- "$partial" "$daily"
(cd "$BACKUP_DIR/db/daily" && sha256sum -- "$name" "$name.counts" >"$name.sha256")
log "database: $daily ($(du -h -- "$daily" | cut -f1))"
printf 'dump: %s\n' "$daily"

if [[ "$(date -u +%u)" == "$WEEKLY_DAY" ]] && ((KEEP_WEEKLY > 0)); then
    ln -f -- "$daily" "$BACKUP_DIR/db/weekly/$name" 2>/dev/null ||
        cp -- "$daily" "$BACKUP_DIR/db/weekly/$name"
    cp -- "$daily.sha256" "$daily.counts" "$BACKUP_DIR/db/weekly/"
    log "weekly copy: $BACKUP_DIR/db/weekly/$name"
fi

# --- media ----------------------------------------------------------------------
if [[ -n "${MEDIA_ROOT:-}" && "${BACKUP_MEDIA:-1}" != "0" ]]; then
    [[ -d "$MEDIA_ROOT" ]] || die "MEDIA_ROOT $MEDIA_ROOT is not a folder"
    mkdir -p "$BACKUP_DIR/media"
    snapshot="$BACKUP_DIR/media/$stamp"
    link_dest=()
    if [[ -d "$BACKUP_DIR/media/latest/" ]]; then
        link_dest=(--link-dest="$(readlink -f -- "$BACKUP_DIR/media/latest")")
    fi
    media_partial="$snapshot.partial"
    log "copying media from $MEDIA_ROOT"
    rsync -a --delete "${link_dest[@]}" -- "$MEDIA_ROOT/" "$media_partial/" ||
        die "rsync of the media exited with $?"
    mv -- "$media_partial" "$snapshot"
    media_partial=""
    ln -sfn -- "$stamp" "$BACKUP_DIR/media/latest"
    log "media: $snapshot"
    printf 'media: %s\n' "$snapshot"
fi

# --- retention (only after everything above succeeded) -------------------------------
prune() { # prune FOLDER KEEP GLOB: keep the KEEP newest entries (names sort by date)
    local folder="$1" keep="$2" glob="$3" entries=() index
    mapfile -t entries < <(cd "$folder" && find . -maxdepth 1 -name "$glob" -printf '%f\n' | sort -r)
    for ((index = keep; index < ${#entries[@]}; index++)); do
        rm -rf -- "${folder:?}/${entries[index]}" "${folder:?}/${entries[index]}".{sha256,counts}
        log "removed old backup ${folder}/${entries[index]}"
    done
}
prune "$BACKUP_DIR/db/daily" "$KEEP_DAILY" "${PGDATABASE}-*.dump"
prune "$BACKUP_DIR/db/weekly" "$KEEP_WEEKLY" "${PGDATABASE}-*.dump"
if [[ -d "$BACKUP_DIR/media" ]]; then
    prune "$BACKUP_DIR/media" "$KEEP_DAILY" "[0-9]*T[0-9]*Z"
fi
log "done"
