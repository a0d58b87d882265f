#!/usr/bin/python3
"""tasks.py CONSOLE [REGEX] - the stacks that matter in a VM test's console.

After a timeout the runner (tests/vm/run) sends sysrq-t, which prints every
task's state and kernel stack. This prints one line per task whose name (or
workqueue) matches REGEX (default: the server's threads, nbd's workers,
memfill, kswapd) or that is in D state:

    NAME STATE [WORKQUEUE] innermost<-caller<-...   (14 frames, "?" frames left out)
"""
import re
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    text = open(sys.argv[1], errors="replace").read()
    pattern = sys.argv[2] if len(sys.argv) > 2 else \
        r"uzram|nbd-|ublkb|ctl-|fuse-|policy|nbd0|memfill|kswapd"
    # The last sysrq-t dump, up to the next sysrq (l: CPUs, m: memory).
    dump = text.split("sysrq: Show State")[-1].split("sysrq: Show backtrace")[0]
    for block in re.split(r"\n(?=\[ *[0-9.]+\] task:)", dump):
        m = re.search(r"task:(\S+)\s+state:(\S)", block)
        if not m:
            continue
        name, state = m.groups()
        wq = re.search(r"Workqueue: (.*)", block)
        wq = wq.group(1).strip() if wq else ""
        if state != "D" and not re.search(pattern, name) and not re.search(pattern, wq):
            continue
        frames = [re.sub(r"^\[ *[0-9.]+\]\s+", "", line).split("+")[0]
                  for line in block.split("\n")
                  if re.search(r"\]  [a-z_]", line) and not re.search(r"\]  \? ", line)]
        print(name, state, wq, "<-".join(frames[:14]))


if __name__ == "__main__":
    main()
