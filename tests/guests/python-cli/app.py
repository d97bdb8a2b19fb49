"""A wasi:cli command in Python for wharf's tests (componentize-py).

Prints its working directory and what a relative listing of it holds, so a test sees both
what `getcwd()` reports under `-w` and that relative paths resolve there.
"""

import os

from wit_world import exports


class Run(exports.Run):
    def run(self) -> None:
        print("cwd", os.getcwd())
        print("files", ",".join(sorted(os.listdir("."))))
