"""`python -m camloft` runs the command line."""

from camloft.cli import main

main()
