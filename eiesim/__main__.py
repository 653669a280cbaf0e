"""``python -m eiesim`` = the ``eiesim`` command."""

from eiesim.cli import main

main()
