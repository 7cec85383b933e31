#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]: runs CMD with a throw-away PostgreSQL server, for the
# tests that run on both storage engines. CMD sees TOLLGATE_TEST_POSTGRES, a superuser
# URL of the server's "postgres" database over its unix socket; the cluster is stopped
# and deleted when CMD ends (also on failure or a signal: Ctrl-C reaches CMD first, and
# a signal sent to this script alone takes effect when CMD exits), and the script exits
# with CMD's status. If TOLLGATE_TEST_POSTGRES is already set, CMD just runs against
# that server.
#
# The cluster is for tests: trust authentication, no TCP at all (listen_addresses=''),
# no durability (fsync, synchronous_commit and full_page_writes off). Its directory,
# which holds the socket, is private (0700) to the user the server runs as: with trust
# authentication anyone who reaches the socket is superuser, and a superuser can run
# programs as that user. Root reaches it anyway. As root (CI), the server runs as the
# postgres system user (initdb refuses root), and Debian's postgresql is installed when
# no server is found.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi
if [ -n "${TOLLGATE_TEST_POSTGRES:-}" ]; then
	exec "$@"
fi

me="with-postgres"
port=5432 # the socket's name; there is no TCP listener

# bindir prints the directory of the newest PostgreSQL server binaries, or fails.
bindir() {
	local dir
	if command -v pg_config >/dev/null 2>&1; then
		# libpq-dev's pg_config names /usr/bin, which has psql but no server.
		dir="$(pg_config --bindir 2>/dev/null || true)"
		if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
			echo "$dir"
			return 0
		fi
	fi
	for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

root=false
if [ "$(id -u)" = 0 ]; then
	root=true
fi

if ! bin="$(bindir)"; then
	if $root; then
		echo "$me: no PostgreSQL server found; installing Debian's postgresql" >&2
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
	fi
	if ! bin="$(bindir)"; then
		echo "$me: PostgreSQL server binaries not found: install Debian's postgresql (apt-get install postgresql)" >&2
		exit 1
	fi
fi

# as_server runs its arguments as the user the server runs as.
as_server=()
if $root; then
	user=postgres
	if ! id -u "$user" >/dev/null 2>&1; then
		user=tollgate-pg
		if ! id -u "$user" >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
		fi
	fi
	as_server=(runuser -u "$user" --)
fi

# The socket's path must fit in sun_path (107 bytes) and go into a URL unquoted. As
# root, the server's user must reach the directory through every parent: /tmp it is.
tmp="${TMPDIR:-/tmp}"
if $root || [ "${#tmp}" -gt 64 ] || [[ "$tmp" == *[!A-Za-z0-9/._-]* ]]; then
	tmp=/tmp
fi
base="$(mktemp -d "$tmp/tollgate-pg.XXXXXX")"
data="$base/data"
log="$base/server.log"

cleanup() {
	local status=$?
	trap - EXIT INT TERM HUP
	if [ -f "$data/postmaster.pid" ]; then
		(cd "$base" && "${as_server[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1) || true
	fi
	rm -rf "$base"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -m 0700 "$data"
if $root; then
	chown -R "$user:" "$base"
fi

# The server's user may not be able to enter the caller's working directory.
cd "$base"
if ! "${as_server[@]}" "$bin/initdb" -D "$data" --auth=trust -U postgres --locale=C -E UTF8 --no-sync >"$base/initdb.log" 2>&1; then
	echo "$me: initdb failed:" >&2
	cat "$base/initdb.log" >&2
	exit 1
fi
# Appended as whoever runs this script: the file keeps its owner.
cat >>"$data/postgresql.conf" <<EOF

# with-postgres.sh: a throw-away cluster for tests.
listen_addresses = ''
port = $port
unix_socket_directories = '$base'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 128MB
EOF

"${as_server[@]}" "$bin/pg_ctl" -D "$data" -l "$log" -W start >/dev/null
deadline=$((SECONDS + 60))
until "$bin/pg_isready" -q -h "$base" -p "$port" -d postgres -U postgres; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "$me: the server did not answer within 60s; its log ($log):" >&2
		cat "$log" >&2 || true
		exit 1
	fi
	sleep 0.2
done
cd "$OLDPWD"

export TOLLGATE_TEST_POSTGRES="postgres:///postgres?host=$base&user=postgres&sslmode=disable"
echo "$me: $("$bin/postgres" --version) in $base (socket only), TOLLGATE_TEST_POSTGRES=$TOLLGATE_TEST_POSTGRES" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
