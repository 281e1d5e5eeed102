"""Counts the pixels of a PNG close to a colour: the report test's eyes on a screenshot.

Usage: png_colors.py FILE RRGGBB [RRGGBB ...] -> prints one count per colour.
Standard library only (zlib), for 8-bit RGB/RGBA non-interlaced PNGs as Chromium writes them.
"""

import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    out = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        prev = line
    return out, bpp


def main():
    rows, bpp = pixels(sys.argv[1])
    for hexcolor in sys.argv[2:]:
        want = tuple(int(hexcolor[i : i + 2], 16) for i in (0, 2, 4))
        n = 0
        for row in rows:
            for x in range(0, len(row), bpp):
                if all(abs(row[x + k] - want[k]) <= 24 for k in range(3)):
                    n += 1
        print(n)


if __name__ == "__main__":
    main()
