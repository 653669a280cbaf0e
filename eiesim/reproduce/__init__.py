"""reproduce: the EIE paper's results reproduced, one study module per ``eiesim reproduce`` subcommand.

The studies compute and return data (and ``figures.run_all`` writes its figures
directory); they never print. The commands that run them and render the results are
the CLI's (``eiesim/cli/reproduce/``).
"""
