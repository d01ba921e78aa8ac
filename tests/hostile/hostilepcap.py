"""Builders for the hostile captures of hostile_test.py (python3 stdlib only).

Complements tests/cli/pcaptool.py (read_pcap, write_pcap, udp_frame), which
it imports and does not change: TCP frames, IPv4 fragments, a fast SYN-flood
generator with correct checksums, a streaming pcap writer, and the merge of
attack packets into a legitimate capture by time.
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))
import pcaptool  # noqa: E402

ETH_HDR = b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00'
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_REC = struct.Struct('<IIII')


class PcapWriter:
    """A classic pcap (Ethernet) written packet by packet, buffered."""

    def __init__(self, path, linktype=1):
        self.f = open(path, 'wb')
        self.f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        self.buf = []
        self.n = 0

    def add(self, ts_us, data):
        self.buf.append(_REC.pack(ts_us // 1000000, ts_us % 1000000, len(data), len(data)))
        self.buf.append(data)
        self.n += 1
        if len(self.buf) >= 65536:
            self.f.write(b''.join(self.buf))
            self.buf = []

    def close(self):
        self.f.write(b''.join(self.buf))
        self.buf = []
        self.f.close()


def sample_packets(path):
    """The packets of a classic pcap as [(ts_us, frame)]."""
    _, pkts = pcaptool.read_pcap(path)
    return [(s * 1000000 + us, data) for s, us, _, data in pkts]


def write_merged(path, legit, attack):
    """Write legit [(ts_us, frame)] and attack (an iterable of (ts_us, frame)
    in time order) merged by time; at equal times the legitimate packet
    goes first.  Returns the number of packets written."""
    w = PcapWriter(path)
    i = 0
    for ts, data in attack:
        while i < len(legit) and legit[i][0] <= ts:
            w.add(*legit[i])
            i += 1
        w.add(ts, data)
    for p in legit[i:]:
        w.add(*p)
    w.close()
    return w.n


def spread(n, t0, t1):
    """n timestamps (microseconds) evenly from t0 to t1 inclusive."""
    if n <= 1:
        return [t0] * n
    step = (t1 - t0) / (n - 1)
    return [t0 + int(i * step) for i in range(n)]


def _fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def ipv4_header(src4, dst4, proto, payload_len, ident=1, frag=0x4000, ttl=64):
    ip = bytearray(struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + payload_len, ident, frag, ttl, proto,
                               0, src4, dst4))
    ip[10:12] = struct.pack('!H', pcaptool._csum(bytes(ip)))
    return bytes(ip)


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b'', window=65535, ident=1):
    """An Ethernet/IPv4/TCP frame with correct checksums (src, dst: dotted
    quads or 4-byte strings)."""
    s4 = src if isinstance(src, bytes) else socket.inet_aton(src)
    d4 = dst if isinstance(dst, bytes) else socket.inet_aton(dst)
    tcp = bytearray(struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                                5 << 4, flags, window, 0, 0)) + payload
    c = pcaptool._csum(s4 + d4 + struct.pack('!BBH', 0, 6, len(tcp)) + bytes(tcp))
    tcp[16:18] = struct.pack('!H', c)
    return ETH_HDR + ipv4_header(s4, d4, 6, len(tcp), ident) + bytes(tcp)


def parse_tcp(frame):
    """(src4, dst4, sport, dport, seq, ack, flags, window, ident, payload) of
    a plain Ethernet/IPv4/TCP frame, or None."""
    if len(frame) < 54 or frame[12:14] != b'\x08\x00' or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0f) * 4
    tot, ident = struct.unpack('!HH', frame[16:20])
    l4 = 14 + ihl
    sport, dport, seq, ack, off, flags, window = struct.unpack('!HHIIBBH', frame[l4:l4 + 16])
    payload = frame[l4 + (off >> 4) * 4:14 + tot]
    return frame[26:30], frame[30:34], sport, dport, seq, ack, flags, window, ident, payload


def retcp(frame, seq, payload):
    """The TCP frame `frame` with another sequence number and payload (flags,
    ack, window and addresses kept; options dropped; checksums recomputed)."""
    src4, dst4, sport, dport, _, ack, flags, window, ident, _ = parse_tcp(frame)
    return tcp_frame(src4, dst4, sport, dport, seq, ack, flags, payload, window, ident)


def syn_flood(n, t0, t1, seed, dsts):
    """n TCP SYNs from n distinct (source address, source port) pairs to port
    443 of the addresses `dsts` (dotted quads, used in turn), timestamps
    spread evenly over [t0, t1].  Yields (ts_us, frame) with correct IPv4
    and TCP checksums, computed incrementally (a generator of millions of
    packets cannot afford a byte-wise checksum each)."""
    import random
    rng = random.Random(seed)
    rand = rng.getrandbits
    hdr = struct.Struct('!14sBBHHHBBH4s4sHHIIBBHHH4s')
    opt = b'\x02\x04\x05\xb4'  # MSS 1460
    tcp_len = 24
    base = struct.unpack('!I', socket.inet_aton('198.18.0.0'))[0]  # RFC 2544 benchmarking range
    nsrc = 1 << 17
    d = []
    for a in dsts:
        d4 = socket.inet_aton(a)
        dw = struct.unpack('!HH', d4)
        # IPv4 header sum without source address and ident
        ip_c = 0x4500 + (20 + tcp_len) + 0x4000 + ((64 << 8) | 6) + dw[0] + dw[1]
        # TCP sum without source address, source port and sequence number
        tcp_c = (dw[0] + dw[1] + 6 + tcp_len + 443 + ((6 << 12) | TCP_SYN) + 64240 +
                 0x0204 + 0x05b4)
        d.append((d4, ip_c, tcp_c))
    step = (t1 - t0) / max(n - 1, 1)
    nd = len(d)
    for i in range(n):
        src = base + (i % nsrc)
        sport = 1024 + (i // nsrc) * 3000 + rand(11) % 3000
        seq = rand(32)
        ident = rand(16)
        d4, ip_c, tcp_c = d[i % nd]
        sh, sl = src >> 16, src & 0xffff
        ipsum = 0xffff - _fold(ip_c + sh + sl + ident)
        tsum = 0xffff - _fold(tcp_c + sh + sl + sport + (seq >> 16) + (seq & 0xffff))
        frame = hdr.pack(ETH_HDR, 0x45, 0, 20 + tcp_len, ident, 0x4000, 64, 6, ipsum,
                         struct.pack('!I', src), d4, sport, 443, seq, 0, 6 << 4, TCP_SYN, 64240,
                         tsum, 0, opt)
        yield t0 + int(i * step), frame


def ipv4_fragment(src, dst, ident, offset8, more, payload, proto=17):
    """An Ethernet/IPv4 fragment: `offset8` in 8-byte units, MF if `more`."""
    s4, d4 = socket.inet_aton(src), socket.inet_aton(dst)
    frag = (0x2000 if more else 0) | (offset8 & 0x1fff)
    return ETH_HDR + ipv4_header(s4, d4, proto, len(payload), ident, frag) + payload


def udp_frame(src, dst, sport, dport, payload):
    return pcaptool.udp_frame(src, dst, sport, dport, payload)


# ---- QUIC (RFC 9000 17.2.2) ----------------------------------------------

def quic_varint(v, size=None):
    """RFC 9000 16: a variable-length integer, in the shortest form unless
    `size` (1, 2, 4, 8) asks for a longer one."""
    if size is None:
        size = 1 if v < 64 else 2 if v < 16384 else 4 if v < (1 << 30) else 8
    prefix = {1: 0, 2: 1, 4: 2, 8: 3}[size]
    return ((prefix << (8 * size - 2)) | v).to_bytes(size, 'big')


def quic_initial(dcid, scid=b'', token=b'', payload=b'', length=None, version=1,
                 token_len=None, length_size=None):
    """A QUIC long-header Initial packet (4-byte packet number).  `length`
    and `token_len` default to the true values; pass others to lie."""
    first = 0xc3  # long header, fixed bit, type Initial (v1), packet number length 4
    tl = len(token) if token_len is None else token_len
    ln = len(payload) if length is None else length
    return (bytes([first]) + version.to_bytes(4, 'big') + bytes([len(dcid)]) + dcid +
            bytes([len(scid)]) + scid + quic_varint(tl) + token + quic_varint(ln, length_size) +
            payload)


# ---- STUN / TURN (RFC 8489, RFC 8656) -------------------------------------

STUN_COOKIE = 0x2112A442


def stun_type(method, cls):
    """RFC 8489 5: the class bits C1 C0 interleaved in the 12-bit method."""
    return ((method & 0x000f) | ((cls & 1) << 4) | ((method & 0x0070) << 1) | ((cls & 2) << 7) |
            ((method & 0x0f80) << 2))


def stun_attr(atype, value, pad=True):
    a = struct.pack('!HH', atype, len(value)) + value
    if pad and len(value) % 4:
        a += b'\0' * (4 - len(value) % 4)
    return a


def stun_message(method, cls, txid, attrs, cookie=True, length=None):
    """A STUN message; `attrs` is the encoded attribute block; `length`
    overrides the header's length field."""
    n = len(attrs) if length is None else length
    hdr = struct.pack('!HH', stun_type(method, cls), n)
    hdr += struct.pack('!I', STUN_COOKIE) + txid[:12] if cookie else txid[:16]
    return hdr + attrs


