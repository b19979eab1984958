"""Shared library of dogsearch: imported by both services and the scripts; never imports torch."""

import os

# gRPC's fork handlers (on by default in the grpcio wheels) run inside every fork() of a process
# that has used gRPC, and wait for gRPC's own threads to pause: the tests and `make up` start
# Milvus, the encoder and the API with fork() after a pymilvus client has run, and one such
# fork hung for good in a test run. Nothing of ours uses gRPC across a fork, so they are off;
# set before pymilvus (which imports grpc) is first imported, which happens only under services/.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
