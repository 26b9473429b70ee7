"""The ``moodwire`` command line (``moodwire ...``) and the benchmarks. Nothing outside this
package imports it."""
