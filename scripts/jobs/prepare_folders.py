"""Hand the mount points that the Docker engine just created to the user the jobs run as.

    python -m scripts.jobs.prepare_folders /checkpoints /app/reports ...   (as root)

A bind mount whose host folder is missing (``./checkpoints``, ``./reports``, a new
``DATASET_DIR``) is created by the engine as root, and the jobs, which run as the image's app
user, then cannot write to it: fine-tuning would train for hours and fail at save time. Compose
runs this first, as root. It changes the owner of a folder only when that folder is empty and
owned by root, i.e. just made by the engine; a folder with content, or one a person owns, is
left exactly as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP_UID = APP_GID = 10001  # the `app` user of both Dockerfiles


def needs_handing_over(folder: Path) -> bool:
    """Empty and owned by root: a mount point the engine created, not a folder of anyone's."""
    return folder.is_dir() and folder.stat().st_uid == 0 and not any(folder.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--uid", type=int, default=APP_UID)
    parser.add_argument("--gid", type=int, default=APP_GID)
    args = parser.parse_args(argv)
    for folder in args.folders:
        if needs_handing_over(folder):
            os.chown(folder, args.uid, args.gid)
            print(f"{folder}: new and empty, now owned by {args.uid}:{args.gid}")
        else:
            print(f"{folder}: left as it is")
    return 0


if __name__ == "__main__":
    sys.exit(main())
