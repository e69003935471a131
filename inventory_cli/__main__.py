from inventory_cli.cli.app import main

main()
