from mosaiq.cli import main

main()
