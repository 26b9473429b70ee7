"""What the job entry points share: one JSON summary on stdout, one-line errors, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable


def run_job(prog: str, run: Callable[[argparse.Namespace], dict], args: argparse.Namespace) -> dict | None:
    """Run a job; a configuration or input error prints ``prog: message`` and gives None."""
    from inference.config_files import ConfigError
    from storage.engine import DatabaseConfigError
    from storage.service import StorageError

    try:
        summary = run(args)
    except (ValueError, ConfigError, DatabaseConfigError, StorageError) as exc:
        print(f"{prog}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None
    print(json.dumps(summary))
    return summary