def stun_fingerprint(msg):
    """Append FINGERPRINT (RFC 8489 14.7) to a message, fixing its length."""
    import zlib
    body = msg[20:]
    m = msg[:2] + struct.pack('!H', len(body) + 8) + msg[4:]
    crc = (zlib.crc32(m) ^ 0x5354554E) & 0xffffffff
    return m + stun_attr(0x8028, struct.pack('!I', crc))


def xor_address(ip, port):
    """XOR-PEER-ADDRESS / XOR-MAPPED-ADDRESS value for IPv4 (RFC 8489 14.2)."""
    a = struct.unpack('!I', socket.inet_aton(ip))[0] ^ STUN_COOKIE
    return struct.pack('!BBHI', 0, 1, port ^ (STUN_COOKIE >> 16), a)


def channel_data(channel, data, length=None):
    """TURN ChannelData (RFC 8656 12.4); `length` overrides the length field."""
    return struct.pack('!HH', channel, len(data) if length is None else length) + data


# ---- SIP / SDP (RFC 3261, RFC 8866, RFC 4568) -----------------------------

def sip_invite(src, dst, call_id, extra_headers='', sdp=''):
    """A SIP INVITE over UDP from src to dst (dotted quads) carrying `sdp`."""
    head = ('INVITE sip:bob@%s SIP/2.0\r\n'
            'Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK%s\r\n'
            'Max-Forwards: 70\r\n'
            'From: <sip:alice@%s>;tag=%s\r\n'
            'To: <sip:bob@%s>\r\n'
            'Call-ID: %s\r\n'
            'CSeq: 1 INVITE\r\n'
            'Contact: <sip:alice@%s>\r\n' % (dst, src, call_id, src, call_id, dst, call_id, src))
    head += extra_headers
    if sdp:
        head += 'Content-Type: application/sdp\r\n'
    head += 'Content-Length: %d\r\n\r\n' % len(sdp.encode())
    return (head + sdp).encode()
