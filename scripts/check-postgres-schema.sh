#!/usr/bin/env bash
# check-postgres-schema.sh: checks the PostgreSQL baseline (0014_baseline.sql) against the SQLite schema
# of migrations/sqlite 0001..0014, on a throw-away PostgreSQL cluster and a throw-away
# SQLite file.
#
#   - loads the baseline with psql (ON_ERROR_STOP, one transaction) and, when Go is
#     here, as one Exec through database/sql and the pgx stdlib driver in a transaction,
#     as tollgated's migrate does;
#   - compares each table's column names, in order, with a list written by hand from
#     the SQLite schema, on both engines;
#   - compares column types, NOT NULL, defaults, primary keys, indexes (names, columns,
#     uniqueness, WHERE clauses), UNIQUE and CHECK constraints, foreign keys (with their
#     ON DELETE/ON UPDATE actions) and triggers (timing, event, WHEN) with the SQLite
#     schema, allowing only the differences the baseline documents;
#   - runs the same statements on both engines, exercising every trigger and a sample of
#     constraints, and asserts the results (pack strings, refusals and their SQLSTATE
#     class, cascades, ordering, identities);
#   - prints the PostgreSQL \d summary (CHECK_VERBOSE=1: every table's \d too).
# It exits non-zero on any mismatch. The cluster and its directory go on exit.
#
# Needs PostgreSQL server binaries (PGBIN, default the newest /usr/lib/postgresql/*/bin), psql,
# and the sqlite3 CLI or Go (the SQLite side then runs through modernc.org/sqlite, the
# driver tollgated uses; CHECK_SQLITE=go forces that). Run as root, the cluster runs as
# the postgres system user.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
baseline=${CHECK_BASELINE:-$repo/db/migrations/postgres/0014_baseline.sql} # CHECK_BASELINE: another file, to test this check
sqlite_migrations=$repo/db/migrations/sqlite
baseline_version=14
pgbin=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
psql_bin=$pgbin/psql
[ -x "$psql_bin" ] || psql_bin=$(command -v psql)

