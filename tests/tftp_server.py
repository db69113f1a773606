"""A small read-only TFTP server for tests: RFC 1350 with the blksize and tsize options.

A file NAME.tsize beside NAME makes the server announce that size (RFC 2349) instead of
the file's own, as a server that cuts a transfer short would.

`python3 tftp_server.py ROOT ADDRESS [PORT]` serves the files under ROOT and logs one
line per read request (`RRQ name blksize=N`) on stdout, so a test sees what the client
asked for and in which order. Missing files get TFTP error 1, "File not found".
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from pathlib import Path

RRQ, DATA, ACK, ERROR, OACK = 1, 3, 4, 5, 6
ATTEMPTS = 5


def _error(sock: socket.socket, client: tuple[str, int], code: int, text: str) -> None:
    sock.sendto(struct.pack("!HH", ERROR, code) + text.encode() + b"\0", client)


def _exchange(sock: socket.socket, client: tuple[str, int], packet: bytes, block: int) -> bool:
    """Sends PACKET until the client acknowledges BLOCK."""
    for _ in range(ATTEMPTS):
        sock.sendto(packet, client)
        try:
            while True:
                reply, sender = sock.recvfrom(4)
                if sender != client:
                    continue
                opcode, number = struct.unpack("!HH", reply[:4])
                if opcode == ERROR:
                    return False
                if opcode == ACK and number == block & 0xFFFF:
                    return True
        except TimeoutError:
            continue
    return False


def _transfer(root: Path, request: bytes, client: tuple[str, int], host: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(1.0)
    with sock:
        if struct.unpack("!H", request[:2])[0] != RRQ:
            _error(sock, client, 4, "only read requests are served")
            return
        fields = request[2:].split(b"\0")
        name = fields[0].decode("utf-8", "replace")
        options = {k.decode().lower(): v.decode() for k, v in zip(fields[2::2], fields[3::2],
                                                                 strict=False) if k}
        path = (root / name.lstrip("/")).resolve()
        found = path.is_file() and path.is_relative_to(root)
        print(f"RRQ {name} blksize={options.get('blksize', '-')}"
              f"{'' if found else ' not-found'}", flush=True)
        if not found:
            _error(sock, client, 1, "File not found")
            return
        content = path.read_bytes()
        blksize = 512
        acknowledged: list[str] = []
        if "blksize" in options:
            blksize = max(8, min(int(options["blksize"]), 65464))
            acknowledged += ["blksize", str(blksize)]
        if "tsize" in options:
            # A hostile server's lie, for the tests: NAME.tsize beside NAME holds the size
            # announced instead of the file's own.
            lie = path.with_name(path.name + ".tsize")
            announced = lie.read_text().strip() if lie.is_file() else str(len(content))
            acknowledged += ["tsize", announced]
        if acknowledged:
            oack = struct.pack("!H", OACK) + b"".join(f"{a}\0".encode() for a in acknowledged)
            if not _exchange(sock, client, oack, 0):
                return
        block = 1
        for offset in range(0, len(content) + 1, blksize):
            chunk = content[offset:offset + blksize]
            if not _exchange(sock, client, struct.pack("!HH", DATA, block & 0xFFFF) + chunk, block):
                return
            if len(chunk) < blksize:
                return
            block += 1


def serve(root: Path, host: str, port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((host, port))
    print("ready", flush=True)
    while True:
        request, client = listener.recvfrom(2048)
        threading.Thread(target=_transfer, args=(root, request, client, host),
                         daemon=True).start()


if __name__ == "__main__":
    serve(Path(sys.argv[1]).resolve(), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 69)
    os._exit(0)
