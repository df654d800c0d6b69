"""Create the streams of streams.yaml that are missing, with their alarms (same as `kinesis-autoscaler create-streams`).

Usage: python scripts/create_streams.py [--config PATH] [--alarm-topic-arn ARN | --stack NAME] [--dry-run]
                                        [--remove-orphaned-alarms] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autoscaler.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "create-streams", *sys.argv[1:]]
    main()
