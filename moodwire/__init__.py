"""moodwire command-line entry points (``moodwire ...``)."""
