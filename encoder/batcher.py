"""Dynamic batching: one thread owns the model, requests wait on futures.

Request threads decode and preprocess (in parallel with the forward pass), then put single
images on a bounded queue. The model thread takes up to ``max_batch`` images, waiting at most
``max_wait_ms`` for stragglers once the first has arrived, and runs one forward pass. A full
queue is refused at once (503 ``overloaded``) instead of letting latency grow without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import torch

from services.errors import Overloaded

log = logging.getLogger(__name__)

BatchFn = Callable[[torch.Tensor], Sequence[Any]]


class Batcher:
    def __init__(self, run_batch: BatchFn, *, max_batch: int, max_wait_ms: float, queue_size: int):
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._max_wait_s = max_wait_ms / 1000
        self._queue: queue.Queue[tuple[torch.Tensor, Future] | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._loop, name="model", daemon=True)
        self.batches_run = 0
        self.images_run = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def submit(self, tensors: Sequence[torch.Tensor]) -> list[Future]:
        """Queue each ``[3, H, W]`` tensor; futures resolve to ``run_batch``'s per-row results."""
        futures = []
        for tensor in tensors:
            future: Future = Future()
            try:
                self._queue.put_nowait((tensor, future))
            except queue.Full:
                for pending in futures:
                    pending.cancel()
                raise Overloaded("the encoder queue is full; retry shortly") from None
            futures.append(future)
        return futures

    def _collect(self) -> list[tuple[torch.Tensor, Future]] | None:
        first = self._queue.get()
        if first is None:
            return None
        items = [first]
        deadline = time.monotonic() + self._max_wait_s
        while len(items) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # let the loop see the stop signal after this batch
                break
            items.append(item)
        return items

    def _loop(self) -> None:
        while (items := self._collect()) is not None:
            live = [
                (tensor, future)
                for tensor, future in items
                if future.set_running_or_notify_cancel()
            ]
            if not live:
                continue
            try:
                results = self._run_batch(torch.stack([tensor for tensor, _ in live]))
            except Exception as error:  # one bad batch must not kill the model thread
                log.exception("batch failed", extra={"batch_size": len(live)})
                for _, future in live:
                    future.set_exception(error)
                continue
            self.batches_run += 1
            self.images_run += len(live)
            for (_, future), result in zip(live, results, strict=True):
                future.set_result(result)
