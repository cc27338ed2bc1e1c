"""pgvector's ``vector`` as psycopg parameters and results: memctl keeps vectors as
float32 little-endian bytes; pgvector's binary format is the dimension, a reserved 0 and
big-endian float32s. No text round trip (formatting 384 floats as text costs ~60 µs a
vector in Python)."""

from array import array
from typing import Any

from psycopg.adapt import Dumper
from psycopg.pq import Format


class Vector:
    """float32 bytes (little-endian, as memctl keeps vectors) bound as a pgvector value."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        floats = array("f")
        floats.frombytes(obj.data)
        floats.byteswap()
        return len(floats).to_bytes(2, "big") + b"\x00\x00" + floats.tobytes()


def vector_dumper(oid: int) -> type[Dumper]:
    """The ``Vector`` dumper for a database where ``vector`` has type ``oid``."""
    return type("VectorDumper", (_VectorDumper,), {"oid": oid})


def vector_bytes(sent: bytes) -> bytes:
    """float32 little-endian bytes from ``vector_send(embedding)`` (header + big-endian)."""
    floats = array("f")
    floats.frombytes(sent[4:])
    floats.byteswap()
    return floats.tobytes()
