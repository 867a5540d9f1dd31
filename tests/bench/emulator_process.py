"""The emulator in a process of its own, so that it does not share the interpreter lock with what is measured.

Prints one JSON line (base URL and key), then serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.fake_openai import running_emulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photo-like", action="store_true", help="answer with noisy images of several MB")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each image answer")
    parser.add_argument("--pace", type=float, default=0.0, help="bytes per second of an image answer's body")
    args = parser.parse_args()
    with running_emulator() as emulator:
        emulator.set(photo_like=args.photo_like, delay=args.delay, pace=args.pace)
        print(json.dumps({"base_url": emulator.base_url, "api_key": emulator.api_key}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
