"""A stand-in LLM that reads the passages: an OpenAI-compatible chat-completions server for measurements.

It answers the way the prompt asks, crudely: it finds the passage sentence sharing the most words (or,
for Chinese, characters) with the question, quotes it with the passage's number, and says "I could not
find this in the documents." when no sentence shares any. It is no language model: figures measured with
it say how many questions REACH the model (the answerability gate's effect) and how a simple reader does
behind it, not how good a real model's answers are.

    python scripts/llm_standin.py --port 8099 &
    NEEDLE_LLM_API=openai NEEDLE_LLM_URL=http://127.0.0.1:8099/v1 NEEDLE_LLM_MODEL=standin \\
        python -m pipelines.cli eval-answers --dataset tests/data/handbook_answers_dev.jsonl \\
        --corpus pipelines/samples/handbook
"""

from __future__ import annotations

import argparse
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_FOUND = "I could not find this in the documents."
_PASSAGE = re.compile(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', re.S)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")
_WORD = re.compile(r"[a-z0-9]{3,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_STOP = set(
    re.findall(
        r"\w+",
        "the and for are was were what when where which who whom how does did can could should would will "
        "with from that this these those there their about into have has had not you your our get any all",
    )
) | set("的了是在有和与或我你他她它们吗呢吧啊么什怎多少几哪谁")


def _units(text: str) -> set[str]:
    text = text.lower()
    return {word for word in _WORD.findall(text) if word not in _STOP} | {
        char for char in _CJK.findall(text) if char not in _STOP
    }


def answer(prompt: str) -> str:
    """The best-overlapping sentence of the passages with its citation, or the not-found reply."""
    question = prompt.rsplit("Question:", 1)[-1].split("Answer with citations:")[0]
    wanted = _units(question)
    best, best_score = "", 0
    for number, body in _PASSAGE.findall(prompt):
        for sentence in _SENTENCE.split(body.replace("&lt;", "<")):
            score = len(wanted & _units(sentence))
            if score > best_score and len(sentence.strip()) > 3:
                best, best_score = f"{sentence.strip()} [{number}]", score
    return best if best_score else NOT_FOUND


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._json({"object": "list", "data": [{"id": "standin", "object": "model", "owned_by": "needle"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        messages = body.get("messages") or [{}]
        text = answer(str(messages[-1].get("content") or ""))
        model = body.get("model", "standin")
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._json(
                {
                    "id": "standin",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [choice],
                }
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for delta, finish in (({"role": "assistant", "content": text}, None), ({}, "stop")):
            chunk = {
                "id": "standin",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    print(f"LLM stand-in on http://127.0.0.1:{args.port}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
