"""A process that uses gRPC (pymilvus) and then starts children must not run gRPC's fork
handlers: one hung a test run for good inside fork(), when the stack fixture started Milvus."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from scripts.stack.local import REPO_ROOT, python_env

FORK_UNDER_GRPC = textwrap.dedent(
    """
    import subprocess, sys, threading
    if sys.argv[1] == "services":
        import services  # noqa: F401
    import grpc
    from concurrent import futures

    def echo(request, context):
        return request

    server = grpc.server(futures.ThreadPoolExecutor(4))
    handler = grpc.method_handlers_generic_handler(
        "t.T", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary("/t.T/Echo")
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            call(b"x", timeout=5)

    threading.Thread(target=busy, daemon=True).start()
    call(b"x", timeout=5)
    failed = 0
    for _ in range(60):  # preexec_fn makes subprocess use fork(), as the stack launcher does
        failed += subprocess.run(["true"], preexec_fn=lambda: None).returncode != 0
    stop.set()
    print(f"children failed: {failed}")
    """
)


def fork_under_grpc(first_import: str) -> subprocess.CompletedProcess:
    env = python_env()
    env.pop("GRPC_ENABLE_FORK_SUPPORT", None)  # as a user's shell would have it
    return subprocess.run(
        [sys.executable, "-c", FORK_UNDER_GRPC, first_import],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_grpc_fork_handlers_are_off_once_services_is_imported():
    # The check sees the handlers: without services they run (and say they skip their work
    # while other threads are in gRPC; here a forked child even died of SIGABRT in them).
    plain = fork_under_grpc("grpc")
    assert "fork_posix" in plain.stderr, plain.stderr[-2000:]

    ours = fork_under_grpc("services")
    assert ours.stdout.strip() == "children failed: 0", ours.stderr[-2000:]
    assert "fork_posix" not in ours.stderr
