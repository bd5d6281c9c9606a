from bdp.cli.app import main

main()
