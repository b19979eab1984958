"""The Stanford Dogs downloader against a loopback server: extract, split lists, resume, offline."""

from __future__ import annotations

import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from scipy.io import savemat

from scripts.jobs import download_stanford_dogs as download
from services.dataset import load_split
from tests.support.synthetic import jpeg_bytes

FILES = [
    "n02085620-Chihuahua/n02085620_1.jpg",
    "n02085620-Chihuahua/n02085620_2.jpg",
    "n02099601-golden_retriever/n02099601_7.jpg",
]


def tar_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def mat_list(paths: list[str], labels: list[int]) -> bytes:
    """The official layout: ``file_list`` an N x 1 cell of strings, ``labels`` N x 1."""
    cells = np.empty((len(paths), 1), dtype=object)
    for i, path in enumerate(paths):
        cells[i, 0] = np.array([path])
    out = io.BytesIO()
    savemat(out, {"file_list": cells, "labels": np.array(labels, dtype=float)[:, None]})
    return out.getvalue()


ARCHIVES = {
    "images.tar": tar_of({f"Images/{p}": jpeg_bytes(i) for i, p in enumerate(FILES)}),
    "annotation.tar": tar_of({f"Annotation/{p[:-4]}": b"<annotation/>" for p in FILES}),
    "lists.tar": tar_of(
        {
            "train_list.mat": mat_list(FILES[:2], [1, 1]),
            "test_list.mat": mat_list(FILES[2:], [57]),
        }
    ),
}


class ArchiveServer(BaseHTTPRequestHandler):
    """Serves ``ARCHIVES`` with Range support and records every request's Range header."""

    ranges: list[str | None] = []

    def do_GET(self):
        data = ARCHIVES.get(self.path.rsplit("/", 1)[-1])
        if data is None:
            self.send_error(404)
            return
        type(self).ranges.append(self.headers.get("Range"))
        start = (
            int(self.headers["Range"].split("=")[1].rstrip("-")) if "Range" in self.headers else 0
        )
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    ArchiveServer.ranges = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ArchiveServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_extracts_and_writes_the_official_split(server, tmp_path):
    assert download.main(["--dest", str(tmp_path), "--base-url", server, "--no-progress"]) == 0
    assert sorted(
        p.relative_to(tmp_path / "Images").as_posix() for p in (tmp_path / "Images").rglob("*.jpg")
    ) == sorted(FILES)
    assert (tmp_path / "Annotation" / "n02085620-Chihuahua" / "n02085620_1").exists()
    assert (tmp_path / "lists" / "test_list.txt").read_text() == f"{FILES[2]} 57\n"
    assert load_split(tmp_path / "lists") == {
        FILES[0]: "train",
        FILES[1]: "train",
        FILES[2]: "test",
    }
    assert download.main(["--dest", str(tmp_path), "--base-url", server]) == 0  # nothing to do
    assert len(ArchiveServer.ranges) == 3


def test_a_partial_download_resumes_with_range(server, tmp_path):
    half = len(ARCHIVES["images.tar"]) // 2
    (tmp_path / "images.tar.part").write_bytes(ARCHIVES["images.tar"][:half])
    target = download.download(f"{server}/images.tar", tmp_path / "images.tar", progress=False)
    assert ArchiveServer.ranges == [f"bytes={half}-"]
    assert target.read_bytes() == ARCHIVES["images.tar"]


def test_offline_says_what_to_fetch_by_hand(tmp_path, capsys):
    closed = "http://127.0.0.1:9"  # discard port: nothing listens
    assert download.main(["--dest", str(tmp_path), "--base-url", closed, "--no-progress"]) == 2
    message = capsys.readouterr().err
    assert "could not be downloaded" in message
    assert f"{download.BASE_URL}/images.tar" in message and str(tmp_path) in message


def test_an_archive_that_escapes_its_folder_is_refused(tmp_path):
    evil = tmp_path / "evil.tar"
    evil.write_bytes(tar_of({"../outside.txt": b"x"}))
    with pytest.raises(tarfile.OutsideDestinationError):
        download.extract(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()
