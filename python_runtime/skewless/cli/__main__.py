"""`python -m skewless.cli …` runs the `skewless` command."""

from skewless.cli import main

main()
