#!/bin/bash
# t_serve_security.sh - the security model of `uzram serve` (docs/security.md):
#   - every socket it makes is 0600; the default socket directory is made
#     0700, and one it did not make safely (writable by others, another
#     owner's, a symlink) is refused (as an unprivileged user, when root
#     can switch to one with setpriv);
#   - TCP listens on 127.0.0.1 unless an address is given, and warns when
#     it listens elsewhere without --tls=require;
#   - attributes that name a file (backing_dev, algorithm_params dict=) are
#     refused (EPERM) from the control socket and the FUSE tree unless the
#     file lies below an --allow-path directory, symlinks resolved;
#   - --pidfile never follows a symlink (a planted link would make the
#     server overwrite its target);
#   - at the end, the server removes its socket files only where they still
#     are its sockets: a file put in a socket's place, or a directory put
#     (renamed, symlinked) where the sockets' directory was, is left alone,
#     and the sockets are removed where they really are;
#   - uzram ctl refuses a default socket directory the server would refuse;
#   - uzram ctl spends on a reply what the server sends, not what its
#     header claims (a "server" claiming 1 GiB and sending 10 bytes);
#   - --read-only: exports answer writes, trims and zeroes with EPERM and
#     advertise READ_ONLY; the FUSE disk refuses writes (EROFS); attribute
#     stores are still the owner's (the control plane is not read-only).
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdinfo nbdsh

echo "== sockets are 0600"
start_server --size 16M --devices 2 --listen 127.0.0.1:0
for s in "$SOCK" "$CTL"; do
	[ "$(stat -c %a "$s")" = 600 ] || fail "$s has mode $(stat -c %a "$s")"
done

echo "== --pidfile: a symlink is refused, its target untouched"
echo precious >"$T/target"
ln -s "$T/target" "$T/pid.link"
if out=$(timeout 10 "$UZRAM" serve --size 16M --socket "$T/p.sock" --control "$T/p.ctl" \
		--pidfile "$T/pid.link" 2>&1); then
	fail "serve started with a symlinked --pidfile"
fi
echo "$out" | grep -q "pidfile.*symbolic link" || fail "no message about the symlink: $out"
[ "$(cat "$T/target")" = precious ] || fail "the symlink's target was overwritten"
[ ! -e "$T/p.sock" ] || fail "socket left behind after the refused start"

