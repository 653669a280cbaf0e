"""Reproductions of the EIE paper's results: one module per ``eiesim reproduce`` subcommand.

Each module defines a click command named ``command``; the ``reproduce`` group
(eiesim/cli/reproduce_cmd.py) imports every module of this package and registers it.
"""
