#!/usr/bin/env python3
"""keylat.py SESSION ROUNDS: how long a key press takes to reach swarm's TUI screen in a
tmux session. Alternates 2 (the Charts view) and 1 (Statistics) and polls the pane until
the view's own text shows; prints the median and the largest delay in ms as JSON."""
import json, subprocess, sys, time

session, rounds = sys.argv[1], int(sys.argv[2])


def screen():
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True).stdout


delays = []
for i in range(rounds):
    key, marker = ("2", "Response time (ms)") if i % 2 == 0 else ("1", "Aggregated")
    t0 = time.monotonic()
    subprocess.run(["tmux", "send-keys", "-t", session, key])
    while marker not in screen():
        if time.monotonic() - t0 > 5:
            break
        time.sleep(0.002)
    delays.append((time.monotonic() - t0) * 1000)
    time.sleep(0.3)
delays.sort()
print(json.dumps({"median_ms": round(delays[len(delays) // 2], 1), "max_ms": round(delays[-1], 1), "n": len(delays)}))
