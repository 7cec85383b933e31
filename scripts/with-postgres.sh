#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]: runs CMD with a throw-away PostgreSQL server, for the
# tests that run on both storage engines. The cluster lives in a temporary directory,
# listens on a unix socket there and on no TCP port at all, and is stopped and deleted
# when CMD ends (also on failure or a signal). CMD sees TOLLGATE_TEST_POSTGRES, a
# superuser URL of the server's "postgres" database; the script exits with CMD's status.
# If TOLLGATE_TEST_POSTGRES is already set, CMD just runs against that server.
#
# Run as root (CI), it installs Debian's postgresql when the server is missing, and runs
# the server as the postgres system user: initdb refuses to run as root.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi
if [ -n "${TOLLGATE_TEST_POSTGRES:-}" ]; then
	exec "$@"
fi

bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/postgres" ]; then
		pg_config --bindir
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/postgres" ]; then
			echo "$d"
			return
		fi
	done
}

bin=$(bindir)
if [ -z "$bin" ] && [ "$(id -u)" = 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	bin=$(bindir)
fi
if [ -z "$bin" ]; then
	echo "PostgreSQL server binaries not found: install Debian's postgresql (apt-get install postgresql)" >&2
	exit 1
fi

# As root, the server runs as an unprivileged user.
run=()
owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
	owner=postgres
	if ! id "$owner" >/dev/null 2>&1; then
		owner=tollgate-pg
		id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
	fi
	run=(runuser -u "$owner" --)
fi

dir=$(mktemp -d /tmp/tollgate-pg.XXXXXX)
chmod 0755 "$dir"
chown "$owner" "$dir"
stop() {
	"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

"${run[@]}" "$bin/initdb" -D "$dir/data" --auth=trust -U postgres --locale=C -E UTF8 >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}
# A test server: no durability needed, room for two daemons and 200 concurrent requests.
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-c listen_addresses='' \
	-c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
	-c max_connections=300 -c shared_buffers=128MB" start >/dev/null || {
	cat "$dir/server.log" >&2
	exit 1
}
export TOLLGATE_TEST_POSTGRES="postgres:///postgres?host=$dir&user=postgres&sslmode=disable"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on unix socket $dir" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
