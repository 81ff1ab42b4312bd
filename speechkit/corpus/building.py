"""What every corpus builder shares (the default corpus, LRS2-style mixtures, AWSSDR's real training sets):
the output-folder guard, the process pool that makes items chunk by chunk, and the versions on record."""
import platform
import shutil
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

from speechkit.progress import progress


def clear_output(out_dir: Path, names, overwrite: bool, what: str) -> None:
    """Refuse an `out_dir` that holds anything unless `overwrite`; then remove the `names` a builder writes
    there, files (manifests, records) before folders, so that an interrupted clean-up never leaves a
    manifest or record naming audio that is gone. Anything else in `out_dir` stays."""
    held = sorted(entry.name for entry in out_dir.iterdir()) if out_dir.is_dir() else []
    if held and not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; pass --overwrite (overwrite=True) to replace {what} in it, "
                              f"or choose another output folder (--out). It holds: {', '.join(held[:8])}"
                              f"{', ...' if len(held) > 8 else ''}")
    for target in sorted((out_dir / name for name in names), key=Path.is_dir):
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def chunks(items, size: int) -> list:
    """`items` (a list, or a range of indices) cut into consecutive slices of `size`, the last one shorter."""
    return [items[start:start + size] for start in range(0, len(items), size)]


@contextmanager
def process_pool(workers: int, initializer=None, initargs: tuple = ()):
    """A pool of `workers` spawned processes, or None for one worker (the work then runs in this process)."""
    pool = (ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=initializer,
                                initargs=initargs) if workers > 1 else None)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown()


def run_chunks(pool, function, tasks: list[tuple], desc: str, show_progress: bool = True) -> list[list]:
    """function(*task) for every task, in `pool` when given, else here; the results in task order.

    A task's last argument is its chunk of items and its result lists what came of them: the progress bar
    counts both. Tasks start in the given order, so put the slowest first.
    """
    if not tasks:
        return []
    mapper = pool.map if pool is not None else map
    results = []
    with progress(total=sum(len(task[-1]) for task in tasks), desc=desc, unit="item", enabled=show_progress) as bar:
        for result in mapper(function, *zip(*tasks)):
            results.append(result)
            bar.update(len(result))
    return results


def software_versions(*modules) -> dict[str, str]:
    """Python's version and each module's (by module name), for a corpus's record."""
    return {"python": platform.python_version(), **{module.__name__: module.__version__ for module in modules}}
