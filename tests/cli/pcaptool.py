"""Small classic-pcap helpers for the tests (no third-party modules)."""
import struct


def read_pcap(path):
    """Return (linktype, [(ts_sec, ts_usec, orig_len, data)]) of a classic pcap."""
    with open(path, 'rb') as f:
        hdr = f.read(24)
        magic = struct.unpack('<I', hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            e = '<'
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            e = '>'
        else:
            raise ValueError('%s: not a classic pcap' % path)
        linktype = struct.unpack(e + 'I', hdr[20:24])[0]
        pkts = []
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            s, us, incl, orig = struct.unpack(e + 'IIII', rec)
            pkts.append((s, us, orig, f.read(incl)))
        return linktype, pkts


def write_pcap(path, linktype, pkts):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for s, us, orig, data in pkts:
            f.write(struct.pack('<IIII', s, us, len(data), max(orig, len(data))))
            f.write(data)


def _csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def rewrite_ipv4(data, old, new):
    """Replace IPv4 address `old` by `new` (4-byte strings) in an Ethernet
    frame, with the IPv4, TCP and UDP checksums recomputed.  Frames that are
    not plain Ethernet/IPv4 are returned unchanged."""
    if len(data) < 34 or data[12:14] != b'\x08\x00':
        return data
    ip = 14
    ihl = (data[ip] & 0x0f) * 4
    tot = struct.unpack('!H', data[ip + 2:ip + 4])[0]
    src, dst = data[ip + 12:ip + 16], data[ip + 16:ip + 20]
    if old not in (src, dst):
        return data
    b = bytearray(data)
    if src == old:
        b[ip + 12:ip + 16] = new
    if dst == old:
        b[ip + 16:ip + 20] = new
    b[ip + 10:ip + 12] = b'\0\0'
    b[ip + 10:ip + 12] = struct.pack('!H', _csum(bytes(b[ip:ip + ihl])))
    proto = b[ip + 9]
    frag = struct.unpack('!H', b[ip + 6:ip + 8])[0]
    l4 = ip + ihl
    end = min(len(b), ip + tot)
    if frag & 0x3fff == 0 and proto in (6, 17) and end - l4 >= (20 if proto == 6 else 8):
        off = 16 if proto == 6 else 6
        if not (proto == 17 and b[l4 + 6:l4 + 8] == b'\0\0'):
            b[l4 + off:l4 + off + 2] = b'\0\0'
            pseudo = bytes(b[ip + 12:ip + 20]) + struct.pack('!BBH', 0, proto, end - l4)
            c = _csum(pseudo + bytes(b[l4:end]))
            if proto == 17 and c == 0:
                c = 0xffff
            b[l4 + off:l4 + off + 2] = struct.pack('!H', c)
    return bytes(b)


def udp_frame(src, dst, sport, dport, payload):
    """An Ethernet/IPv4/UDP frame with correct checksums (src, dst: dotted quads)."""
    import socket
    s4, d4 = socket.inet_aton(src), socket.inet_aton(dst)
    ulen = 8 + len(payload)
    ip = bytearray(struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + ulen, 1, 0x4000, 64, 17, 0, s4, d4))
    ip[10:12] = struct.pack('!H', _csum(bytes(ip)))
    udp = bytearray(struct.pack('!HHHH', sport, dport, ulen, 0)) + payload
    c = _csum(s4 + d4 + struct.pack('!BBH', 0, 17, ulen) + bytes(udp)) or 0xffff
    udp[6:8] = struct.pack('!H', c)
    eth = b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00'
    return eth + bytes(ip) + bytes(udp)
