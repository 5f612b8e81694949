#!/usr/bin/env python3
"""Where the bytes of a .wasm go: function body sizes from the code section, named through the
`name` section (build without `strip`), grouped by crate. Usage: wasm_size_profile.py FILE [TOP]."""
import re
import sys
from collections import Counter


def leb(data, i):
    result = shift = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def sections(data):
    i = 8
    while i < len(data):
        sid = data[i]
        size, j = leb(data, i + 1)
        yield sid, data[j:j + size]
        i = j + size


def demangle_crate(name):
    # Legacy mangling: _ZN<len><ident>... ; v0: _R... ; plain names otherwise.
    m = re.match(r"_ZN(\d+)", name)
    if m:
        n = int(m.group(1))
        start = m.end()
        crate = name[start:start + n]
        if crate.startswith("_$LT$"):
            inner = re.search(r"\$LT\$([a-z_0-9]+)", name)
            crate = inner.group(1) if inner else crate
        return crate
    if name.startswith("_R"):
        m = re.search(r"(\d+)([a-z_][a-z_0-9]*)", name[2:])
        return m.group(2) if m else "?"
    # Demangled names from the name section: `otel_web::…`, `<otel_web::X as core::fmt::Debug>::fmt`,
    # `<T as opentelemetry::…>`, `core[c5930c85a12de822]::…`.
    plain = re.sub(r"\[[0-9a-f]+\]", "", name).lstrip("<&")
    generic = re.match(r"(?:mut )?[A-Z]\w* as (.*)", plain)
    if generic:
        plain = generic.group(1)
    if "::" not in plain:
        return "(unmangled) " + name[:40]
    return re.split(r"::|[<> ]", plain)[0] or "?"


def main():
    data = open(sys.argv[1], "rb").read()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    imported = 0
    bodies = []
    names = {}
    data_bytes = 0
    for sid, payload in sections(data):
        if sid == 2:  # imports
            count, i = leb(payload, 0)
            for _ in range(count):
                for _ in range(2):
                    n, i = leb(payload, i)
                    i += n
                kind = payload[i]
                i += 1
                if kind == 0:
                    _, i = leb(payload, i)
                    imported += 1
                elif kind == 1:
                    i += 1
                    flags, i = leb(payload, i)
                    _, i = leb(payload, i)
                    if flags & 1:
                        _, i = leb(payload, i)
                elif kind == 2:
                    flags, i = leb(payload, i)
                    _, i = leb(payload, i)
                    if flags & 1:
                        _, i = leb(payload, i)
                elif kind == 3:
                    i += 2
        elif sid == 10:
            count, i = leb(payload, 0)
            for _ in range(count):
                size, j = leb(payload, i)
                bodies.append(size)
                i = j + size
        elif sid == 11:
            data_bytes = len(payload)
        elif sid == 0:
            n, i = leb(payload, 0)
            if payload[i:i + n] == b"name":
                i += n
                while i < len(payload):
                    sub = payload[i]
                    size, j = leb(payload, i + 1)
                    if sub == 1:
                        count, k = leb(payload, j)
                        for _ in range(count):
                            idx, k = leb(payload, k)
                            ln, k = leb(payload, k)
                            names[idx] = payload[k:k + ln].decode("utf-8", "replace")
                            k += ln
                    i = j + size
    by_crate = Counter()
    by_fn = []
    for n, size in enumerate(bodies):
        name = names.get(imported + n, f"func[{imported + n}]")
        by_crate[demangle_crate(name)] += size
        by_fn.append((size, name))
    total = sum(bodies)
    print(f"code {total} bytes in {len(bodies)} functions, data {data_bytes} bytes, file {len(data)} bytes")
    print("\nby crate:")
    for crate, size in by_crate.most_common(top):
        print(f"  {size:8d}  {size * 100 / max(total, 1):5.1f}%  {crate}")
    print("\nlargest functions:")
    for size, name in sorted(by_fn, reverse=True)[:top]:
        print(f"  {size:8d}  {name[:110]}")


if __name__ == "__main__":
    main()
