"""A saliency "model" that never finishes, for the timeout test of the
external plugin: it starts a child (sleep) in its own process group, writes
the child's pid to PIDFILE, then sleeps. The plugin must kill both.

Usage: python3 tests/saliency/sleeper.py {output} PIDFILE
"""
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[2], "w") as f:
    f.write("%d\n" % child.pid)
time.sleep(60)
