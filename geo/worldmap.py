#!/usr/bin/env python3
"""worldmap.py: build keyprov's world map (worldmap.json) from TopoJSON.

Reads a TopoJSON topology of countries whose geometries carry ISO 3166-1
numeric ids (world-atlas: Natural Earth admin-0 boundaries), decodes its
arcs (TopoJSON specification 2.1.5: quantized, delta-encoded positions),
projects them with the Equal Earth projection (Savric, Patterson, Jenny
2018), simplifies them (Douglas-Peucker) and writes

  {"format": 1, "projection": "equal-earth", "source": "...",
   "viewBox": "0 0 W H",
   "outline": "M..z", "graticule": "M..",  the globe's edge, lines every 30 degrees
   "countries": {"CN": "M..z", ...},   SVG path data, alpha-2 keys
   "points":    {"HK": [x, y], ...},   a marker point for each country that is
                                       too small to see at this scale, or has
                                       no shape in it (Hong Kong, Singapore)
   "names":     {"CN": "China", ...}}  English short names

Coordinates are rounded to integers of a viewBox 2000 units wide.  Only
the Python standard library is used.

usage: worldmap.py --topology countries-110m.json [--points-topology countries-50m.json]
                   --codes codes.json --names en.json [--source TEXT] -o worldmap.json
"""

import argparse
import json
import math
import os
import sys

WIDTH = 2000.0  # viewBox width
SOUTH_LIMIT = -58.0  # Antarctica is left out; the map is cropped below this latitude
TOLERANCE = 0.5  # Douglas-Peucker tolerance in viewBox units
MIN_RING_AREA = 2.0  # smaller rings (islets) are dropped unless a country has nothing else
MARKER_AREA = 200.0  # countries smaller than this (or without a shape) get a marker point

# Features without an ISO numeric id in Natural Earth, by name: Kosovo uses
# the user-assigned code XK (as geolocation databases do); the unrecognised
# entities are drawn as part of the state that ISO 3166 assigns them to.
UNNUMBERED = {
    "Kosovo": "XK",
    "N. Cyprus": "CY",
    "Somaliland": "SO",
    "Siachen Glacier": "IN",
    "Indian Ocean Ter.": "AU",
}
EXTRA_NAMES = {"XK": "Kosovo"}

# Equal Earth constants (Savric et al. 2018, eq. 2).
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3.0) / 2.0


def equal_earth(lon, lat):
    """Project degrees to unit-sphere Equal Earth x (east), y (north)."""
    lam = math.radians(lon)
    theta = math.asin(M * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)))
    y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return x, y


XMAX = equal_earth(180.0, 0.0)[0]
YTOP = equal_earth(0.0, 90.0)[1]
YBOTTOM = equal_earth(0.0, SOUTH_LIMIT)[1]
SCALE = WIDTH / (2 * XMAX)
HEIGHT = math.ceil((YTOP - YBOTTOM) * SCALE)


def to_view(lon, lat):
    x, y = equal_earth(lon, lat)
    return (x + XMAX) * SCALE, (YTOP - y) * SCALE


def decode_arcs(topo):
    """Absolute [lon, lat] positions of every arc (spec 2.1.5, 2.2)."""
    tr = topo.get("transform")
    out = []
    for arc in topo["arcs"]:
        pts = []
        if tr:
            (sx, sy), (tx, ty) = tr["scale"], tr["translate"]
            qx = qy = 0
            for pos in arc:
                qx += pos[0]
                qy += pos[1]
                pts.append((qx * sx + tx, qy * sy + ty))
        else:
            pts = [(float(p[0]), float(p[1])) for p in arc]
        out.append(pts)
    return out


def ring_positions(arcs, indexes):
    """A ring from arc indexes; ~i is arc i reversed; shared ends appear once."""
    pts = []
    for i in indexes:
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(a if not pts else a[1:])
    return pts


def polygons(geom):
    if geom["type"] == "Polygon":
        return [geom["arcs"]]
    if geom["type"] == "MultiPolygon":
        return geom["arcs"]
    return []


def clip_lon(ring, lo, hi):
    """Sutherland-Hodgman clip of a (lon, lat) ring to lo <= lon <= hi."""

    def clip(pts, inside, cross):
        out = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        return out

    def at(lon):
        def cross(p, q):
            t = (lon - p[0]) / (q[0] - p[0])
            return (lon, p[1] + t * (q[1] - p[1]))

        return cross

    pts = clip(ring, lambda p: p[0] >= lo, at(lo))
    if pts:
        pts = clip(pts, lambda p: p[0] <= hi, at(hi))
    return pts


