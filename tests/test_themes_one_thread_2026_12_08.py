"""The theme model trains with one BLAS/OpenMP thread (sjrlib.themes.model.train_model).

OpenBLAS starts a thread per core; on a shared two-core server, where other kernels hold the
cores, its threads spin waiting for each other: `sjr themes train --store` took 169 s in a test
run where one thread takes about 2 s (helper 77, 2026-12-07). These tests check the limit is
in force during the fit (not how long it takes) and that it gives the same model.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

from sjrlib.themes import model as m


def test_the_fit_runs_with_one_thread_per_pool(monkeypatch):
    seen = []
    real = m._pipeline

    def recording(themes, terms):
        pipeline = real(themes, terms)
        fit = pipeline.fit

        def fit_and_look(X, y):
            seen.extend((pool["internal_api"], pool["num_threads"]) for pool in threadpool_info())
            return fit(X, y)

        pipeline.fit = fit_and_look
        return pipeline

    monkeypatch.setattr(m, "_pipeline", recording)
    m.train_model()
    assert seen, "no thread pool loaded when the model was fitted"
    assert {n for _, n in seen} == {1}, seen


def test_one_thread_gives_the_model_the_default_threads_give(monkeypatch):
    import contextlib

    import threadpoolctl

    limited = m.train_model()
    # the fit as it ran before: the library's default threads (one per core)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits",
                        lambda limits=None: contextlib.nullcontext())
    free = m.train_model()
    statements = [s.text for s in m.seed_statements(m.shipped_codebook())]
    assert limited.themes == free.themes
    a = limited.pipeline.predict_proba(statements)
    b = free.pipeline.predict_proba(statements)
    assert np.allclose(a, b, atol=1e-9)
    # and the suggestions a person sees are the same
    assert [tuple(np.flatnonzero(r >= limited.threshold)) for r in a] == \
        [tuple(np.flatnonzero(r >= free.threshold)) for r in b]
