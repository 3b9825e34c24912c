"""Running an install: CLI commands, the bundled worker, the all-in-one server and the demo data of every area."""
