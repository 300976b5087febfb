"""Combining the directives of several operations into one submission.

| directive | run one after another (serial) | run side by side (parallel) |
| --- | --- | --- |
| np, ngpu | max | sum |
| memory (GB) | max | sum |
| walltime (hours) | sum | max |
| omp_num_threads | max | max |

Custom keys keep the first value given.
"""


def combine(directives_list, parallel=False):
    """One directives dict for operations bundled together (see the table above)."""
    out = {}
    for d in directives_list:
        for key, value in d.items():
            if value is None:
                continue
            if key not in out:
                out[key] = value
            elif key in ("np", "ngpu", "memory"):
                out[key] = out[key] + value if parallel else max(out[key], value)
            elif key == "walltime":
                out[key] = max(out[key], value) if parallel else out[key] + value
            elif key == "omp_num_threads":
                out[key] = max(out[key], value)
    return out