def split_antimeridian(ring):
    """Rings that cross 180 degrees (Russia, Fiji) become one ring per side."""
    if len(ring) < 3:
        return []
    unwrapped = [ring[0]]
    for lon, lat in ring[1:]:
        plon = unwrapped[-1][0]
        while lon - plon > 180:
            lon -= 360
        while lon - plon < -180:
            lon += 360
        unwrapped.append((lon, lat))
    lo = min(p[0] for p in unwrapped)
    hi = max(p[0] for p in unwrapped)
    if lo >= -180 - 1e-9 and hi <= 180 + 1e-9:
        return [ring]
    out = []
    for shift in (-360, 0, 360):
        c = clip_lon([(p[0] + shift, p[1]) for p in unwrapped], -180, 180)
        if len(c) >= 3:
            out.append(c)
    return out


def densify(ring, step=2.0):
    """Add points along long edges (meridians curve in Equal Earth)."""
    out = []
    for i, p in enumerate(ring):
        q = ring[(i + 1) % len(ring)]
        out.append(p)
        n = int(max(abs(q[0] - p[0]), abs(q[1] - p[1])) / step)
        for k in range(1, n):
            t = k / n
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def douglas_peucker(pts, tol):
    """Simplify an open polyline, keeping its end points."""
    if len(pts) < 3:
        return list(pts)
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        ax, ay = pts[a]
        bx, by = pts[b]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy)
        best, far = -1.0, -1
        for i in range(a + 1, b):
            px, py = pts[i]
            if norm == 0:
                d = math.hypot(px - ax, py - ay)
            else:
                d = abs(dy * (px - ax) - dx * (py - ay)) / norm
            if d > best:
                best, far = d, i
        if far >= 0 and best > tol:
            keep[far] = True
            stack.append((a, far))
            stack.append((far, b))
    return [p for p, k in zip(pts, keep) if k]


def area(pts):
    s = 0.0
    for i, (x0, y0) in enumerate(pts):
        x1, y1 = pts[(i + 1) % len(pts)]
        s += x0 * y1 - x1 * y0
    return s / 2.0


def centroid(pts):
    a = area(pts)
    if abs(a) < 1e-9:
        n = len(pts)
        return sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    cx = cy = 0.0
    for i, (x0, y0) in enumerate(pts):
        x1, y1 = pts[(i + 1) % len(pts)]
        f = x0 * y1 - x1 * y0
        cx += (x0 + x1) * f
        cy += (y0 + y1) * f
    return cx / (6 * a), cy / (6 * a)


def projected_rings(topo, codes):
    """{alpha2: [(projected ring, is_outer), ...]} for every country in topo."""
    arcs = decode_arcs(topo)
    objs = topo["objects"]
    coll = objs.get("countries") or next(iter(objs.values()))
    out = {}
    for geom in coll.get("geometries", []):
        gid = geom.get("id")
        name = (geom.get("properties") or {}).get("name", "")
        code = None
        if gid is not None:
            code = codes.get(str(gid).zfill(3))
        if code is None:
            code = UNNUMBERED.get(name)
        if code is None or code == "AQ":
            continue
        for poly in polygons(geom):
            for k, ring_idx in enumerate(poly):
                ring = ring_positions(arcs, ring_idx)
                for part in split_antimeridian(ring):
                    part = [(lon, max(lat, SOUTH_LIMIT)) for lon, lat in part]
                    proj = [to_view(lon, lat) for lon, lat in densify(part)]
                    out.setdefault(code, []).append((proj, k == 0))
    return out


def simplify_ring(proj):
    # Close the ring for the simplifier, then drop the repeated end point.
    closed = proj + [proj[0]]
    simp = douglas_peucker(closed, TOLERANCE)[:-1]
    pts = []
    for x, y in simp:
        q = (int(round(x)), int(round(y)))
        if not pts or pts[-1] != q:
            pts.append(q)
    while len(pts) > 1 and pts[-1] == pts[0]:
        pts.pop()
    return pts


def join_numbers(nums):
    """SVG path numbers: a minus sign separates by itself."""
    out = []
    for i, n in enumerate(nums):
        if i > 0 and n >= 0:
            out.append("," if i % 2 else " ")
        out.append(str(n))
    return "".join(out)


def path_data(rings):
    """SVG path: absolute move, then relative integer line segments."""
    parts = []
    kept = []
    for proj, outer in rings:
        pts = simplify_ring(proj)
        if len(pts) < 3:
            continue
        kept.append((abs(area(pts)), pts, outer))
    if not kept:
        # A country too small for the tolerance: keep its largest ring as a dot.
        proj = max(rings, key=lambda r: abs(area(r[0])))[0]
        x, y = centroid(proj)
        x, y = int(round(x)), int(round(y))
        return "M%d,%dh1v1h-1z" % (x, y)
    biggest = max(k[0] for k in kept)
    for a, pts, outer in kept:
        if a < MIN_RING_AREA and a != biggest:
            continue
        deltas = []
        px, py = pts[0]
        for x, y in pts[1:]:
            deltas += [x - px, y - py]
            px, py = x, y
        parts.append("M%d,%dl%sz" % (pts[0][0], pts[0][1], join_numbers(deltas)))
    return "".join(parts)


