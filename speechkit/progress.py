"""Progress bars for long work: shown on a terminal, silent in logs and pipes (tqdm's own TTY check)."""
from tqdm import tqdm


def progress(iterable=None, desc: str = "", enabled: bool = True, **kwargs) -> tqdm:
    """A tqdm bar that is off when `enabled` is False or when stderr is not a terminal."""
    return tqdm(iterable, desc=desc, disable=None if enabled else True, leave=False, dynamic_ncols=True, **kwargs)
