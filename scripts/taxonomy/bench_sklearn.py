#!/usr/bin/env python3
"""Time scikit-learn's KMeans (or MiniBatchKMeans) on vectors written by
valuescope's BenchmarkKMeansVsScikitLearn, with the settings the Go side uses:
Lloyd, one greedy k-means++ start, tol 1e-4; or mini-batch with batch 1024,
one start, max_no_improvement 10. The input is little-endian uint64 n, uint64 d,
then n*d float64. Prints {"seconds", "inertia", "maxrssmib", "n_iter"} as JSON.
--n-init, --algorithm and --threads (threadpoolctl's limit on BLAS and OpenMP
threads; 1 for the single-threaded comparison) set KMeans' restarts, algorithm
and threads.
Debian: python3-sklearn.
"""
import argparse
import json
import resource
import time

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans


def peak_rss_mib():
    """This process's peak resident memory (VmHWM; ru_maxrss can carry the
    forking parent's peak over exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--x", required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--minibatch", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-init", type=int, default=1)
    ap.add_argument("--algorithm", default="lloyd")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        from threadpoolctl import threadpool_limits
        threadpool_limits(a.threads)
    raw = np.fromfile(a.x, dtype="<u8", count=2)
    n, d = int(raw[0]), int(raw[1])
    x = np.fromfile(a.x, dtype="<f8", offset=16).reshape(n, d)
    t0 = time.perf_counter()
    if a.minibatch:
        m = MiniBatchKMeans(n_clusters=a.k, batch_size=1024, n_init=1, max_no_improvement=10,
                            random_state=a.seed).fit(x)
    else:
        m = KMeans(n_clusters=a.k, n_init=a.n_init, algorithm=a.algorithm, tol=1e-4, max_iter=300,
                   init="k-means++", random_state=a.seed).fit(x)
    secs = time.perf_counter() - t0
    rss = peak_rss_mib()
    print(json.dumps({"seconds": secs, "inertia": float(m.inertia_), "maxrssmib": rss, "n_iter": int(m.n_iter_)}))


if __name__ == "__main__":
    main()
