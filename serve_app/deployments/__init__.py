"""One module per deployment; each is a few lines around the shared core."""
