"""Drive a kernel the Jupyter server started, over the server's websocket (as JupyterLab does).

``KernelChannel`` opens ``/api/kernels/<id>/channels`` with the server token, waits for the
kernel to answer ``kernel_info``, and runs code cells, collecting each cell's outputs in the
nbformat shape (``stream``, ``execute_result``, ``display_data``, ``error``) with its reply.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import websocket

PROTOCOL_VERSION = "5.3"
OUTPUT_TYPES = ("stream", "execute_result", "display_data", "error")


@dataclass
class CellRun:
    """What one executed cell produced."""

    source: str
    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [out for out in self.outputs if out["output_type"] == "error"]

    def text(self, name: str = "stdout") -> str:
        """The concatenated text of one stream (``stdout`` or ``stderr``)."""
        return "".join(out["text"] for out in self.outputs if out["output_type"] == "stream" and out["name"] == name)

    def data(self, mime: str = "text/plain") -> str:
        """The ``mime`` representation of every result and display, joined by newlines."""
        return "\n".join(
            out["data"][mime]
            for out in self.outputs
            if out["output_type"] in ("execute_result", "display_data") and mime in out["data"]
        )

    def describe(self) -> str:
        errors = "; ".join(f"{e['ename']}: {e['evalue']}" for e in self.errors)
        stderr = self.text("stderr")[-400:]
        return f"cell {self.source[:60]!r}: status {self.reply.get('status')} {errors} stderr={stderr!r}"


class KernelChannel:
    """One websocket session on a server-side kernel."""

    def __init__(self, ws_url: str, token: str, *, timeout: float = 60.0):
        self.session = uuid.uuid4().hex
        self.timeout = timeout
        self.ws = websocket.create_connection(
            f"{ws_url}?session_id={self.session}", header=[f"Authorization: token {token}"], timeout=timeout
        )

    def close(self) -> None:
        self.ws.close()

    def _send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": "e2e",
            "session": self.session,
            "date": "",
            "version": PROTOCOL_VERSION,
        }
        self.ws.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": channel,
                    "buffers": [],
                }
            )
        )
        return msg_id

    def _replies(self, msg_id: str, deadline: float):
        """Every message answering ``msg_id`` until the deadline (bounded by the socket timeout)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete answer to {msg_id} within {self.timeout} s")
            self.ws.settimeout(remaining)
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                yield msg

    def wait_ready(self) -> dict[str, Any]:
        """Send ``kernel_info_request`` until the kernel answers; returns the reply's content."""
        msg_id = self._send("shell", "kernel_info_request", {})
        for msg in self._replies(msg_id, time.monotonic() + self.timeout):
            if msg["msg_type"] == "kernel_info_reply":
                return msg["content"]
        raise AssertionError("unreachable")

    def execute(self, code: str, timeout: float | None = None) -> CellRun:
        """Run ``code``; returns once the reply and the kernel's idle status for it have arrived."""
        msg_id = self._send(
            "shell",
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        run = CellRun(code, reply={})
        idle = False
        for msg in self._replies(msg_id, time.monotonic() + (timeout or self.timeout)):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_reply":
                run.reply = content
            elif kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind in OUTPUT_TYPES:
                run.outputs.append({"output_type": kind, **content})
            elif kind == "update_display_data":  # as a notebook does: replace that display's data
                shown = (content.get("transient") or {}).get("display_id")
                for out in run.outputs:
                    if shown and (out.get("transient") or {}).get("display_id") == shown:
                        out["data"], out["metadata"] = content["data"], content.get("metadata", {})
            if run.reply and idle:
                return run
        raise AssertionError("unreachable")
