"""A saliency "model" that fails the way a real one does (a message on
stderr, exit status 3), for the external plugin's error test.

Usage: python3 tests/saliency/failing.py {image} {output}
"""
import sys

sys.stdout.write("loading the model\n")
sys.stderr.write("Traceback (most recent call last):\n  File \"dinov3_saliency.py\", line 1\n")
sys.stderr.write("FileNotFoundError: model weights not found: /nonexistent/dinov3_vits16.pth\n")
sys.exit(3)