def polyline(pts):
    pts = [(int(round(x)), int(round(y))) for x, y in pts]
    deltas = []
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        deltas += [x1 - x0, y1 - y0]
    return "M%d,%dl%s" % (pts[0][0], pts[0][1], join_numbers(deltas))


def outline_path():
    """The edge of the projected globe, cropped at SOUTH_LIMIT."""
    lats = [90 - k for k in range(0, int(90 - SOUTH_LIMIT) + 1)]
    east = [to_view(180, lat) for lat in lats]
    west = [to_view(-180, lat) for lat in reversed(lats)]
    return polyline(east + west) + "z"


def graticule_path(step=30):
    """Meridians and parallels every `step` degrees."""
    parts = []
    for lon in range(-180 + step, 180, step):
        parts.append(polyline([to_view(lon, lat) for lat in range(90, int(SOUTH_LIMIT) - 1, -2)]))
    for lat in range(-30, 90, step):
        parts.append(polyline([to_view(lon, lat) for lon in range(-180, 181, 2)]))
    return "".join(parts)


def label_points(rings_by_code):
    """A point per country: the centroid of its largest outer ring."""
    out = {}
    for code, rings in rings_by_code.items():
        outers = [r for r, outer in rings if outer] or [r for r, _ in rings]
        best = max(outers, key=lambda r: abs(area(r)))
        x, y = centroid(best)
        out[code] = [int(round(x)), int(round(y))]
    return out


def pick_names(names_json):
    """English names.  Where a country has several: the first if it is
    short, else the shortest that no other country uses and that is not an
    abbreviation ("United States", "China", "Russia")."""
    countries = names_json.get("countries", names_json)
    used = {}
    for code, v in countries.items():
        for n in v if isinstance(v, list) else [v]:
            used.setdefault(n, set()).add(code)
    out = {}
    for code, v in countries.items():
        cands = v if isinstance(v, list) else [v]
        good = [n for n in cands
                if used[n] == {code} and len(n) >= 4 and not n.isupper() and "." not in n]
        if len(cands[0]) <= 16 or not good:
            out[code] = cands[0]
        else:
            out[code] = min(good, key=len)
    for code, n in EXTRA_NAMES.items():
        out.setdefault(code, n)
    return dict(sorted(out.items()))


def main(argv):
    ap = argparse.ArgumentParser(description="Build keyprov's worldmap.json from TopoJSON.")
    ap.add_argument("--topology", required=True, help="countries TopoJSON for the shapes")
    ap.add_argument("--points-topology", help="finer TopoJSON for the marker points (all countries)")
    ap.add_argument("--codes", required=True, help="i18n-iso-countries codes.json")
    ap.add_argument("--names", required=True, help="i18n-iso-countries langs/en.json")
    ap.add_argument("--source", default="", help="provenance line stored in the output")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)

    with open(args.codes, encoding="utf-8") as f:
        codes = {}
        for row in json.load(f):
            if len(row) >= 3 and len(row[0]) == 2:
                codes[str(row[2]).zfill(3)] = row[0].upper()
    with open(args.names, encoding="utf-8") as f:
        names = pick_names(json.load(f))
    with open(args.topology, encoding="utf-8") as f:
        shapes = projected_rings(json.load(f), codes)
    if not shapes:
        raise SystemExit("worldmap.py: %s has no country with a known ISO code" % args.topology)
    points = label_points(shapes)
    if args.points_topology:
        with open(args.points_topology, encoding="utf-8") as f:
            fine = projected_rings(json.load(f), codes)
        for code, pt in label_points(fine).items():
            points.setdefault(code, pt)
    sizes = {c: sum(abs(area(r)) for r, _ in rings) for c, rings in shapes.items()}
    points = {c: pt for c, pt in points.items() if sizes.get(c, 0.0) < MARKER_AREA}

    out = {
        "format": 1,
        "projection": "equal-earth",
        "source": args.source,
        "viewBox": "0 0 %d %d" % (int(WIDTH), HEIGHT),
        "outline": outline_path(),
        "graticule": graticule_path(),
        "countries": {c: path_data(r) for c, r in sorted(shapes.items())},
        "points": dict(sorted(points.items())),
        "names": names,
    }
    text = json.dumps(out, ensure_ascii=True, separators=(",", ":"))
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
        f.write("\n")
    os.replace(tmp, args.output)
    print("worldmap.py: %d countries, %d points, %d bytes -> %s"
          % (len(out["countries"]), len(points), len(text) + 1, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
