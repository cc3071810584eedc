from bertkit.cli.app import main

main()
