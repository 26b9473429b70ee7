"""Benchmarks behind ``moodwire bench``: they print numbers, tests never time anything."""
