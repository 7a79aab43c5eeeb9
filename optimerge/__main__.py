from optimerge.cli import main

main()
