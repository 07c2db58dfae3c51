# Sourced by the benchmark scripts: a work folder, and Herald or nchan (Debian's nginx with
# libnginx-mod-nchan, one worker, Benchmarks/nchan.conf.in) started fresh on a free loopback
# port. Needs $herald (the binary) set; sets $port, $server_pid and $measured_pid (the process
# whose CPU and memory are measured: Herald itself, or nginx's one worker). Everything started
# here is stopped on exit.
work=$(mktemp -d "/tmp/herald-${BENCH_NAME:-bench}.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"   # the servers (and clients) inherit it: 10,000 connections need more than 1024
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }

server_pid=""; measured_pid=""; port=""
start_nchan() {
    port=$(free_port)
    rm -rf "$work/nginx"; mkdir -p "$work/nginx"
    sed -e "s|@WORK@|$work/nginx|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER@|$([ "$(id -u)" = 0 ] && echo 'user root;')|" Benchmarks/nchan.conf.in > "$work/nginx/nginx.conf"
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" > "$work/nginx/stdout.log" 2>&1 &
    server_pid=$!; pids+=("$server_pid")
    wait_port "$port"
    # The one worker does the work; the master only supervises it.
    measured_pid=$(cat "/proc/$server_pid/task/$server_pid/children" | awk '{print $1}')
}
start_herald() {  # $1: mqtt URL, or "none" (the default)
    port=$(free_port)
    rm -f "$work"/herald.sqlite*
    # The shipped defaults: loopback clients meet only the total limits (10,000 streams).
    "$herald" serve --listen "127.0.0.1:$port" --db "$work/herald.sqlite" --mqtt "${1:-none}" \
        --log-level warning > "$work/herald.log" 2>&1 &
    server_pid=$!; pids+=("$server_pid")
    wait_port "$port"
    measured_pid=$server_pid
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