passed=0
failed=0
good() { passed=$((passed + 1)); }
bad() {
	failed=$((failed + 1))
	printf 'MISMATCH: %s\n' "$*" >&2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-pgcheck.XXXXXX")
started=
cleanup() {
	if [ -n "$started" ]; then
		as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ "$(id -u)" = 0 ]; then
	chown postgres: "$work"
	as_pg() { runuser -u postgres -- "$@"; }
else
	as_pg() { "$@"; }
fi

# ---------------------------------------------------------------------------------------
# The helper: loads the baseline through pgx, and runs SQL on SQLite through modernc.org/
# sqlite when there is no sqlite3 CLI. Built from a file in $work with the repository's
# go.mod (nothing is written to the repository).
# ---------------------------------------------------------------------------------------
helper=
if command -v go >/dev/null 2>&1; then
	cat >"$work/helper.go" <<'EOF'
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

func die(err error) {
	fmt.Fprintln(os.Stderr, "Error:", err)
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == 19 {
		os.Exit(19) // SQLITE_CONSTRAINT, as the sqlite3 CLI exits
	}
	os.Exit(1)
}

func main() {
	ctx := context.Background()
	switch os.Args[1] {
	case "pgload": // URL FILE: the whole file as one Exec in a transaction
		d, err := sql.Open("pgx", os.Args[2])
		if err != nil {
			die(err)
		}
		body, err := os.ReadFile(os.Args[3])
		if err != nil {
			die(err)
		}
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			die(err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			die(err)
		}
		if err := tx.Commit(); err != nil {
			die(err)
		}
	case "sqlite-exec", "sqlite-query": // DB, SQL on stdin
		d, err := sql.Open("sqlite", "file:"+os.Args[2]+"?_pragma=foreign_keys(1)")
		if err != nil {
			die(err)
		}
		d.SetMaxOpenConns(1)
		in, err := io.ReadAll(os.Stdin)
		if err != nil {
			die(err)
		}
		if os.Args[1] == "sqlite-exec" {
			tx, err := d.BeginTx(ctx, nil)
			if err != nil {
				die(err)
			}
			if _, err := tx.ExecContext(ctx, string(in)); err != nil {
				die(err)
			}
			if err := tx.Commit(); err != nil {
				die(err)
			}
			return
		}
		rows, err := d.QueryContext(ctx, string(in))
		if err != nil {
			die(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				die(err)
			}
			out := make([]string, len(cols))
			for i, v := range vals {
				switch v := v.(type) {
				case nil:
				case []byte:
					out[i] = string(v)
				case float64:
					out[i] = strconv.FormatFloat(v, 'g', -1, 64)
				default:
					out[i] = fmt.Sprint(v)
				}
			}
			fmt.Println(strings.Join(out, "|"))
		}
		if err := rows.Err(); err != nil {
			die(err)
		}
	}
}
EOF
	if (cd "$repo" && go build -o "$work/helper" "$work/helper.go") 2>"$work/helper.log"; then
		helper=$work/helper
	else
		echo "warning: could not build the Go helper (no pgx load, no Go SQLite fallback):" >&2
		cat "$work/helper.log" >&2
	fi
fi

sqlite_mode=cli
if [ "${CHECK_SQLITE:-}" = go ] || ! command -v sqlite3 >/dev/null 2>&1; then
	sqlite_mode=go
	if [ -z "$helper" ]; then
		echo "check.sh: needs the sqlite3 CLI or Go for the SQLite side" >&2
		exit 2
	fi
fi

# ---------------------------------------------------------------------------------------
# PostgreSQL: a throw-away cluster, socket only. Its default collation is ICU en-US
# where this server has ICU (so a text column that forgot COLLATE "C" would order
# differently from SQLite and show), else C.UTF-8.
# ---------------------------------------------------------------------------------------
if ! as_pg "$pgbin/initdb" -D "$work/data" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 \
	--locale-provider=icu --icu-locale=en-US >"$work/initdb.log" 2>&1; then
	rm -rf "$work/data"
	as_pg "$pgbin/initdb" -D "$work/data" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 \
		>"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
fi
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w -s \
	-o "-c listen_addresses='' -c unix_socket_directories='$work' -c fsync=off" start ||
	{ cat "$work/postgres.log" >&2; exit 1; }
started=1

pgdb=tollgate_check
psql_base=("$psql_bin" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -U postgres)
"${psql_base[@]}" -d postgres -c "CREATE DATABASE $pgdb" -c "CREATE DATABASE ${pgdb}_pgx"

echo "== load $(basename "$baseline")"
"${psql_base[@]}" -d "$pgdb" --single-transaction -f "$baseline"
echo "psql --single-transaction: ok"
if [ -n "$helper" ]; then
	"$helper" pgload "postgres://postgres@/${pgdb}_pgx?host=$work&default_query_exec_mode=simple_protocol" "$baseline"
	echo "one Exec through pgx stdlib (simple protocol) in a transaction: ok"
else
	echo "SKIP: the pgx load (no Go)"
fi

# ---------------------------------------------------------------------------------------
# SQLite: a file migrated to the baseline's version.
# ---------------------------------------------------------------------------------------
sqlite_db=$work/sqlite.db
sq_exec() {
	if [ "$sqlite_mode" = cli ]; then
		sqlite3 -bail -batch "$sqlite_db" "PRAGMA foreign_keys=ON; BEGIN; $1;
COMMIT;"
	else
		"$helper" sqlite-exec "$sqlite_db" <<<"$1"
	fi
}
sq_query() {
	if [ "$sqlite_mode" = cli ]; then
		sqlite3 -batch -list -separator '|' -nullvalue '' "$sqlite_db" "PRAGMA foreign_keys=ON; $1"
	else
		"$helper" sqlite-query "$sqlite_db" <<<"$1"
	fi
}
pg_exec() { "${psql_base[@]}" -v VERBOSITY=verbose -d "$pgdb" -c "$1" >/dev/null; }
pg_query() { "${psql_base[@]}" -F '|' -d "$pgdb" -c "$1"; }

for f in "$sqlite_migrations"/[0-9]*.sql; do
	v=$(basename "$f")
	v=$((10#${v%%_*}))
	if [ "$v" -le "$baseline_version" ]; then
		sq_exec "$(cat "$f")" || { echo "SQLite migration $f failed" >&2; exit 1; }
	fi
done
echo "SQLite ($sqlite_mode): migrations/sqlite up to $baseline_version applied"

# ---------------------------------------------------------------------------------------
# Column names, in order, as written by hand from the final SQLite schema.
# ---------------------------------------------------------------------------------------
expected_columns='acct_missing: instance_id region last_seen_s
acct_periods: id instance_id region az type spot start_s end_s end_how estimated
acct_region_runs: id region ok error first_s last_s runs instances
acct_spot_prices: region type az at_s price
acct_volumes: volume_id instance_id region type size_gb start_s end_s estimated
audit: seq at actor uid action target decision reason detail count last_at
balancer_pools: name region paused draining override_min override_max override_until security_group removed updated_at
host_keys: instance_id keys source pinned_at
iam_identities: user iam_user arn state created_at last_rotated updated_at
iam_key_intents: id user iam_user rotate prior_keys new_key created_at
instance_actions: id instance_id region action audit_action actor uid prev_state state result created_at settled_at
instances: id launch_id owner uid region type image name purpose spot tracked adopted state public_ip private_ip launched_at expires_at last_seen gone_at tags pack_periods pack_volumes
keypair_imports: name region fingerprint imported_at
launches: id client_token owner uid region type image count name spot vcpus_each price_hourly lifetime_s expires_at state error created_at updated_at purpose
notices: id user at kind ref message read
service_regions: service region image_id group_id keypair launch_id instance_id step updated_at
service_runs: id service region instance_id started_at ended_at status exit_code command_id stdout stderr reason instance_seconds
ssh_keys: user public_key fingerprint updated_at
users: name uid source grp disabled overrides created_at updated_at'
# PostgreSQL adds instances.rowid, last (see the baseline).
expected_pg_columns=$(sed 's/^\(instances: .*\)$/\1 rowid/' <<<"$expected_columns")

sq_tables="m.type = 'table' AND m.name NOT IN ('sqlite_sequence', 'schema_migrations') AND m.name NOT LIKE 'sqlite_%'"
pg_tables="c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname <> 'schema_migrations'"

# compare LABEL WANT GOT: one check, with a diff on mismatch.
compare() {
	if [ "$2" = "$3" ]; then
		good
	else
		bad "$1"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /' >&2 || true
	fi
}

echo "== columns"
sq_cols=$(sq_query "SELECT m.name || ': ' || (SELECT group_concat(name, ' ') FROM (SELECT name FROM pragma_table_info(m.name) ORDER BY cid))
	FROM sqlite_master m WHERE $sq_tables ORDER BY m.name")
pg_cols=$(pg_query "SELECT c.relname || ': ' || string_agg(a.attname, ' ' ORDER BY a.attnum)
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE $pg_tables GROUP BY c.relname ORDER BY c.relname")
compare "column names (SQLite, against the list by hand)" "$expected_columns" "$sq_cols"
compare "column names (PostgreSQL, against the list by hand)" "$expected_pg_columns" "$pg_cols"
echo "$(wc -l <<<"$pg_cols") tables compared"

# Column attributes: table|column|type|not null|default|position in the primary key.
# SQLite's types map to the baseline's; a primary key column is NOT NULL (SQLite does
# not enforce that for a TEXT PRIMARY KEY of a rowid table: a quirk PostgreSQL does not
# have); an INTEGER PRIMARY KEY (a rowid alias) is an identity.
sq_attrs=$(sq_query "SELECT m.name, p.name,
	CASE upper(p.type) WHEN 'INTEGER' THEN 'bigint' WHEN 'TEXT' THEN 'text collate C'
		WHEN 'REAL' THEN 'double precision' WHEN 'BLOB' THEN 'bytea' ELSE 'UNMAPPED ' || p.type END,
	CASE WHEN p.\"notnull\" OR p.pk > 0 THEN 1 ELSE 0 END,
	CASE WHEN p.pk = 1 AND upper(p.type) = 'INTEGER'
		AND (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1 THEN 'identity'
		ELSE coalesce(p.dflt_value, '') END,
	p.pk
	FROM sqlite_master m, pragma_table_info(m.name) p WHERE $sq_tables ORDER BY m.name, p.cid")
pg_attrs=$(pg_query "SELECT c.relname, a.attname,
	format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attcollation <> 0 THEN ' collate ' || co.collname ELSE '' END,
	CASE WHEN a.attnotnull THEN 1 ELSE 0 END,
	CASE a.attidentity WHEN 'd' THEN 'identity' WHEN 'a' THEN 'identity always' ELSE
		coalesce(regexp_replace(regexp_replace(pg_get_expr(d.adbin, d.adrelid), '::[a-z ]+\$', ''), '^''(-?[0-9.]+)''\$', '\\1'), '') END,
	coalesce(array_position(pk.conkey, a.attnum), 0)
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_collation co ON co.oid = a.attcollation
	LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
	WHERE $pg_tables ORDER BY c.relname, a.attnum")
compare "column types, NOT NULL, defaults, primary keys" "$sq_attrs" \
	"$(grep -vxF 'instances|rowid|bigint|1|identity always|0' <<<"$pg_attrs")"
compare "instances.rowid" 'instances|rowid|bigint|1|identity always|0' "$(grep '^instances|rowid|' <<<"$pg_attrs")"

echo "== indexes and constraints"
# Indexes other than primary keys: table|name (- for a UNIQUE constraint's)|unique|kind|
# columns|WHERE. A NOCASE column (iam_user) is lower(column) on PostgreSQL.
sq_idx=$(sq_query "SELECT m.name, CASE WHEN il.origin = 'c' THEN il.name ELSE '-' END, il.\"unique\",
	CASE WHEN il.origin = 'c' THEN 'index' ELSE 'unique' END,
	(SELECT group_concat(col, ',') FROM (SELECT CASE WHEN upper(x.coll) = 'NOCASE' THEN 'lower(' || x.name || ')' ELSE x.name END AS col
		FROM pragma_index_xinfo(il.name) x WHERE x.key = 1 ORDER BY x.seqno)),
	CASE WHEN il.partial THEN (SELECT trim(substr(replace(s.sql, char(10), ' '), instr(upper(replace(s.sql, char(10), ' ')), ' WHERE ') + 7))
		FROM sqlite_master s WHERE s.type = 'index' AND s.name = il.name) ELSE '' END
	FROM sqlite_master m, pragma_index_list(m.name) il WHERE $sq_tables AND il.origin <> 'pk'" | sort)
pg_idx=$(pg_query "SELECT c.relname, CASE WHEN k.contype = 'u' THEN '-' ELSE ic.relname END,
	CASE WHEN i.indisunique THEN 1 ELSE 0 END, CASE WHEN k.contype = 'u' THEN 'unique' ELSE 'index' END,
	replace((SELECT string_agg(pg_get_indexdef(i.indexrelid, n, true), ',' ORDER BY n) FROM generate_series(1, i.indnkeyatts) n), '\"', ''),
	coalesce(regexp_replace(replace(pg_get_expr(i.indpred, i.indrelid, true), '::text', ''), '^\\((.*)\\)\$', '\\1'), '')
	FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
	LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype = 'u'
	WHERE $pg_tables AND NOT i.indisprimary" | sort)
# The documented differences: instances_rowid is PostgreSQL's own, and iam_user's UNIQUE
# NOCASE is a unique index on lower(iam_user).
pg_idx_mapped=$(grep -vxF 'instances|instances_rowid|1|index|rowid|' <<<"$pg_idx" |
	sed 's/^iam_identities|iam_identities_iam_user_key|1|index|lower(iam_user)|$/iam_identities|-|1|unique|lower(iam_user)|/' | sort)
compare "indexes and UNIQUE constraints" "$sq_idx" "$pg_idx_mapped"
compare "instances_rowid" 'instances|instances_rowid|1|index|rowid|' "$(grep '|instances_rowid|' <<<"$pg_idx")"
echo "$(wc -l <<<"$sq_idx") indexes and UNIQUE constraints compared"

# Foreign keys: table|column|referenced table|column|ON UPDATE|ON DELETE.
sq_fk=$(sq_query "SELECT m.name, f.\"from\", f.\"table\", f.\"to\", f.on_update, f.on_delete
	FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE $sq_tables" | sort)
pg_fk=$(pg_query "SELECT c.relname, a.attname, rc.relname, ra.attname,
	CASE k.confupdtype WHEN 'a' THEN 'NO ACTION' WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END,
	CASE k.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END
	|| CASE WHEN k.condeferrable OR cardinality(k.conkey) <> 1 THEN ' (deferrable or multi-column!)' ELSE '' END
	FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class rc ON rc.oid = k.confrelid
	JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
	JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
	WHERE k.contype = 'f' AND $pg_tables" | sort)
compare "foreign keys" "$sq_fk" "$pg_fk"
echo "$(wc -l <<<"$sq_fk") foreign keys compared"

# CHECK constraints: table|expression, SQLite's as written, PostgreSQL's deparsed form
# (col = ANY (ARRAY['a'::text, ...])) brought back to col IN ('a', ...).
sq_chk=$(sq_query "SELECT m.name, replace(replace(m.sql, char(10), ' '), char(9), ' ') FROM sqlite_master m WHERE $sq_tables" |
	awk -F'|' '{
		s = $2; u = toupper(s)
		while ((p = index(u, "CHECK")) > 0) {
			s = substr(s, p + 5); u = substr(u, p + 5)
			sub(/^ */, "", s); u = toupper(s)
			if (substr(s, 1, 1) != "(") continue
			d = 0
			for (i = 1; i <= length(s); i++) {
				ch = substr(s, i, 1)
				if (ch == "(") d++
				else if (ch == ")" && --d == 0) break
			}
			e = substr(s, 2, i - 2); gsub(/  +/, " ", e)
			print $1 "|" e
			s = substr(s, i + 1); u = toupper(s)
		}
	}' | sort)
pg_chk=$(pg_query "SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
	WHERE k.contype = 'c' AND $pg_tables" |
	sed -E 's/::text//g; s/^([^|]*)\|CHECK \(\((.*)\)\)$/\1|\2/; s/ = ANY \(ARRAY\[(.*)\]\)$/ IN (\1)/' | sort)
compare "CHECK constraints" "$sq_chk" "$pg_chk"
echo "$(wc -l <<<"$sq_chk") CHECK constraints compared"

echo "== triggers"
# table|trigger|timing|event|ROW|has WHEN. SQLite's triggers are all FOR EACH ROW.
sq_trg=$(sq_query "SELECT tbl_name, name, replace(replace(sql, char(10), ' '), char(9), ' ') FROM sqlite_master WHERE type = 'trigger'" |
	awk -F'|' '{
		u = toupper($3); b = index(u, " BEGIN")
		t = (u ~ / BEFORE /) ? "BEFORE" : (u ~ / INSTEAD OF /) ? "INSTEAD OF" : "AFTER"
		e = (u ~ / INSERT ON /) ? "INSERT" : (u ~ / DELETE ON /) ? "DELETE" : (u ~ / UPDATE (OF .*)?ON /) ? "UPDATE" : "?"
		w = (index(substr(u, 1, b), " WHEN ") > 0) ? 1 : 0
		print $1 "|" $2 "|" t "|" e "|ROW|" w
	}' | sort)
pg_trg=$(pg_query "SELECT c.relname, t.tgname,
	CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END,
	concat_ws(' OR ', CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END, CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END,
		CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END, CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END),
	CASE WHEN t.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' END,
	CASE WHEN t.tgqual IS NOT NULL THEN 1 ELSE 0 END
	FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND $pg_tables" | sort)
# PostgreSQL's own: TRUNCATE would bypass audit's DELETE trigger.
compare "triggers" "$sq_trg" "$(grep -vxF 'audit|audit_no_truncate|BEFORE|TRUNCATE|STATEMENT|0' <<<"$pg_trg")"
compare "audit_no_truncate" 'audit|audit_no_truncate|BEFORE|TRUNCATE|STATEMENT|0' "$(grep '|audit_no_truncate|' <<<"$pg_trg")"
echo "$(wc -l <<<"$sq_trg") triggers compared"

# ---------------------------------------------------------------------------------------
# Behaviour: the same statements on both engines. Each exec step is one transaction.
# ---------------------------------------------------------------------------------------
# both MODE SQL: runs SQL on both engines; sets pg_rc pg_out pg_err sq_rc sq_out sq_err.
both() {
	set +e
	pg_out=$(pg_"$1" "$2" 2>"$work/pg.err")
	pg_rc=$?
	sq_out=$(sq_"$1" "$2" 2>"$work/sq.err")
	sq_rc=$?
	set -e
	pg_err=$(cat "$work/pg.err")
	sq_err=$(cat "$work/sq.err")
}
# ok LABEL SQL: must succeed on both.
ok() {
	both exec "$2"
	if [ "$pg_rc" = 0 ] && [ "$sq_rc" = 0 ]; then good; else
		bad "$1: want success; PostgreSQL rc $pg_rc: $pg_err; SQLite rc $sq_rc: $sq_err"
	fi
}
# refused LABEL MESSAGE SQL: must fail with a constraint error on both (SQLite code 19,
# PostgreSQL SQLSTATE class 23), each error saying MESSAGE when not empty; the step's
# changes are rolled back on both.
refused() {
	both exec "$3"
	local pg_state
	pg_state=$(sed -nE 's/^ERROR:  ([0-9A-Z]{5}):.*/\1/p' <<<"$pg_err" | head -1)
	if [ "$sq_rc" != 19 ] || [ "${pg_state:0:2}" != 23 ]; then
		bad "$1: want a constraint error on both; PostgreSQL rc $pg_rc SQLSTATE '$pg_state': $pg_err; SQLite rc $sq_rc: $sq_err"
	elif [ -n "$2" ] && { ! grep -qF -- "$2" <<<"$pg_err" || ! grep -qF -- "$2" <<<"$sq_err"; }; then
		bad "$1: want the message '$2'; PostgreSQL: $pg_err; SQLite: $sq_err"
	else
		good
	fi
}
# want LABEL SQL EXPECTED: the query's rows (a|b per line) must be EXPECTED on both.
want() {
	both query "$2"
	if [ "$pg_rc" != 0 ] || [ "$sq_rc" != 0 ]; then
		bad "$1: query failed; PostgreSQL: $pg_err; SQLite: $sq_err"
	elif [ "$pg_out" != "$3" ] || [ "$sq_out" != "$3" ]; then
		bad "$1: want [$3]; PostgreSQL [$pg_out]; SQLite [$sq_out]"
	else
		good
	fi
}
# same LABEL SQL: the query's rows must be identical on both.
same() {
	both query "$2"
	if [ "$pg_rc" != 0 ] || [ "$sq_rc" != 0 ]; then
		bad "$1: query failed; PostgreSQL: $pg_err; SQLite: $sq_err"
	elif [ "$pg_out" != "$sq_out" ]; then
		bad "$1: PostgreSQL [$pg_out]; SQLite [$sq_out]"
	else
		good
	fi
}
# normpack: each field after the first, a pack, with its ';' items sorted (a pack's items
# are in no particular order).
normpack() {
	awk 'function srt(s,   n, a, i, j, t, r) {
		n = split(s, a, ";")
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		r = ""; for (i = 1; i <= n; i++) r = r (i > 1 ? ";" : "") a[i]
		return r
	}
	BEGIN { FS = OFS = "|" } { for (k = 2; k <= NF; k++) $k = srt($k); print }'
}
packs_exact=0
packs_reordered=0
# wantpack LABEL SQL EXPECTED: rows of id|pack[|pack...]: equal to EXPECTED on both as
# sets of items; a difference only in the order of items between the engines is noted.
wantpack() {
	both query "$2"
	local want_n pg_n sq_n
	want_n=$(normpack <<<"$3")
	pg_n=$(normpack <<<"$pg_out")
	sq_n=$(normpack <<<"$sq_out")
	if [ "$pg_rc" != 0 ] || [ "$sq_rc" != 0 ]; then
		bad "$1: query failed; PostgreSQL: $pg_err; SQLite: $sq_err"
	elif [ "$pg_n" != "$want_n" ] || [ "$sq_n" != "$want_n" ]; then
		bad "$1: want [$3]; PostgreSQL [$pg_out]; SQLite [$sq_out]"
	else
		good
		if [ "$pg_out" = "$sq_out" ]; then
			packs_exact=$((packs_exact + 1))
		else
			packs_reordered=$((packs_reordered + 1))
			echo "note: $1: same items, another order: PostgreSQL [$pg_out]; SQLite [$sq_out]"
		fi
	fi
}
# pg_ok / pg_refused / pg_want: PostgreSQL only.
pg_ok() {
	if err=$(pg_exec "$2" 2>&1); then good; else bad "$1: PostgreSQL: $err"; fi
}
pg_refused() {
	local err state
	if err=$(pg_exec "$3" 2>&1); then bad "$1: PostgreSQL accepted it"; return; fi
	state=$(sed -nE 's/^ERROR:  ([0-9A-Z]{5}):.*/\1/p' <<<"$err" | head -1)
	if [ "$state" = "$2" ]; then good; else bad "$1: want SQLSTATE $2: $err"; fi
}
pg_want() {
	local out
	out=$(pg_query "$2" 2>&1) || true
	if [ "$out" = "$3" ]; then good; else bad "$1: want [$3]; PostgreSQL [$out]"; fi
}

packs="SELECT id, pack_periods, pack_volumes FROM instances"

echo "== users, keys, keypair imports (users_rm_keypair_imports, ON DELETE CASCADE)"
ok "enrol users" "INSERT INTO users(name, uid, source, created_at, updated_at) VALUES
	('alice', 1001, 'admin', 't', 't'), ('bob', 1002, 'roster', 't', 't'), ('Carol', 1003, 'group', 't', 't'), ('_svc', NULL, 'admin', 't', 't');
	UPDATE users SET disabled = 1 WHERE name = '_svc'"
want "text orders bytewise" "SELECT name FROM users ORDER BY name" $'Carol\n_svc\nalice\nbob'
want "text compares bytewise" "SELECT name FROM users WHERE name > 'Z' AND name < 'b' ORDER BY name" $'_svc\nalice'
want "0/1 booleans" "SELECT name FROM users WHERE disabled = 0 ORDER BY name DESC" $'bob\nalice\nCarol'
refused "users.source CHECK" "" "INSERT INTO users(name, source, created_at, updated_at) VALUES ('dave', 'ldap', 't', 't')"
refused "users NOT NULL" "" "INSERT INTO users(name, source, created_at) VALUES ('dave', 'admin', 't')"
refused "users PRIMARY KEY" "" "INSERT INTO users(name, source, created_at, updated_at) VALUES ('bob', 'admin', 't', 't')"
ok "keys and imports" "INSERT INTO ssh_keys(\"user\", public_key, fingerprint, updated_at) VALUES
	('alice', 'ssh-ed25519 AAAA alice', 'SHA256:a', 't'), ('bob', 'ssh-ed25519 AAAA bob', 'SHA256:b', 't'), ('Carol', 'ssh-ed25519 AAAA c', 'SHA256:c', 't');
	INSERT INTO keypair_imports(name, region, fingerprint, imported_at) VALUES ('alice', 'us-east-1', 'SHA256:a', 't'),
	('alice', 'eu-west-1', 'SHA256:a', 't'), ('bob', 'us-east-1', 'SHA256:b', 't'), ('Carol', 'us-east-1', 'SHA256:c', 't'),
	('tollgate-balancer', 'us-east-1', 'SHA256:z', 't')"
refused "ssh_keys FOREIGN KEY" "" "INSERT INTO ssh_keys(\"user\", public_key, fingerprint, updated_at) VALUES ('nobody', 'k', 'f', 't')"
ok "upsert a key" "INSERT INTO ssh_keys(\"user\", public_key, fingerprint, updated_at) VALUES ('bob', 'ssh-ed25519 BBBB bob', 'SHA256:b2', 't2')
	ON CONFLICT(\"user\") DO UPDATE SET public_key = excluded.public_key, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at"
ok "remove alice" "DELETE FROM users WHERE name = 'alice'"
want "alice's imports went" "SELECT name, region FROM keypair_imports ORDER BY name, region" \
	$'Carol|us-east-1\nbob|us-east-1\ntollgate-balancer|us-east-1'
want "alice's key went (cascade)" "SELECT \"user\", fingerprint FROM ssh_keys ORDER BY \"user\"" $'Carol|SHA256:c\nbob|SHA256:b2'
ok "remove two users in one statement" "DELETE FROM users WHERE name IN ('bob', 'Carol')"
want "their imports went" "SELECT name, region FROM keypair_imports ORDER BY name" 'tollgate-balancer|us-east-1'
want "their keys went" "SELECT count(*) FROM ssh_keys" 0

echo "== launches and instances (rowid, FOREIGN KEY)"
launch_cols="id, client_token, owner, uid, region, type, image, count, vcpus_each, price_hourly, lifetime_s, expires_at, state, created_at, updated_at"
ok "a launch" "INSERT INTO launches($launch_cols) VALUES ('r-1', 'tok-1', 'bob', 1002, 'us-east-1', 't3.micro', 'ami-1', 2, 2, 0.0104, 3600, 'e', 'launched', 't', 't')"
refused "launches.count CHECK" "" "INSERT INTO launches($launch_cols) VALUES ('r-2', 'tok-2', 'bob', 1002, 'us-east-1', 't3.micro', 'ami-1', 0, 2, 0.0104, 3600, 'e', 'launched', 't', 't')"
refused "launches.state CHECK" "" "INSERT INTO launches($launch_cols) VALUES ('r-2', 'tok-2', 'bob', 1002, 'us-east-1', 't3.micro', 'ami-1', 1, 2, 0.0104, 3600, 'e', 'running', 't', 't')"
refused "launches.purpose CHECK" "" "INSERT INTO launches($launch_cols, purpose) VALUES ('r-2', 'tok-2', 'bob', 1002, 'us-east-1', 't3.micro', 'ami-1', 1, 2, 0.0104, 3600, 'e', 'launched', 't', 't', 'batch')"
refused "launches.client_token UNIQUE" "" "INSERT INTO launches($launch_cols) VALUES ('r-2', 'tok-1', 'bob', 1002, 'us-east-1', 't3.micro', 'ami-1', 1, 2, 0.0104, 3600, 'e', 'launched', 't', 't')"
want "launches.purpose default" "SELECT id, purpose, spot, error FROM launches" 'r-1|user|0|'
inst_cols="id, launch_id, owner, uid, region, type, state, launched_at, last_seen"
ok "three instances" "INSERT INTO instances($inst_cols) VALUES
	('i-1', 'r-1', 'bob', 1002, 'us-east-1', 't3.micro', 'running', '2026-01-01T00:00:00.000000000Z', 't'),
	('i-2', 'r-1', 'bob', 1002, 'us-east-1', 'm5.large', 'running', '2026-01-01T00:00:00.000000000Z', 't'),
	('i-3', NULL, NULL, NULL, 'us-east-1', 'c5.xlarge', 'running', '2026-01-01T00:00:00.000000000Z', 't')"
want "rowid bounds" "SELECT coalesce((SELECT min(rowid) FROM instances), 0), coalesce((SELECT max(rowid) FROM instances), 0)" '1|3'
want "a rowid range" "SELECT id FROM instances WHERE rowid >= 2 AND rowid < 4 ORDER BY id" $'i-2\ni-3'
want "instance defaults" "SELECT id, tracked, adopted, spot, image, expires_at, gone_at, tags, pack_periods, pack_volumes FROM instances ORDER BY id" \
	$'i-1|1|0|0||||{}||\ni-2|1|0|0||||{}||\ni-3|1|0|0||||{}||'
refused "instances.launch_id FOREIGN KEY" "" "INSERT INTO instances($inst_cols) VALUES ('i-4', 'r-404', 'bob', 1002, 'us-east-1', 't3.micro', 'running', 't', 't')"
refused "launches referenced by instances" "" "DELETE FROM launches WHERE id = 'r-1'"
pg_ok "an update keeps the rowid" "UPDATE instances SET state = 'stopped', public_ip = '' WHERE id = 'i-2'"
pg_want "rowids after an update" "SELECT id, rowid FROM instances ORDER BY rowid" $'i-1|1\ni-2|2\ni-3|3'
pg_refused "rowid cannot be written" 428C9 "INSERT INTO instances($inst_cols, rowid) VALUES ('i-5', NULL, NULL, NULL, 'us-east-1', 't3.micro', 'running', 't', 't', 42)"

echo "== acct_periods packs (pack_period_ins, pack_period_upd, pack_period_del)"
per_cols="instance_id, region, az, type, spot, start_s, end_s, end_how, estimated"
ok "a period" "INSERT INTO acct_periods(instance_id, region, az, type, spot, start_s) VALUES ('i-1', 'us-east-1', 'us-east-1a', 't3.micro', 0, 1767225600)"
wantpack "appended to an empty pack" "$packs WHERE id = 'i-1'" 'i-1|1767225600,0,0,0,t3.micro,us-east-1a|'
ok "three periods in one statement, two instances" "INSERT INTO acct_periods(instance_id, region, type, spot, start_s, end_s, end_how, estimated) VALUES
	('i-1', 'us-east-1', 't3.micro', 1, 1767230000, 1767240000, 'observed', 1),
	('i-2', 'us-east-1', 'm5.large', 0, 1767225600, NULL, '', 0),
	('i-1', 'us-east-1', 't3.micro', 0, 1767250000, NULL, '', 0)"
wantpack "appended in row order" "$packs WHERE id IN ('i-1', 'i-2') ORDER BY id" \
	$'i-1|1767225600,0,0,0,t3.micro,us-east-1a;1767230000,1767240000,1,1,t3.micro,;1767250000,0,0,0,t3.micro,|\ni-2|1767225600,0,0,0,m5.large,|'
ok "a period of no instance row" "INSERT INTO acct_periods($per_cols) VALUES ('i-9', 'us-east-1', '', 't3.micro', 0, 5, NULL, '', 0)"
ok "a duplicate period, DO NOTHING" "INSERT INTO acct_periods($per_cols) VALUES ('i-1', 'us-east-1', 'x', 'x', 1, 1767225600, NULL, '', 0)
	ON CONFLICT(instance_id, start_s) DO NOTHING"
refused "acct_periods (instance_id, start_s) UNIQUE" "" "INSERT INTO acct_periods($per_cols) VALUES ('i-1', 'us-east-1', 'x', 'x', 1, 1767225600, NULL, '', 0)"
refused "acct_periods.end_how CHECK" "" "INSERT INTO acct_periods($per_cols) VALUES ('i-1', 'us-east-1', 'x', 'x', 1, 1, NULL, 'guessed', 0)"
same "nothing appended by refusals or conflicts" "$packs ORDER BY id"
ok "an upsert that updates (UPDATE triggers on both)" "INSERT INTO acct_periods(instance_id, region, type, start_s, end_s, end_how)
	VALUES ('i-1', 'us-east-1', 't3.micro', 1767225600, 1767228000, 'reason')
	ON CONFLICT(instance_id, start_s) DO UPDATE SET end_s = excluded.end_s, end_how = excluded.end_how"
wantpack "rebuilt after the upsert" "$packs WHERE id = 'i-1'" \
	'i-1|1767225600,1767228000,0,0,t3.micro,us-east-1a;1767230000,1767240000,1,1,t3.micro,;1767250000,0,0,0,t3.micro,|'
ok "end a period" "UPDATE acct_periods SET end_s = 1767260000, end_how = 'observed' WHERE instance_id = 'i-1' AND start_s = 1767250000"
ok "update three rows in one statement" "UPDATE acct_periods SET estimated = 1 WHERE instance_id = 'i-1'"
wantpack "rebuilt after each" "$packs WHERE id = 'i-1'" \
	'i-1|1767225600,1767228000,1,0,t3.micro,us-east-1a;1767230000,1767240000,1,1,t3.micro,;1767250000,1767260000,1,0,t3.micro,|'
ok "reopen a period (the collector's statement)" "UPDATE acct_periods SET end_s = NULL, end_how = '', estimated = 0
	WHERE id = (SELECT id FROM acct_periods WHERE instance_id = 'i-1' AND start_s = 1767250000)"
ok "move a period to another instance" "UPDATE acct_periods SET instance_id = 'i-2' WHERE instance_id = 'i-1' AND start_s = 1767230000"
wantpack "both instances rebuilt" "$packs WHERE id IN ('i-1', 'i-2') ORDER BY id" \
	$'i-1|1767225600,1767228000,1,0,t3.micro,us-east-1a;1767250000,0,0,0,t3.micro,|\ni-2|1767225600,0,0,0,m5.large,;1767230000,1767240000,1,1,t3.micro,|'
ok "delete a period" "DELETE FROM acct_periods WHERE instance_id = 'i-1' AND start_s = 1767225600"
ok "delete two periods in one statement" "DELETE FROM acct_periods WHERE instance_id = 'i-2'"
wantpack "rebuilt after deletes" "$packs WHERE id IN ('i-1', 'i-2') ORDER BY id" $'i-1|1767250000,0,0,0,t3.micro,|\ni-2||'
ok "a negative and a large number" "INSERT INTO acct_periods($per_cols) VALUES ('i-3', 'us-east-1', 'us-east-1c', 'c5.xlarge', 0, -5, 9007199254740993, 'restart', 0)"
wantpack "integers as text" "$packs WHERE id = 'i-3'" 'i-3|-5,9007199254740993,0,0,c5.xlarge,us-east-1c|'

echo "== acct_volumes packs (pack_volume_ins, pack_volume_upd, pack_volume_del)"
vol_cols="volume_id, instance_id, region, type, size_gb, start_s"
ok "two volumes in one statement" "INSERT INTO acct_volumes($vol_cols) VALUES ('vol-b', 'i-1', 'us-east-1', 'gp3', 8, 1767225600),
	('vol-a', 'i-1', 'us-east-1', 'gp2', 100, 1767225000)"
wantpack "appended in row order" "$packs WHERE id = 'i-1'" 'i-1|1767250000,0,0,0,t3.micro,|1767225600,0,0,8,gp3;1767225000,0,0,100,gp2'
ok "a duplicate volume, DO NOTHING" "INSERT INTO acct_volumes($vol_cols) VALUES ('vol-b', 'i-1', 'us-east-1', 'gp3', 8, 1) ON CONFLICT DO NOTHING"
refused "acct_volumes PRIMARY KEY" "" "INSERT INTO acct_volumes($vol_cols) VALUES ('vol-b', 'i-1', 'us-east-1', 'gp3', 8, 1)"
ok "close the volumes of a gone instance (the collector's statement)" "UPDATE acct_volumes SET end_s = CASE WHEN start_s > 1767225300 THEN start_s ELSE 1767225300 END, estimated = 1
	WHERE instance_id = 'i-1' AND end_s IS NULL"
wantpack "rebuilt" "$packs WHERE id = 'i-1'" 'i-1|1767250000,0,0,0,t3.micro,|1767225000,1767225300,1,100,gp2;1767225600,1767225600,1,8,gp3'
ok "move a volume" "UPDATE acct_volumes SET instance_id = 'i-3' WHERE volume_id = 'vol-b'"
wantpack "both rebuilt" "$packs WHERE id IN ('i-1', 'i-3') ORDER BY id" \
	$'i-1|1767250000,0,0,0,t3.micro,|1767225000,1767225300,1,100,gp2\ni-3|-5,9007199254740993,0,0,c5.xlarge,us-east-1c|1767225600,1767225600,1,8,gp3'
ok "delete a volume" "DELETE FROM acct_volumes WHERE volume_id = 'vol-a'"
wantpack "an empty pack" "$packs WHERE id = 'i-1'" 'i-1|1767250000,0,0,0,t3.micro,|'

echo "== instances inserted after their rows (pack_instance_ins)"
ok "periods and a volume before their instance" "INSERT INTO acct_periods($per_cols) VALUES
	('i-10', 'us-east-1', 'us-east-1b', 'c5.xlarge', 0, 100, NULL, '', 0), ('i-10', 'us-east-1', 'us-east-1b', 'c5.xlarge', 1, 200, 300, 'observed', 1),
	('i-11', 'us-east-1', 'us-east-1b', 'c5.xlarge', 0, 100, NULL, '', 0), ('i-13', 'us-east-1', 'a', 't', 0, 1, NULL, '', 0),
	('i-14', 'us-east-1', 'b', 't', 0, 2, NULL, '', 0), ('i-17', 'us-east-1', 'b', 't', 0, 3, NULL, '', 0);
	INSERT INTO acct_volumes($vol_cols) VALUES ('vol-x', 'i-10', 'us-east-1', 'gp3', 20, 100), ('vol-y', 'i-12', 'us-east-1', 'st1', 500, 7),
	('vol-z', 'i-17', 'us-east-1', 'gp3', 1, 3)"
ok "the instance, packs empty" "INSERT INTO instances($inst_cols) VALUES ('i-10', NULL, NULL, NULL, 'us-east-1', 'c5.xlarge', 'running', 't', 't')"
wantpack "packs picked up" "$packs WHERE id = 'i-10'" 'i-10|100,0,0,0,c5.xlarge,us-east-1b;200,300,1,1,c5.xlarge,us-east-1b|100,0,0,20,gp3'
ok "an instance bringing its packs" "INSERT INTO instances($inst_cols, pack_periods) VALUES ('i-11', NULL, NULL, NULL, 'us-east-1', 'c5.xlarge', 'running', 't', 't', '100,0,0,0,c5.xlarge,us-east-1b')"
ok "an instance bringing only a volume pack" "INSERT INTO instances($inst_cols, pack_volumes) VALUES ('i-17', NULL, NULL, NULL, 'us-east-1', 't', 'running', 't', 't', 'given')"
ok "an instance with only a volume" "INSERT INTO instances($inst_cols) VALUES ('i-12', NULL, NULL, NULL, 'us-east-1', 't', 'running', 't', 't')"
ok "three instances in one statement" "INSERT INTO instances($inst_cols) VALUES ('i-13', NULL, NULL, NULL, 'us-east-1', 't', 'running', 't', 't'),
	('i-14', NULL, NULL, NULL, 'us-east-1', 't', 'running', 't', 't'), ('i-15', NULL, NULL, NULL, 'us-east-1', 't', 'running', 't', 't')"
wantpack "each as SQLite's trigger leaves it" "$packs WHERE id IN ('i-11', 'i-12', 'i-13', 'i-14', 'i-15', 'i-17') ORDER BY id" \
	$'i-11|100,0,0,0,c5.xlarge,us-east-1b|\ni-12||7,0,0,500,st1\ni-13|1,0,0,0,t,a|\ni-14|2,0,0,0,t,b|\ni-15||\ni-17||given'
ok "an existing instance again, DO NOTHING" "INSERT INTO instances($inst_cols) VALUES ('i-10', NULL, NULL, NULL, 'us-east-1', 'x', 'x', 't', 't') ON CONFLICT(id) DO NOTHING"
ok "an existing instance again, DO UPDATE" "INSERT INTO instances($inst_cols) VALUES ('i-10', NULL, NULL, NULL, 'us-east-1', 'c5.xlarge', 'stopped', 't', 't2')
	ON CONFLICT(id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen"
wantpack "its packs unchanged" "$packs WHERE id = 'i-10'" 'i-10|100,0,0,0,c5.xlarge,us-east-1b;200,300,1,1,c5.xlarge,us-east-1b|100,0,0,20,gp3'
ok "period, instance, period in one transaction" "INSERT INTO acct_periods($per_cols) VALUES ('i-20', 'r', 'z', 't', 0, 1, NULL, '', 0);
	INSERT INTO instances($inst_cols) VALUES ('i-20', NULL, NULL, NULL, 'r', 't', 'running', 't', 't');
	INSERT INTO acct_periods($per_cols) VALUES ('i-20', 'r', 'z', 't', 0, 2, NULL, '', 0)"
wantpack "in that order" "$packs WHERE id = 'i-20'" 'i-20|1,0,0,0,t,z;2,0,0,0,t,z|'
ok "the collector's first sighting: rows, then the instance with its packs" "INSERT INTO acct_periods($per_cols) VALUES ('i-21', 'r', 'z', 't', 1, 10, NULL, '', 0);
	INSERT INTO acct_volumes($vol_cols) VALUES ('vol-21', 'i-21', 'r', 'gp3', 8, 10);
	INSERT INTO instances($inst_cols, pack_periods, pack_volumes) VALUES ('i-21', NULL, NULL, NULL, 'r', 't', 'running', 't', 't', '10,0,0,1,t,z', '10,0,0,8,gp3')"
wantpack "as brought" "$packs WHERE id = 'i-21'" 'i-21|10,0,0,1,t,z|10,0,0,8,gp3'
wantpack "every pack" "$packs ORDER BY id" "$(pg_query "$packs ORDER BY id")"
same "every pack, exactly" "$packs ORDER BY id"

echo "== audit (audit_no_update, audit_no_delete)"
ok "four entries" "INSERT INTO audit(at, actor, uid, action, target, decision, reason) VALUES
	('2026-01-01T00:00:00.000000000Z', 'alice', 1001, 'launch', 'r-1', 'allowed', ''),
	('2026-01-01T00:00:01.000000000Z', 'alice', 1001, 'launch', '', 'refused', 'quota'),
	('2026-01-01T00:00:02.000000000Z', 'tollgated', -1, 'reap.stop', 'i-1', 'done', ''),
	('2026-01-01T00:00:03.000000000Z', 'bob', 1002, 'launch', '', 'refused', 'rate')"
want "sequence numbers and defaults" "SELECT seq, actor, decision, detail, count, last_at FROM audit ORDER BY seq" \
	$'1|alice|allowed|{}|1|\n2|alice|refused|{}|1|\n3|tollgated|done|{}|1|\n4|bob|refused|{}|1|'
ok "count refusals again" "UPDATE audit SET count = count + 1, last_at = '2026-01-01T00:00:09.000000000Z' WHERE decision = 'refused'"
msg_upd='audit log is append-only (a refusal may only be counted again)'
msg_del='audit log is append-only (only refusals past their retention may be deleted)'
refused "count an allowed entry" "$msg_upd" "UPDATE audit SET count = count + 1 WHERE decision = 'allowed'"
refused "change a refusal's reason" "$msg_upd" "UPDATE audit SET reason = 'forged', count = count + 1 WHERE decision = 'refused'"
refused "a refusal's count unchanged" "$msg_upd" "UPDATE audit SET last_at = 'x' WHERE seq = 2"
refused "a refusal's count lowered" "$msg_upd" "UPDATE audit SET count = count - 1 WHERE seq = 2"
refused "a refusal turned allowed" "$msg_upd" "UPDATE audit SET decision = 'allowed', count = count + 1 WHERE seq = 2"
refused "a refusal renumbered" "$msg_upd" "UPDATE audit SET seq = 99, count = count + 1 WHERE seq = 2"
refused "a refusal's detail" "$msg_upd" "UPDATE audit SET detail = '{\"x\":1}', count = count + 1 WHERE seq = 2"
refused "every entry at once (some may, some may not)" "$msg_upd" "UPDATE audit SET count = count + 1"
ok "an update of no row" "UPDATE audit SET reason = 'x' WHERE seq = 999"
refused "audit.decision CHECK" "" "INSERT INTO audit(at, actor, uid, action, decision) VALUES ('t', 'a', 1, 'x', 'maybe')"
want "only the allowed update took" "SELECT seq, count, last_at, reason FROM audit ORDER BY seq" \
	$'1|1||\n2|2|2026-01-01T00:00:09.000000000Z|quota\n3|1||\n4|2|2026-01-01T00:00:09.000000000Z|rate'
refused "delete an allowed entry" "$msg_del" "DELETE FROM audit WHERE decision = 'allowed'"
refused "delete everything" "$msg_del" "DELETE FROM audit"
ok "prune old refusals" "DELETE FROM audit WHERE decision = 'refused' AND at < '2026-01-01T00:00:02Z'"
ok "prune the newest entry" "DELETE FROM audit WHERE seq = 4"
want "what is left" "SELECT seq FROM audit ORDER BY seq" $'1\n3'
# Past every number handed out, not necessarily the next: a PostgreSQL sequence also
# spends the numbers of failed inserts (the refused CHECK above), SQLite's does not.
want "sequence numbers are never reused" "INSERT INTO audit(at, actor, uid, action, decision) VALUES ('2026-01-02T00:00:00.000000000Z', 'bob', 1002, 'stop', 'done')
	RETURNING CASE WHEN seq > 4 THEN 'new' ELSE 'reused' END" new
pg_refused "TRUNCATE audit (PostgreSQL only)" 23514 "TRUNCATE audit"
want "after TRUNCATE" "SELECT count(*) FROM audit" 3

echo "== identities, notices, the rest"
iam_cols="\"user\", iam_user, state, created_at, updated_at"
ok "an identity" "INSERT INTO iam_identities($iam_cols) VALUES ('ann', 'tollgate-Ann', 'active', 't', 't')"
refused "iam_user UNIQUE regardless of case" "" "INSERT INTO iam_identities($iam_cols) VALUES ('ann2', 'TOLLGATE-ANN', 'active', 't', 't')"
refused "iam_identities.user PRIMARY KEY" "" "INSERT INTO iam_identities($iam_cols) VALUES ('ann', 'tollgate-ann-2', 'active', 't', 't')"
refused "iam_identities.state CHECK" "" "INSERT INTO iam_identities($iam_cols) VALUES ('ann3', 'tollgate-ann3', 'gone', 't', 't')"
ok "case folding is ASCII only" "INSERT INTO iam_identities($iam_cols) VALUES ('emile', 'tollgate-Émile', 'active', 't', 't'), ('emile2', 'tollgate-émile', 'creating', 't', 't')"
ok "an upsert changing the case of its own iam_user" "INSERT INTO iam_identities($iam_cols) VALUES ('ann', 'tollgate-ANN', 'revoking', 't', 't2')
	ON CONFLICT(\"user\") DO UPDATE SET iam_user = excluded.iam_user, state = excluded.state, updated_at = excluded.updated_at"
want "identities" "SELECT \"user\", iam_user, state, arn, last_rotated FROM iam_identities ORDER BY \"user\"" \
	$'ann|tollgate-ANN|revoking||\nemile|tollgate-Émile|active||\nemile2|tollgate-émile|creating||'
want "lower() on both" "SELECT \"user\" FROM iam_identities WHERE lower(iam_user) = lower('TOLLGATE-ann')" ann
want "a key intent id" "INSERT INTO iam_key_intents(\"user\", iam_user, rotate, created_at) VALUES ('ann', 'tollgate-ANN', 1, 't') RETURNING id" 1
want "key intent defaults" "SELECT id, \"user\", rotate, prior_keys, new_key FROM iam_key_intents" '1|ann|1|[]|'
notice="INSERT INTO notices(\"user\", at, kind, ref, message) VALUES ('bob', 't', 'lease', 'i-1@e', 'expires soon') ON CONFLICT(\"user\", kind, ref) DO NOTHING"
ok "a notice, twice" "$notice; $notice"
refused "notices UNIQUE" "" "INSERT INTO notices(\"user\", at, kind, ref, message) VALUES ('bob', 't', 'lease', 'i-1@e', 'again')"
want "one unread notice" "SELECT id, message FROM notices WHERE \"user\" = 'bob' AND read = 0" '1|expires soon'
ok "an action, a pool, a region, a run, a host key, spot prices, a region run, a missing instance" "
	INSERT INTO instance_actions(instance_id, region, action, audit_action, actor, uid, prev_state, created_at) VALUES ('i-1', 'us-east-1', 'stop', 'reap.stop', 'tollgated', -1, 'running', 't');
	INSERT INTO balancer_pools(name) VALUES ('pool');
	INSERT INTO service_regions(service, region) VALUES ('mirror', 'us-east-1');
	INSERT INTO service_runs(service, region, started_at, status) VALUES ('mirror', 'us-east-1', 't', 'running');
	INSERT INTO host_keys(instance_id, keys, source, pinned_at) VALUES ('i-1', 'ssh-ed25519 AAAA', 'console', 't');
	INSERT INTO acct_spot_prices(region, type, az, at_s, price) VALUES ('us-east-1', 't3.micro', 'us-east-1a', 100, 0.0031), ('us-east-1', 't3.micro', 'us-east-1a', 200, 0.0035);
	INSERT INTO acct_spot_prices(region, type, az, at_s, price) VALUES ('us-east-1', 't3.micro', 'us-east-1a', 100, 9) ON CONFLICT DO NOTHING;
	INSERT INTO acct_region_runs(region, ok, first_s, last_s) VALUES ('us-east-1', 1, 100, 100);
	INSERT INTO acct_missing(instance_id, region, last_seen_s) VALUES ('i-1', 'us-east-1', 100)"
refused "instance_actions.action CHECK" "" "INSERT INTO instance_actions(instance_id, region, action, audit_action, actor, uid, prev_state, created_at) VALUES ('i-1', 'r', 'reboot', 'x', 'x', 1, 'x', 't')"
refused "instance_actions.state CHECK" "" "INSERT INTO instance_actions(instance_id, region, action, audit_action, actor, uid, prev_state, created_at, state) VALUES ('i-1', 'r', 'stop', 'x', 'x', 1, 'x', 't', 'lost')"
refused "service_runs.status CHECK" "" "INSERT INTO service_runs(service, region, started_at, status) VALUES ('mirror', 'r', 't', 'crashed')"
refused "host_keys.source CHECK" "" "INSERT INTO host_keys(instance_id, keys, source, pinned_at) VALUES ('i-2', 'k', 'dns', 't')"
want "defaults elsewhere" "SELECT a.id, a.state, a.result, p.region, p.paused, p.override_min, p.override_max, r.step, s.exit_code, CASE WHEN s.instance_seconds = 0 THEN 1 ELSE 0 END, rr.runs, rr.instances, rr.error
	FROM instance_actions a, balancer_pools p, service_regions r, service_runs s, acct_region_runs rr" '1|requested|||0|-1|-1||-1|1|1|0|'
want "spot prices" "SELECT at_s, CASE WHEN price > 0.003 AND price < 0.004 THEN 1 ELSE 0 END FROM acct_spot_prices ORDER BY at_s" $'100|1\n200|1'

# ---------------------------------------------------------------------------------------
echo "== PostgreSQL \\d"
"$psql_bin" -X -h "$work" -U postgres -d "$pgdb" -c '\d'
if [ "${CHECK_VERBOSE:-}" = 1 ]; then
	for t in $(pg_query "SELECT relname FROM pg_class c WHERE $pg_tables ORDER BY relname"); do
		"$psql_bin" -X -h "$work" -U postgres -d "$pgdb" -c "\\d $t"
	done
fi

echo "== summary"
echo "packs: $packs_exact identical on both engines, $packs_reordered with the same items in another order"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
