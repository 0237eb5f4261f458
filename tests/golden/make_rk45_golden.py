"""scipy's solve_ivp(method="RK45") on the analytic fields of tests/CatchUp.Tests/Sampling, for DormandPrinceGoldenTests.

Run: python3 tests/golden/make_rk45_golden.py  (needs numpy and scipy; Debian: apt-get install python3-scipy)
The 16 start values and the fields match SolverHarness.StartValues and AnalyticField; the whole vector is one
solve_ivp state, so its error norm is the RMS over all 16 elements, as in DormandPrinceSolver.
"""
import json
import numpy as np
import scipy
from scipy.integrate import solve_ivp

y1 = -1.5 + 3.0 * np.arange(16) / 15.0
fields = {
    "exp": lambda t, z: 1.3 * z,
    "gauss": lambda t, z: -2.0 * t * z,
    "sin": lambda t, z: np.sin(z) + t,
}
out = {"scipy": scipy.__version__, "start": y1.tolist(), "cases": []}
for name, f in fields.items():
    for tol in (1e-3, 1e-5, 1e-6):
        r = solve_ivp(f, (1.0, 1e-3), y1, method="RK45", rtol=tol, atol=tol)
        assert r.success
        out["cases"].append({"field": name, "tol": tol, "nfev": int(r.nfev), "steps": len(r.t) - 1,
                             "times": r.t.tolist(), "z_end": r.y[:, -1].tolist()})
with open(__file__.replace("make_rk45_golden.py", "rk45_scipy.json"), "w") as fh:
    json.dump(out, fh, indent=1)
