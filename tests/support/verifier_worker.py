"""A verifier in its own process, driven line by line over stdin/stdout (JSON lines).

    python -m tests.support.verifier_worker '<Verifier keyword arguments as JSON>'

Commands: `start`, `verify <token>`, `kids`, `quit`. Every answer carries the stats.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from signet.verifier import SignetError, Verifier
from tests.support.processes import ROOT


def serve(options: dict[str, Any]) -> None:
    verifier = Verifier(**options)
    issuer = verifier.issuers[0]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        answer: dict[str, Any] = {}
        if command == "start":
            verifier.start_sync()
        elif command == "verify":
            try:
                answer["sub"] = verifier.verify_sync(argument)["sub"]
            except SignetError as exc:
                answer["code"] = exc.code
        elif command == "kids":
            answer["kids"] = sorted(verifier.known_kids(issuer))
        elif command == "quit":
            break
        answer["stats"] = verifier.stats.snapshot()
        print(json.dumps(answer), flush=True)
    verifier.close()


class Worker:
    """The test side: one worker subprocess."""

    def __init__(self, **options: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.verifier_worker", json.dumps(options)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(self._readline()) == {"ready": True}

    def _readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"verifier worker exited with {self.process.wait(10)}")
        return line

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        return json.loads(self._readline())  # type: ignore[no-any-return]

    def ask(self, command: str) -> dict[str, Any]:
        self.send(command)
        return self.answer()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
