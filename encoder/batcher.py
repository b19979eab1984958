"""Dynamic batching: one thread owns the model, requests wait on futures.

Request threads decode and preprocess (in parallel with the forward pass), then put single
images on a bounded queue. The model thread takes up to ``max_batch`` images and runs one
forward pass. It waits up to ``max_wait_ms`` for stragglers only while other requests are still
being decoded (:meth:`Batcher.expecting`): a lone upload never waits for company that is not
coming, and under load batches fill up. A full queue is refused at once (503 ``overloaded``)
instead of letting latency grow without bound.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import torch

from services.errors import Overloaded
from services.metrics import BATCH_SIZE, ENCODE_SECONDS

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
        self._incoming = 0  # images being decoded that will be submitted soon
        self._incoming_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    @contextlib.contextmanager
    def expecting(self, images: int) -> Iterator[None]:
        """Announce ``images`` that are being decoded, so a forming batch waits for them."""
        with self._incoming_lock:
            self._incoming += images
        try:
            yield
        finally:
            with self._incoming_lock:
                self._incoming -= images

    def submit(self, tensors: Sequence[torch.Tensor]) -> list[Future]:
        """Queue each ``[3, H, W]`` tensor; futures resolve to ``run_batch``'s per-row results."""
        futures: list[Future] = []
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
                    self._queue.get(timeout=min(remaining, 0.0005))
                    if remaining > 0 and self._incoming > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                if remaining > 0 and self._incoming > 0:
                    continue  # someone is still decoding: keep waiting until the deadline
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
            started = time.perf_counter()
            try:
                results = self._run_batch(torch.stack([tensor for tensor, _ in live]))
            except Exception as error:  # one bad batch must not kill the model thread
                log.exception("batch failed", extra={"batch_size": len(live)})
                for _, future in live:
                    future.set_exception(error)
                continue
            ENCODE_SECONDS.observe(time.perf_counter() - started)
            BATCH_SIZE.observe(len(live))
            self.batches_run += 1
            self.images_run += len(live)
            for (_, future), result in zip(live, results, strict=True):
                future.set_result(result)
