"""Dynamic batching: a lone request runs at once; announced images wait to share a batch."""

import threading
import time

import torch

from encoder.batcher import Batcher

WAIT_MS = 400  # long, so that waiting or not waiting is unmistakable


def make_batcher(sizes: list[int]) -> Batcher:
    def run_batch(batch: torch.Tensor) -> list[int]:
        sizes.append(len(batch))
        return list(range(len(batch)))

    batcher = Batcher(run_batch, max_batch=8, max_wait_ms=WAIT_MS, queue_size=64)
    batcher.start()
    return batcher


def test_a_lone_image_does_not_wait_for_company():
    sizes: list[int] = []
    batcher = make_batcher(sizes)
    try:
        started = time.perf_counter()
        (future,) = batcher.submit([torch.zeros(3)])
        future.result(timeout=5)
        assert time.perf_counter() - started < WAIT_MS / 1000 / 2
        assert sizes == [1]
    finally:
        batcher.stop()


def test_images_still_being_decoded_join_the_forming_batch():
    sizes: list[int] = []
    batcher = make_batcher(sizes)
    try:
        decoded = threading.Event()
        late: list = []

        def slow_request() -> None:
            with batcher.expecting(3):
                decoded.wait(5)
                late.extend(batcher.submit([torch.zeros(3)] * 3))

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.05)  # the slow request has announced its images
        (first,) = batcher.submit([torch.zeros(3)])
        time.sleep(0.05)
        decoded.set()
        thread.join(5)
        first.result(timeout=5)
        for future in late:
            future.result(timeout=5)
        assert sizes == [4]
    finally:
        batcher.stop()
