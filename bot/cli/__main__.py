"""`python -m bot.cli`: the same as the `frontdesk` console script."""

from bot.cli import main

main()