echo "== sockets are removed where they are, and only if they are still ours"
mkdir -p "$T/sd" "$T/victim"
echo keep >"$T/victim/nbd.sock"
echo keep >"$T/victim/ctl.sock"
"$UZRAM" serve --size 16M --socket "$T/sd/nbd.sock" --control "$T/sd/ctl.sock" 2>"$T/sd.log" &
sd_pid=$!
for _ in $(seq 100); do [ -S "$T/sd/nbd.sock" ] && [ -S "$T/sd/ctl.sock" ] && break; sleep 0.05; done
[ -S "$T/sd/ctl.sock" ] || fail "no sockets in $T/sd: $(cat "$T/sd.log")"
mv "$T/sd" "$T/sd.moved"		# the directory renamed ...
ln -s "$T/victim" "$T/sd"		# ... and a symlink to other files in its place
kill -TERM $sd_pid
wait $sd_pid || fail "serve exited $? after SIGTERM: $(cat "$T/sd.log")"
[ "$(cat "$T/victim/nbd.sock" "$T/victim/ctl.sock")" = "keep
keep" ] || fail "files behind a symlinked socket directory were removed"
[ ! -e "$T/sd.moved/nbd.sock" ] && [ ! -e "$T/sd.moved/ctl.sock" ] ||
	fail "the sockets in the renamed directory were left behind: $(ls "$T/sd.moved")"
rm "$T/sd"
mkdir "$T/sd"
"$UZRAM" serve --size 16M --socket "$T/sd/nbd.sock" --control "$T/sd/ctl.sock" 2>"$T/sd.log" &
sd_pid=$!
for _ in $(seq 100); do [ -S "$T/sd/nbd.sock" ] && [ -S "$T/sd/ctl.sock" ] && break; sleep 0.05; done
[ -S "$T/sd/ctl.sock" ] || fail "no sockets in $T/sd: $(cat "$T/sd.log")"
rm "$T/sd/nbd.sock"; echo keep >"$T/sd/nbd.sock"	# another file in a socket's place
kill -TERM $sd_pid
wait $sd_pid || fail "serve exited $? after SIGTERM: $(cat "$T/sd.log")"
[ "$(cat "$T/sd/nbd.sock")" = keep ] || fail "a file put in the NBD socket's place was removed"
[ ! -e "$T/sd/ctl.sock" ] || fail "control socket left behind"
rm -r "$T/sd" "$T/sd.moved" "$T/victim"

echo "== ctl: a reply's claimed length is not allocated up front"
if [ -z "${SAN:-}" ]; then
	"$PY" - "$T/liar.sock" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept(); c.recv(4096)
c.sendall(b"ok 1073741824\n" + b"x" * 10); c.close()
PYEOF
	liar=$!
	for _ in $(seq 100); do [ -e "$T/liar.sock.ready" ] && break; sleep 0.05; done
	out=$( (ulimit -v 262144; timeout 10 "$UZRAM" ctl --control "$T/liar.sock" zram0 mm_stat) 2>&1)
	rc=$?
	wait $liar
	[ $rc != 0 ] || fail "ctl accepted a short reply: $out"
	[[ $out != *"Cannot allocate memory"* ]] || fail "ctl allocated the claimed 1 GiB: $out"
	echo "refused: $out"
fi

echo "== TCP: 127.0.0.1 unless an address is given"
grep -q "NBD on tcp 127.0.0.1:" "$T/server.log" || fail "not on 127.0.0.1: $(cat "$T/server.log")"
grep -q "warning" "$T/server.log" && fail "a warning for a loopback listener"
port=$(server_tcp_port)
"$PY" - "$port" <<'EOF' || fail "TCP bound beyond 127.0.0.1"
import sys
port = int(sys.argv[1])
for line in open("/proc/net/tcp").read().splitlines()[1:]:
    local, state = line.split()[1], line.split()[3]
    addr, p = local.split(":")
    if int(p, 16) == port and state == "0A":
        assert addr == "0100007F", "listening on %s" % addr
        sys.exit(0)
sys.exit("no listener on port %d" % port)
EOF
stop_server
out=$(timeout 5 "$UZRAM" serve --socket "$T/w.sock" --control "$T/w.ctl" --listen 0.0.0.0:0 --size 0 2>&1 </dev/null &
	pid=$!; sleep 0.5; kill $pid; wait $pid)
[[ $out == *"warning: NBD on 0.0.0.0 without --tls=require"* ]] || fail "no warning for 0.0.0.0: $out"

echo "== paths in attributes: refused without --allow-path, allowed below it"
mkdir -p "$T/allowed" "$T/elsewhere"
truncate -s 16M "$T/allowed/bd.img" "$T/elsewhere/bd.img"
head -c 4096 /dev/urandom >"$T/allowed/dict"
cp "$T/allowed/dict" "$T/elsewhere/dict"
ln -s "$T/elsewhere/bd.img" "$T/allowed/link.img"
start_server --size 16M --devices 2
ctl_request store zram1 comp_algorithm zstd >/dev/null || fail "comp_algorithm zstd"
expect_err() {	# ERRNO DEV ATTR VALUE
	local out
	out=$(ctl_request store "$2" "$3" "$4") && fail "store $3='$4' succeeded"
	[[ $out == "err $1 "* ]] || fail "store $3='$4': '$out', expected errno $1"
}
expect_err 1 zram1 backing_dev "$T/allowed/bd.img"
expect_err 1 zram1 algorithm_params "algo=zstd dict=$T/allowed/dict"
expect_err 2 zram1 backing_dev "$T/nonexistent"		# ENOENT, as before
stop_server
start_server --size 16M --devices 2 --allow-path "$T/allowed"
ctl_request store zram1 backing_dev "$T/allowed/bd.img" >/dev/null || fail "backing_dev below --allow-path"
[ "$(ctl_request show zram1 backing_dev)" = "$T/allowed/bd.img" ] || fail "backing_dev not set"
expect_err 1 zram1 backing_dev "$T/elsewhere/bd.img"
expect_err 1 zram1 backing_dev "$T/allowed/link.img"	# a symlink out of the directory
expect_err 1 zram1 backing_dev "$T/allowed/../elsewhere/bd.img"
ctl_request store zram1 comp_algorithm zstd >/dev/null || fail "comp_algorithm zstd"
ctl_request store zram1 algorithm_params "algo=zstd dict=$T/allowed/dict" >/dev/null ||
	fail "dict= below --allow-path"
expect_err 1 zram1 algorithm_params "algo=zstd dict=$T/elsewhere/dict"
stop_server

if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v mountpoint >/dev/null; then
	echo "== the FUSE tree: the same refusals"
	mkdir -p "$T/mnt"
	start_server --size 16M --devices 2 --mount "$T/mnt" --read-only
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.05; done
	mountpoint -q "$T/mnt" || fail "the FUSE tree is not mounted"
	if echo "$T/allowed/bd.img" 2>/dev/null >"$T/mnt/zram1/backing_dev"; then
		fail "backing_dev stored through FUSE without --allow-path"
	fi
	out=$( (echo "$T/allowed/bd.img" >"$T/mnt/zram1/backing_dev") 2>&1)
	[[ $out == *"Operation not permitted"* ]] || fail "FUSE backing_dev: '$out'"
	echo "== --read-only through FUSE: the disk refuses writes, attributes do not"
	out=$( (dd if=/dev/zero of="$T/mnt/zram0/disk" bs=4096 count=1 conv=notrunc) 2>&1) &&
		fail "wrote to a read-only disk"
	[[ $out == *"Read-only file system"* ]] || fail "read-only disk write: '$out'"
	echo 8M >"$T/mnt/zram1/disksize" || fail "attribute store on a --read-only server"
	stop_server
	for _ in $(seq 50); do mountpoint -q "$T/mnt" || break; sleep 0.1; done
	mountpoint -q "$T/mnt" && fail "FUSE tree left mounted"
else
	echo "(FUSE checks skipped: not root or no /dev/fuse)"
fi

echo "== --read-only exports: EPERM for writes, trims and zeroes"
start_server --size 16M --read-only
[ "$(nbdinfo --json "$URI" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["exports"][0]["is_read_only"])')" = True ] ||
	fail "READ_ONLY not advertised"
$NBDSH -u "$URI" -c '
h.set_strict_mode(0)
for name, f in (("write", lambda: h.pwrite(b"x" * 4096, 0)), ("trim", lambda: h.trim(4096, 0)),
                ("zero", lambda: h.zero(4096, 0)), ("write FUA", lambda: h.pwrite(b"x" * 512, 0, nbd.CMD_FLAG_FUA))):
    try:
        f()
        raise SystemExit(name + " succeeded on a read-only export")
    except nbd.Error as e:
        assert e.errno == "EPERM", (name, e.errno)
assert h.pread(4096, 0) == bytes(4096)
' || fail "read-only export"
stop_server

echo "== the default socket directory: made 0700, refused when unsafe"
XDG=$T/xdg
mkdir -p "$XDG"
runas=()
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		runas=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		chmod 0711 "$T"
		chown 65534:65534 "$XDG"
	else
		echo "(skipped: root without setpriv; /run/uzram is checked the same way)"
		echo "PASS"
		exit 0
	fi
fi
chmod 0700 "$XDG"
default_serve() {	# run the server on its default paths; prints its log
	local pid out
	XDG_RUNTIME_DIR=$XDG "${runas[@]}" "$UZRAM" serve --size 8M 2>"$T/d.log" </dev/null &
	pid=$!
	for _ in $(seq 60); do [ -S "$XDG/uzram/control.sock" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	if kill -0 $pid 2>/dev/null; then
		stat -c %a "$XDG/uzram" "$XDG/uzram/nbd.sock" "$XDG/uzram/control.sock" | tr '\n' ' ' >"$T/modes"
		kill -TERM $pid
	fi
	wait $pid
	echo "rc=$?"
	cat "$T/d.log"
}
out=$(default_serve)
[[ $out == rc=0* ]] || fail "default paths: $out"
[ "$(cat "$T/modes")" = "700 600 600 " ] || fail "default directory and socket modes: $(cat "$T/modes")"
[ ! -e "$XDG/uzram/nbd.sock" ] || fail "default socket left behind"
chmod 0777 "$XDG/uzram"
out=$(default_serve)
[[ $out == *"refusing to put sockets there"* ]] || fail "a 0777 socket directory was used: $out"
echo "$out" | grep refusing
# uzram ctl trusts the default directory as the server does (issue 20):
# a socket there, in a directory others may write, is not spoken to.
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$XDG/uzram/control.sock"
out=$(XDG_RUNTIME_DIR=$XDG "${runas[@]}" "$UZRAM" ctl 2>&1) && fail "ctl used a socket in a 0777 directory: $out"
[[ $out == *"refusing to trust a control socket there"* ]] || fail "ctl in a 0777 directory: $out"
echo "$out"
rm -f "$XDG/uzram/control.sock"
rmdir "$XDG/uzram"
mkdir "$T/elsewhere/sockdir"
[ ${#runas[@]} -gt 0 ] && chown 65534:65534 "$T/elsewhere/sockdir"
chmod 0700 "$T/elsewhere/sockdir"
ln -s "$T/elsewhere/sockdir" "$XDG/uzram"
out=$(default_serve)
[[ $out == *"refusing to put sockets there"* ]] || fail "a symlinked socket directory was used: $out"
rm "$XDG/uzram"
if [ ${#runas[@]} -gt 0 ]; then
	mkdir -m 0700 "$XDG/uzram"	# root's, not the server's user's
	out=$(default_serve)
	[[ $out == *"refusing to put sockets there"* ]] || fail "another user's directory was used: $out"
fi
echo "PASS"
