"""The `tracklog` command: one module per command group, the failures it explains in one
line, and the reachability checks and progress bar they share.

May import: anything of Tracklog (this is the top layer).
"""
