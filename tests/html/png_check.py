#!/usr/bin/env python3
"""png_check.py FILE.png MIN_BYTES MIN_COLOURS [R,G,B ...]

Checks that a screenshot is a real picture: a valid PNG (chunks, CRCs,
zlib stream and scanline filters, PNG spec sections 5, 9 and 11) larger
than MIN_BYTES, with at least MIN_COLOURS distinct colours, and with some
pixels of each colour given (within 8 per channel).  Standard library only.
Prints the size, dimensions and colour count.  Exit 0 if all hold, else 1.
"""

import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) != crc:
            raise ValueError("bad CRC in %r chunk" % ctype)
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        raise ValueError("no IHDR")
    width, height, depth, ctype, _, _, interlace = ihdr
    channels = {2: 3, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError("unsupported PNG layout (depth %d, colour type %d)" % (depth, ctype))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif f != 0:
            raise ValueError("bad filter type %d in row %d" % (f, y))
        rows.append(line)
        prev = line
    return width, height, channels, rows, len(data)


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    path, min_bytes, min_colours = argv[1], int(argv[2]), int(argv[3])
    want = [tuple(int(v) for v in c.split(",")) for c in argv[4:]]
    try:
        width, height, channels, rows, size = decode(path)
    except (OSError, ValueError, zlib.error) as e:
        print("png_check: %s: %s" % (path, e))
        return 1
    colours = set()
    for line in rows:
        for i in range(0, len(line), channels):
            colours.add(bytes(line[i:i + 3]))
    found = {w: False for w in want}
    for c in colours:
        for w in want:
            if all(abs(c[k] - w[k]) <= 8 for k in range(3)):
                found[w] = True
    print("png_check: %s: %d bytes, %dx%d, %d colours" % (path, size, width, height, len(colours)))
    ok = True
    if size <= min_bytes:
        print("png_check: FAIL: %d bytes, expected more than %d" % (size, min_bytes))
        ok = False
    if len(colours) < min_colours:
        print("png_check: FAIL: %d colours, expected at least %d" % (len(colours), min_colours))
        ok = False
    for w, hit in found.items():
        if not hit:
            print("png_check: FAIL: no pixel of colour %d,%d,%d" % w)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
