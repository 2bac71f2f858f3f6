"""jieba's default tokenizer, loaded once per process and fast: shared by the parser (corpus.departments
reads where a level letter ends) and the index's tokenizers (index.tokenization copies its dictionary)."""

from __future__ import annotations

import logging
import threading

_LOCK = threading.Lock()


def default_jieba():
    """``jieba.dt`` with its dictionary in memory (initialized here on first use, from jieba's cache file
    read whole when there is one, else by jieba itself, which writes that cache)."""
    import jieba

    with _LOCK:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." chatter
            if not _load_jieba_cache(jieba.dt):
                jieba.dt.initialize()
    return jieba.dt


def _load_jieba_cache(tokenizer) -> bool:
    """Fill jieba's default tokenizer from the cache file jieba itself writes, read whole and unmarshalled
    from bytes: 0.2 s, where jieba's own ``marshal.load`` on the open file takes 0.65 s (CPython reads a
    file object in small pieces; measured on this machine, 9 MB, 498,113 words). False when there is no
    such cache yet (or it cannot be read), and jieba's ``initialize`` should run."""
    import marshal
    import os
    import tempfile

    if tokenizer.dictionary is not None:  # a dictionary of its own: jieba's rules for its cache apply
        return False
    path = os.path.join(tokenizer.tmp_dir or tempfile.gettempdir(), tokenizer.cache_file or "jieba.cache")
    try:
        with open(path, "rb") as cache:
            freq, total = marshal.loads(cache.read())
    except (OSError, ValueError, EOFError, TypeError):
        return False
    if not isinstance(freq, dict) or not freq:
        return False
    with tokenizer.lock:
        tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True
    return True
