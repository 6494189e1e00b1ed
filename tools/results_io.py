"""Opening a bench result that may be committed xz-compressed (tools/pack-results.sh packs the raw
JSON / text files of bench/results over 64 KiB as NAME.xz): `open_text(path)` reads PATH, or
PATH.xz where only that exists, or an explicit .xz path, as text."""
import lzma
import os


def open_text(path):
    if path.endswith(".xz"):
        return lzma.open(path, "rt")
    if not os.path.exists(path) and os.path.exists(path + ".xz"):
        return lzma.open(path + ".xz", "rt")
    return open(path)
