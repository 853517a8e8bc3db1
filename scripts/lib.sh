# Shared by scripts/run and scripts/test: packages, build, private services.
# Sourced, not run. Every function prints one line per step it takes.

KERYU_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages Keryu needs to build, run and test.
KERYU_PACKAGES=(
	build-essential cmake pkg-config clang
	libmosquitto-dev mosquitto mosquitto-clients
	libpq-dev postgresql postgresql-client
	libcurl4-openssl-dev libqrencode-dev libpng-dev libcjson-dev
	libmicrohttpd-dev uuid-dev libinih-dev libsodium-dev libssl-dev libjwt-dev
	libcmocka-dev zbar-tools curl python3 procps iproute2 gettext
)
# Only the test suite needs these: a browser and Node.js for playwright-core,
# and a JSON Schema validator for the OpenAPI conformance test.
KERYU_TEST_PACKAGES=(chromium fonts-dejavu-core nodejs python3-jsonschema)
# Only bench/run needs these: the load generator and a static server to
# compare the scan page with.
KERYU_BENCH_PACKAGES=(wrk nginx)

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs what is missing, with one `apt-get update` first.
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "packages: all ${#@} present"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root to install them"
	say "packages: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install failed"
}

# build DIR [cmake args...]
build() {
	local dir=$1
	shift
	say "build: $dir $*"
	cmake -S "$KERYU_ROOT" -B "$dir" "$@" >/dev/null || die "cmake configure failed"
	cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1 ||
		{ tail -n 40 "$dir/build.log"; die "build failed (log: $dir/build.log)"; }
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# A folder for a service's data that the service's own user can reach.
# PostgreSQL refuses to run as root and the checkout may sit under a folder
# closed to others (/root): then the data lives under /var/tmp and ./var/NAME
# is a link to it, so ./var stays the one place to look.
service_dir() {
	local want=$1 user=$2 alt
	mkdir -p "$(dirname "$want")"
	if [ -L "$want" ]; then
		readlink -f "$want"
		return
	fi
	mkdir -p "$want"
	if su -s /bin/sh "$user" -c "test -w '$want' -o -O '$want'" 2>/dev/null ||
		{ chown "$user:" "$want" && su -s /bin/sh "$user" -c "test -w '$want'" 2>/dev/null; }; then
		echo "$want"
		return
	fi
	alt=/var/tmp/keryu-$(printf '%s' "$(dirname "$want")" | sha1sum | cut -c1-12)/$(basename "$want")
	mkdir -p "$alt"
	chown "$user:" "$alt" "$(dirname "$alt")"
	rmdir "$want" 2>/dev/null
	ln -sfn "$alt" "$want"
	echo "$alt"
}

# pg_start DATADIR PORT SUPERUSER [PWFILE]: creates the cluster on first use.
pg_start() {
	local data=$1 port=$2 superuser=$3 pwfile=${4:-} bin auth
	bin=$(pg_bin)
	[ -n "$bin" ] || die "PostgreSQL is not installed"
	chown postgres: "$data"
	chmod 700 "$data"
	if [ ! -f "$data/PG_VERSION" ]; then
		say "postgres: initdb $data"
		if [ -n "$pwfile" ]; then
			chown postgres: "$pwfile"
			auth="--auth-local=scram-sha-256 --auth-host=scram-sha-256 --pwfile=$pwfile"
		else
			auth="--auth=trust"
		fi
		su -s /bin/sh postgres -c "'$bin/initdb' -D '$data' -U '$superuser' -E UTF8 \
			--locale=C $auth" >"$data/../postgres-initdb.log" 2>&1 ||
			die "initdb failed (see $data/../postgres-initdb.log)"
	fi
	if su -s /bin/sh postgres -c "'$bin/pg_ctl' -D '$data' status" >/dev/null 2>&1; then
		say "postgres: already running on port $port"
		return 0
	fi
	say "postgres: starting on 127.0.0.1:$port"
	su -s /bin/sh postgres -c "'$bin/pg_ctl' -D '$data' -w -t 60 -l '$data/postgres.log' \
		-o \"-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$data' \
		-c fsync=${KERYU_PG_FSYNC:-on}\" start" >/dev/null ||
		{ tail -n 20 "$data/postgres.log"; die "postgres did not start"; }
}

pg_stop() {
	local data=$1 bin
	bin=$(pg_bin)
	[ -f "$data/postmaster.pid" ] || return 0
	su -s /bin/sh postgres -c "'$bin/pg_ctl' -D '$data' -m fast -w stop" >/dev/null 2>&1 || true
}

# mosquitto_start DIR PORT [extra config lines]: a private broker on loopback.
mosquitto_start() {
	local dir=$1 port=$2 extra=${3:-}
	mkdir -p "$dir/data"
	chown -R mosquitto: "$dir"
	if [ -f "$dir/mosquitto.pid" ] && kill -0 "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
		say "mosquitto: already running on port $port"
		return 0
	fi
	cat >"$dir/mosquitto.conf" <<CONF
# Written by scripts/lib.sh; edits are overwritten.
per_listener_settings false
listener $port 127.0.0.1
set_tcp_nodelay true
pid_file $dir/mosquitto.pid
persistence true
persistence_location $dir/data/
autosave_interval 30
# a channel worker that is away keeps its share of a burst queued here
max_queued_messages 100000
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
$extra
CONF
	say "mosquitto: starting on 127.0.0.1:$port"
	mosquitto -d -c "$dir/mosquitto.conf" || die "mosquitto did not start"
	wait_port "$port" 10 || { tail -n 20 "$dir/mosquitto.log"; die "mosquitto is not listening on $port"; }
}

mosquitto_stop() {
	local dir=$1 pid
	[ -f "$dir/mosquitto.pid" ] || return 0
	pid=$(cat "$dir/mosquitto.pid")
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}

# wait_port PORT SECONDS: true once something listens on 127.0.0.1:PORT.
wait_port() {
	local i
	for i in $(seq $(($2 * 10))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# A free TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Node.js packages of the browser tests (playwright-core; no browser download).
install_node_modules() {
	command -v npm >/dev/null || install_packages npm
	say "npm: installing tests/browser dependencies"
	(cd "$KERYU_ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		die "npm ci failed in tests/browser"
}
