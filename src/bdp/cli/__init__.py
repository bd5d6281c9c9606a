"""The `bdp` command line: Typer commands over the library, Rich for people, --json for machines."""
