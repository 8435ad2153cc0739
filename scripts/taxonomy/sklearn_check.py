#!/usr/bin/env python3
"""Reference results from scikit-learn and scipy for valuescope's clustering tests.

Reads a JSON request on stdin:
  {"x": [[...], ...], "weights": [...] | null,
   "kmeans": {"init": [[...], ...], "max_iter": 300, "tol": 1e-4} | null,
   "ward": true | false, "cuts": [k, ...],
   "labelings": [[a, b], ...]}
and writes JSON on stdout:
  {"kmeans": {"labels": [...], "inertia": f, "n_iter": i, "centers": [[...]]},
   "ward": {"heights": [...], "cuts": {"k": [...]}},
   "agreement": [{"ami": f, "ari": f, "nmi": f}, ...],
   "versions": {...}}
Exit status 3 when scikit-learn or scipy is missing (the Go test then skips).
"""
import json
import sys

try:
    import numpy as np
    import scipy
    import sklearn
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score
except ImportError as e:  # pragma: no cover
    print(f"missing: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    req = json.load(sys.stdin)
    x = np.asarray(req["x"], dtype=np.float64)
    w = req.get("weights")
    w = None if w is None else np.asarray(w, dtype=np.float64)
    out = {"versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__}}
    km = req.get("kmeans")
    if km:
        init = np.asarray(km["init"], dtype=np.float64)
        m = KMeans(n_clusters=init.shape[0], init=init, n_init=1, algorithm="lloyd",
                   max_iter=km.get("max_iter", 300), tol=km.get("tol", 1e-4))
        m.fit(x, sample_weight=w)
        out["kmeans"] = {"labels": m.labels_.tolist(), "inertia": float(m.inertia_),
                         "n_iter": int(m.n_iter_), "centers": m.cluster_centers_.tolist()}
    if req.get("ward"):
        z = linkage(x, method="ward")
        out["ward"] = {"heights": z[:, 2].tolist(),
                       "cuts": {str(k): fcluster(z, k, "maxclust").tolist() for k in req.get("cuts", [])}}
    out["agreement"] = [
        {"ami": adjusted_mutual_info_score(a, b), "ari": adjusted_rand_score(a, b),
         "nmi": normalized_mutual_info_score(a, b)}
        for a, b in req.get("labelings", [])
    ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
