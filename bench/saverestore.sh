#!/bin/bash
# bench/saverestore.sh - issue 22's figures: save and restore of a 1 GiB
# device of real process memory, in GB/s of orig_data_size, page cache warm
# (the image in /dev/shm), with every page and mm_stat checked afterwards.
#
# A Python process builds about 1.1 GiB of varied objects (strings of
# words, dicts, lists of numbers, some random bytes); `uzram dump` copies its
# resident anonymous pages into a page file; bench/image_speed fills a
# 1 GiB device with them (lzo-rle, the default; others with ALGS), saves it
# to /dev/shm and restores it into a second device, best of 3.
#
# usage: bench/saverestore.sh            (ALGS="lzo-rle lz4 zstd" SIZE_MIB=1024)
set -u
cd "$(dirname "$0")/.."
ALGS=${ALGS:-lzo-rle lz4 zstd}
SIZE_MIB=${SIZE_MIB:-1024}
[ -x build/default/uzram ] && [ -x build/default/bench/image_speed ] ||
	make -s build/default/uzram build/default/bench/image_speed >/dev/null || exit 1
T=$(mktemp -d /dev/shm/uzram-saverestore.XXXXXX)
PY_PID=
cleanup() { [ -n "$PY_PID" ] && kill "$PY_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

python3 - "$T/ready" "$SIZE_MIB" <<'PY' &
import os, random, sys, time
ready, size_mib = sys.argv[1], int(sys.argv[2])
random.seed(22)
words = open('/usr/share/dict/words').read().split() if os.path.exists('/usr/share/dict/words') \
    else [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(3, 10)))
          for _ in range(20000)]
target = (size_mib * 1.1) * 2**20
keep, i = [], 0
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
while rss() < target:
    k = i % 5
    if k == 0:
        keep.append(' '.join(random.choice(words) for _ in range(random.randint(5, 40))))
    elif k == 1:
        keep.append({random.choice(words): random.randint(0, 10**9) for _ in range(20)})
    elif k == 2:
        keep.append([random.random() * 1000 for _ in range(50)])
    elif k == 3:
        keep.append(list(range(i, i + 64)))
    elif i % 50 == 4:
        keep.append(os.urandom(4096))
    else:
        keep.append(('%08d:' % i) + random.choice(words) * 8)
    i += 1
open(ready, 'w').close()
time.sleep(3600)
PY
PY_PID=$!
for _ in $(seq 600); do [ -e "$T/ready" ] && break; sleep 1; done
[ -e "$T/ready" ] || { echo "saverestore: the Python process did not get ready" >&2; exit 1; }
build/default/uzram dump --pid "$PY_PID" "$T/python.pages" >/dev/null || exit 1
kill "$PY_PID"; wait "$PY_PID" 2>/dev/null; PY_PID=
echo "page file: $(( $(stat -c %s "$T/python.pages") / 4096 )) pages of a Python heap"
rc=0
for alg in $ALGS; do
	echo "== $alg"
	build/default/bench/image_speed --size "$SIZE_MIB" --dir "$T" --algorithm "$alg" \
		"$T/python.pages" || rc=1
done
exit $rc
