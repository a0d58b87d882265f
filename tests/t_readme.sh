#!/bin/bash
# t_readme.sh - the README's quick start and recipes, run as written.
#
# Every ```sh block the README marks with <!-- recipe: NAME ... --> runs in
# its own bash -e, as root, in private mount and PID namespaces (unshare
# -m -p: what a failed recipe leaves running dies with it) where
# /run/uzram, /mnt and a scratch working directory are fresh tmpfs mounts:
# the recipes' paths are the real defaults, and nothing they mount outlives
# them. `uzram` is this build's. After a line that starts `uzram serve ...
# &`, the test waits as a person would before typing on: until `uzram ctl`
# answers, and until the --mount directory, if any, is mounted. Lines whose
# command starts with a word the marker lists after "not run:" are shown,
# not run (they need what this machine has not: a kernel module, a bootable
# image; the README says where they are run instead); a recipe marked "vm"
# is run by `make vmcheck`, not here. A recipe passes when every line
# succeeds, its server exits and no loop device is left on its files.
set -u
UZRAM=${UZRAM:?}
SRC=${UZRAM_SRCDIR:-.}
README=$SRC/README.md
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "SKIP: the recipes are written for root"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare is missing"; exit 77; }
[ -e /dev/fuse ] || { echo "SKIP: /dev/fuse is missing"; exit 77; }

T=$(mktemp -d /tmp/uzram-readme.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/bin"
ln -s "$(realpath "$UZRAM")" "$T/bin/uzram"

# recipes.py: README -> one script per recipe ($T/NAME.sh), names on stdout
/usr/bin/python3 - "$README" "$T" <<'PY' >"$T/list" || fail "cannot read the recipes of $README"
import re, sys
readme, out = sys.argv[1], sys.argv[2]
text = open(readme).read()
pat = re.compile(r'<!-- recipe: ([\w-]+)([^>]*)-->\s*```sh\n(.*?)```', re.S)
found = 0
for m in pat.finditer(text):
    name, opts, body = m.group(1), m.group(2), m.group(3)
    found += 1
    if re.search(r'(^|;)\s*vm\b', opts):
        print(name, "vm")
        continue
    skip = []
    nr = re.search(r'not run:\s*([^;]*)', opts)
    if nr:
        skip = [w.strip() for w in nr.group(1).split(',') if w.strip()]
    lines = ["set -e", "cd \"$WORK\""]
    for line in body.splitlines():
        cmd = line.split('#')[0].strip() if not line.lstrip().startswith('#') else ''
        if not cmd:
            continue
        first = re.split(r'\s|&&', cmd)[0]
        if any(cmd.startswith(w) or first == w for w in skip):
            lines.append("echo '    (not run here) %s'" % cmd.replace("'", "'\\''"))
            continue
        lines.append("echo '    $ %s'" % cmd.replace("'", "'\\''"))
        lines.append(cmd)
        s = re.match(r'uzram serve\b(.*)&$', cmd)
        if s:
            mnt = re.search(r'--mount\s+(\S+)', s.group(1))
            lines.append("wait_serve %s" % (mnt.group(1) if mnt else ""))
    lines.append("wait")	# the recipe's own kill %1 stops its server
    open("%s/%s.sh" % (out, name), "w").write("\n".join(lines) + "\n")
    print(name, "run")
if found < 6:
    sys.exit("only %d recipes found" % found)
PY

# Run in the namespace: fresh /run/uzram, /mnt and working directory.
cat >"$T/run-one.sh" <<'EOF2'
set -u
mkdir -p /run/uzram && mount -t tmpfs -o mode=0700 tmpfs /run/uzram
mount -t tmpfs tmpfs /mnt
mkdir -p "$WORK" && mount -t tmpfs tmpfs "$WORK"
wait_serve() {	# [MOUNTDIR]: until uzram ctl answers and the tree is there
	for _ in $(seq 200); do
		if uzram ctl >/dev/null 2>&1 && { [ -z "${1:-}" ] || mountpoint -q "$1"; }; then
			return 0
		fi
		sleep 0.05
	done
	echo "uzram serve did not come up in 10 s"
	return 1
}
export -f wait_serve
timeout 300 bash "$1"
EOF2

pass=0
while read -r name how; do
	if [ "$how" = vm ]; then
		echo "== $name: run by make vmcheck (tests/vm), not here"
		continue
	fi
	echo "== $name"
	# A PID namespace too: whatever a failed recipe left running dies
	# with its bash, as do its mounts with the mount namespace.
	WORK=$T/work-$name PATH="$T/bin:$PATH" \
		unshare -m -p -f --mount-proc --propagation private \
		bash "$T/run-one.sh" "$T/$name.sh" >"$T/$name.log" 2>&1
	rc=$?
	sed 's/^/  /' "$T/$name.log" | grep -v '^  uzram serve: ' | head -40
	[ $rc = 0 ] || fail "recipe $name failed (exit $rc)"
	if losetup -a | grep -q "$T/work-$name\|/mnt/uzram"; then
		fail "recipe $name left a loop device: $(losetup -a)"
	fi
	pass=$((pass + 1))
done <"$T/list"
[ "$pass" -ge 5 ] || fail "only $pass recipes ran"
echo "PASS: $pass recipes"
