#!/usr/bin/env bash
# curl as a resuming SSE subscriber: curl moves the bytes, this loop is the EventSource. It
# parses the stream as the WHATWG spec says (fields, comments, dispatch on a blank line, the
# last event id kept across events and reconnects, retry:), sends Last-Event-ID on each
# reconnect and waits the server's retry: between attempts. Records the same lines as
# Scripts/clients/record.py; curl's own messages go to RECORD_FILE.curl, the last answer's
# head to RECORD_FILE.head (a 204, the spec's "stop reconnecting", ends the loop).
#
# curl needs -N (or it buffers what it writes into a pipe) and --fail (or a proxy's 502 page
# is read as the stream, and the exit status is 0); it does not check the Content-Type.
# Usage: sub_curl.sh STREAM_URL RECORD_FILE
set -uo pipefail
url=$1 record=$2
exec 3>>"$record"
last="" retry=3000 curl_pid=""
fifo=$record.fifo
rm -f "$fifo"; mkfifo "$fifo"
trap '[ -z "$curl_pid" ] || kill "$curl_pid" 2>/dev/null; rm -f "$fifo"; exit 0' TERM INT
while :; do
    args=(-sS -N --fail --connect-timeout 5 -H 'Accept: text/event-stream' -H 'Cache-Control: no-cache')
    [ -z "$last" ] || args+=(-H "Last-Event-ID: $last")
    opened=0 id=$last data="" have_data=0
    curl "${args[@]}" --dump-header "$record.head" "$url" > "$fifo" 2>>"$record.curl" &
    curl_pid=$!
    while IFS= read -r line; do
        [ "$opened" = 1 ] || { echo "open $EPOCHREALTIME" >&3; opened=1; }
        line=${line%$'\r'}
        case $line in
            "")                                    # dispatch
                last=$id
                if [ "$have_data" = 1 ]; then
                    if [[ $data == "{\"id\":$id,"* ]]; then echo "id $id $EPOCHREALTIME" >&3
                    else echo "bad $id $EPOCHREALTIME ${data:0:80}" >&3; fi
                fi
                data="" have_data=0 ;;
            :*) ;;                                 # a comment (":keepalive")
            *)
                field=${line%%:*} value=""
                [ "$field" = "$line" ] || { value=${line#*:}; value=${value# }; }
                case $field in
                    id) id=$value ;;
                    data) if [ "$have_data" = 1 ]; then data+=$'\n'$value; else data=$value have_data=1; fi ;;
                    retry) [[ $value =~ ^[0-9]+$ ]] && { retry=$value; echo "retry $retry" >&3; } ;;
                esac ;;
        esac
    done < "$fifo"
    wait "$curl_pid"; rc=$?
    curl_pid=""
    echo "end $EPOCHREALTIME curl exit $rc" >&3
    if [ "$rc" = 0 ] && head -n 1 "$record.head" | grep -q '^HTTP/[0-9.]* 204'; then
        echo "end $EPOCHREALTIME 204: the server says stop" >&3   # --fail lets a 2xx through
        rm -f "$fifo"; exit 0
    fi
    sleep "$((retry / 1000)).$(printf %03d $((retry % 1000)))" & wait $!   # a TERM cuts the wait short
done
