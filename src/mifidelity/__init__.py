"""mifidelity: Motivational Interviewing fidelity reports from recorded coaching sessions."""

import functools as _functools
import os as _os

__version__ = "0.1.0"

# OpenMP threads (torch, CTranslate2) that wait for work sleep instead of spinning. Transcription
# and diarisation run at the same time, and a spinning pool steals the core the other stage needs:
# on two cores shared with other work, ASR alone took 40-56 s with spinning threads and 19-23 s
# with sleeping ones on the same 17-minute recording; the coder 1,735 utterances in 47 s vs 12 s
# (issue 26, docs/benchmarks.md). It must be set before the OpenMP runtime starts (the first import
# of torch or ctranslate2), hence here; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# oneDNN (in torch and in CTranslate2) keeps every compiled kernel of every matrix shape it met, with
# its scratch memory, up to 1024 of them. The coder meets a new shape with almost every utterance
# length: coding a 66-minute session (704 utterances) left 1.28 GB resident against 1.13 GB with 16
# kept, which is what the pipeline's peak (the code stage, after transcription and diarisation) is
# made of. Measured: the coder 0.5 s slower on those 704 utterances, ASR alone unchanged (11.4 s on a
# 10-minute recording either way), the same codes (issue 26, docs/benchmarks.md). Read when oneDNN
# starts, hence here; a value the user set is kept.
_os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")


def _glibc():
    """glibc, or None where the C library is another (then the memory settings below do nothing)."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _return_large_blocks_to_the_system() -> None:
    """Arrays of 8 MB or more get memory of their own that goes back to the system when freed.

    glibc raises its mmap threshold after each large free (up to 32 MB), after which long
    recordings' arrays come from the heap, whose freed pages stay with the process: a 66-minute
    session peaked at 2.41 GB with the default and 2.15 GB with a fixed 8 MB threshold, at the same
    speed (issue 26). Elsewhere than glibc this does nothing.
    """
    libc = _glibc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-3, 8 << 20)  # M_MMAP_THRESHOLD (fixing it also stops the dynamic raise)


def return_freed_memory() -> None:
    """Give the heap pages freed so far back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Called between stages whose working memory is done with and a stage that loads more (the pipeline
    before the coder): freed small blocks otherwise stay with the process and add to the next peak.
    """
    libc = _glibc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@_functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX): then torch models run under bf16
    autocast (the coder's encoders 1.45-2x faster, the speaker encoder's LSTM 3x), changing their outputs by
    <0.1%. Elsewhere bf16 would be emulated (slower), so they stay in float32.
    """
    try:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported()) or bool(torch.cpu._is_amx_tile_supported())
    except Exception:  # private API: absent in some torch builds
        return False


if "MALLOC_MMAP_THRESHOLD_" not in _os.environ:  # the user's own glibc setting wins
    _return_large_blocks_to_the_system()
