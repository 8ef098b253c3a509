"""Memory: the per-clip cache sizes, the estimate of a clip's peak host memory, and what
the machine has left, for the filter's early out-of-memory check. The measurements behind
the constants are in docs/reliability.md ("Memory")."""

from __future__ import annotations

import os
from pathlib import Path

from .models import spec

#: Per-clip caches: source frames converted to the network format and prepared pairs are
#: kept for core.num_threads + CACHE_PAIRS_EXTRA pairs and one more source frame, least
#: recently used first out (about 0.3 GB of source frames and 0.6 GB of RIFE pairs at
#: 1920x1080 with 8 threads). A model with a large per-pair state keeps only as many pairs
#: as fit in CACHE_PAIR_BUDGET bytes, at least 2 (:func:`cache_pairs`).
CACHE_PAIRS_EXTRA = 2
CACHE_PAIR_BUDGET = 2 * 2**30
#: Bytes per source pixel of the per-clip caches: a converted source frame (float32 RGB)
#: and a prepared pair (two padded frames plus masks).
CACHE_SOURCE_BYTES, CACHE_PAIR_BYTES = 12, 28
#: A network run's memory relative to ``scale=1`` (``ModelSpec.net_bytes_per_pixel``),
#: measured on rife46.
NET_SCALE_FACTOR = {0.25: 0.45, 0.5: 0.45, 1.0: 1.0, 2.0: 3.3}
#: The network part of the estimate is multiplied by this (run-to-run and model-to-model spread).
MEMORY_SAFETY = 1.5


def available_memory() -> int | None:
    """Bytes of memory this process can still get: MemAvailable from /proc/meminfo (else
    free pages from sysconf), capped by a cgroup v2 limit (memory.max - memory.current)
    when there is one. None when nothing can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            avail = min(avail, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return avail


def memory_needed(width: int, height: int, model: str = "rife46", scale: float = 1.0, ensemble: bool = False,
                  threads: int = 1, network_on_host: bool = True) -> int:
    """Estimated peak host memory (bytes) of interpolating frames of ``width`` x ``height``
    pixels: one network run (``ModelSpec.net_bytes_per_pixel`` x :data:`NET_SCALE_FACTOR` x
    the pixels padded to the model's multiple, twice with ``ensemble``, times
    :data:`MEMORY_SAFETY`; only when the network runs on the host, i.e. the CPU provider)
    plus the full per-clip caches for ``threads`` VapourSynth threads
    (:data:`CACHE_PAIRS_EXTRA`; an upper bound, no safety factor). Only one network run
    is counted: with several threads several may run at once."""
    model_spec = spec(model)
    m = model_spec.pad_for(scale)
    padded = (-(-height // m) * m) * (-(-width // m) * m)
    total = 0.0
    if network_on_host:
        total += (MEMORY_SAFETY * model_spec.net_bytes_per_pixel
                  * NET_SCALE_FACTOR.get(float(scale), max(NET_SCALE_FACTOR.values()))
                  * padded * (2 if ensemble else 1))
    pairs = cache_pairs(model, threads, width, height)
    total += width * height * ((threads + CACHE_PAIRS_EXTRA + 1) * CACHE_SOURCE_BYTES + pairs * pair_bytes(model))
    return int(total)


def pair_bytes(model: str) -> int:
    """Bytes per source pixel of one prepared pair of ``model`` in the pair cache: two padded
    frames plus masks, and the engine's per-pair state (``ModelSpec.state_bytes_per_pixel``)."""
    state = spec(model).state_bytes_per_pixel
    return CACHE_PAIR_BYTES + (int(state + 1) if state else 0)


def cache_pairs(model: str, threads: int, width: int, height: int) -> int:
    """Capacity (pairs) of a clip's prepared-pair cache: ``threads + CACHE_PAIRS_EXTRA``,
    lowered to what fits in :data:`CACHE_PAIR_BUDGET` bytes, never below 2."""
    fit = CACHE_PAIR_BUDGET // max(1, pair_bytes(model) * width * height)
    return max(2, min(threads + CACHE_PAIRS_EXTRA, fit))
