"""The command-line layer: parses options, calls the core, renders, maps errors to exit codes."""
