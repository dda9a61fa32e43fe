"""Reference run for bench_mfg_kernel: one evaluation of the kernel score's
implicit score-matching loss and its gradient in the Cholesky factors
(src/models/mfg/kernel_score.hpp has the formulas), written in
straightforward vectorised NumPy on one core, for the same sizes: M centres
and S samples in d = 2 (M = 100, S = 400 and M = 1000, S = 4000), the
covariance shared by every centre or one per centre, β = 1/2. Prints the
milliseconds per evaluation (best of 5) and the loss, to compare with the
C++ one."""
import time

import numpy as np

D, DELTA, C = 2, 1e-3, 1.0  # c = 1/(2β) at β = 1/2


def points(n, seed):
    """Four modes of variance 0.05 at (±1.5, ±1.5), like the family's default data."""
    rng = np.random.default_rng(seed)
    modes = np.array([[-1.5, -1.5], [1.5, 1.5], [-1.5, 1.5], [1.5, -1.5]])
    return modes[rng.integers(0, 4, n)] + np.sqrt(0.05) * rng.standard_normal((n, D))


def loss_and_gradient(x, centres, factors):
    """factors: (B, d, d) lower triangular, B = 1 (shared) or M."""
    m = len(centres)
    prec = factors @ factors.transpose(0, 2, 1) + DELTA * np.eye(D)
    cov = np.linalg.inv(prec)
    log_norm = np.log(np.linalg.det(prec)) / 2 - D / 2 * np.log(2 * np.pi)
    prec_k = np.broadcast_to(prec, (m, D, D))
    u = x[:, None, :] - centres[None, :, :]                          # (S, M, d)
    g = -np.einsum("kab,nkb->nka", prec_k, u)                        # -P_k u
    logphi = np.broadcast_to(log_norm, (m,)) + 0.5 * np.einsum("nka,nka->nk", u, g)
    logphi -= logphi.max(axis=1, keepdims=True)
    r = np.exp(logphi)
    r /= r.sum(axis=1, keepdims=True)                                # responsibilities
    s = np.einsum("nk,nka->na", r, g)
    f = np.einsum("nka,nka->nk", g, g) - np.broadcast_to(np.trace(prec, axis1=1, axis2=2), (m,))
    fbar = np.einsum("nk,nk->n", r, f)
    s2 = np.einsum("na,na->n", s, s)
    loss = np.mean(2 * C * fbar + (1 - 2 * C) * s2)
    # G_k per sample, summed over the samples (and over k when shared).
    a = 0.5 * (np.broadcast_to(cov, (m, D, D))[None] - np.einsum("nka,nkb->nkab", u, u))
    ug = np.einsum("nka,nkb->nkab", u, g)
    su = np.einsum("na,nkb->nkab", s, u)
    gs = np.einsum("nka,na->nk", g, s)
    inner = (2 * C * ((f - fbar[:, None])[..., None, None] * a - (ug + ug.transpose(0, 1, 3, 2)) - np.eye(D))
             + 2 * (1 - 2 * C) * ((gs - s2[:, None])[..., None, None] * a - 0.5 * (su + su.transpose(0, 1, 3, 2))))
    gk = np.einsum("nk,nkab->kab", r, inner) / len(x)
    if len(factors) == 1:
        gk = gk.sum(axis=0, keepdims=True)
    grad = 2 * gk @ factors
    return loss, np.tril(grad)


def check_gradient(shared):
    """The reference's gradient against central differences (so that it
    computes what the C++ does; the test of the C++ is the same check)."""
    centres, x = points(5, 3), points(20, 4)
    rng = np.random.default_rng(5)
    factors = np.tril(np.eye(D) / 0.5 + 0.2 * rng.standard_normal((1 if shared else 5, D, D)))
    _, grad = loss_and_gradient(x, centres, factors)
    h = 1e-6
    for idx in zip(*np.nonzero(np.tril(np.ones_like(factors)))):
        up, down = factors.copy(), factors.copy()
        up[idx] += h
        down[idx] -= h
        numeric = (loss_and_gradient(x, centres, up)[0] - loss_and_gradient(x, centres, down)[0]) / (2 * h)
        assert abs(numeric - grad[idx]) < 1e-5 * (1 + abs(numeric)), (idx, numeric, grad[idx])


def run(m, s, shared):
    centres, x = points(m, 1), points(s, 2)
    blocks = 1 if shared else m
    factors = np.broadcast_to(np.eye(D) / 0.3, (blocks, D, D)).copy()
    loss_and_gradient(x, centres, factors)
    best, loss = np.inf, 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        loss, _ = loss_and_gradient(x, centres, factors)
        best = min(best, time.perf_counter() - t0)
    kind = "shared" if shared else "per centre"
    print(f"numpy kernel loss + gradient, {kind}, M = {m}, S = {s}: {best * 1e3:.2f} ms (loss {loss:.6f})")


check_gradient(True)
check_gradient(False)
for m, s in ((100, 400), (1000, 4000)):
    for shared in (True, False):
        run(m, s, shared)
