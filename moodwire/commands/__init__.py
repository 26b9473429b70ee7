"""One module per ``moodwire`` subcommand; each exposes ``register(subparsers)``."""
