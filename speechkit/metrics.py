"""Separation metrics on full-length utterances, in float64: SI-SNR(i) and BSS-eval SDR(i).

Every function takes (estimate, reference[, mixture]) in that order, numpy arrays or torch tensors
with samples on the last axis, and returns a python float (one signal) or a numpy array (leading axes).
"""
from dataclasses import dataclass

import fast_bss_eval
import numpy as np
import torch

from speechkit import losses


@dataclass(frozen=True)
class Metric:
    """A reported score: `name` is its key in per-utterance CSVs and summary JSONs; `label` and `unit`
    head its column in printed tables, where `spec` formats its values."""
    name: str
    label: str
    unit: str
    spec: str = ".2f"

    @property
    def heading(self) -> str:
        return f"{self.label} {self.unit}".rstrip()


def table_cells(metrics, values: dict | None = None) -> str:
    """One right-aligned table cell per metric: its heading, or (with `values`) its value, "-" when absent."""
    cells = []
    for metric in metrics:
        if values is None:
            text = metric.heading
        else:
            text = format(values[metric.name], metric.spec) if metric.name in values else "-"
        cells.append(f"{text:>{max(9, len(metric.heading) + 2)}}")
    return "".join(cells)


# What a separation evaluation reports, in this order: the keys of `separation_scores` (less the permutation).
SEPARATION_METRICS = (Metric("si_snr", "SI-SNR", "dB"), Metric("si_snri", "SI-SNRi", "dB"),
                      Metric("sdr", "SDR", "dB"), Metric("sdri", "SDRi", "dB"))


def _float64_tensor(signal) -> torch.Tensor:
    """A detached float64 CPU tensor from a tensor, numpy array (any strides) or sequence."""
    if isinstance(signal, torch.Tensor):
        return signal.detach().cpu().to(torch.float64)
    return torch.from_numpy(np.array(signal, dtype=np.float64))


def _to_python(value: torch.Tensor) -> float | np.ndarray:
    """A float for a single value, else a numpy array."""
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value


def si_snr(estimate, reference) -> float | np.ndarray:
    """SI-SNR in dB (zero-mean), the same formula as the training loss."""
    # estimate, reference: (..., samples) -> (...)
    return _to_python(losses.si_snr(_float64_tensor(estimate), _float64_tensor(reference)))


def si_snri(estimate, reference, mixture) -> float | np.ndarray:
    """SI-SNR improvement in dB: SI-SNR of the estimate minus SI-SNR of the unprocessed mixture."""
    # estimate, reference: (..., samples), mixture: broadcastable, e.g. (samples,) -> (...)
    return si_snr(estimate, reference) - si_snr(mixture, reference)


def sdr(estimate, reference, filter_length: int = 512) -> float | np.ndarray:
    """BSS-eval SDR in dB: the estimate is projected onto `filter_length` delays of the reference."""
    # estimate, reference: (..., samples), broadcastable -> (...)
    estimate, reference = torch.broadcast_tensors(_float64_tensor(estimate), _float64_tensor(reference))
    if (reference == 0).all(-1).any():
        raise ValueError("SDR is undefined for a silent (all-zero) reference signal")
    # fast_bss_eval.sdr(reference, estimate) takes the reference first and then permutes sources, which
    # crashes on a perfect (infinite-SDR) estimate in 0.1.4; sdr_loss(estimate, reference, pairwise=False)
    # is the same quantity, estimate first, unpermuted. Torch inputs: its numpy path fails under numpy 2.
    neg_sdr = fast_bss_eval.sdr_loss(
        estimate[..., None, :], reference[..., None, :], filter_length=filter_length, pairwise=False
    )
    return _to_python(-neg_sdr[..., 0])


def sdri(estimate, reference, mixture, filter_length: int = 512) -> float | np.ndarray:
    """SDR improvement in dB: SDR of the estimate minus SDR of the unprocessed mixture."""
    # estimate, reference: (..., samples), mixture: broadcastable, e.g. (samples,) -> (...)
    return sdr(estimate, reference, filter_length) - sdr(mixture, reference, filter_length)


def separation_scores(estimates, references, mixture) -> dict[str, float | list[int]]:
    """Source-averaged SI-SNR, SI-SNRi, SDR and SDRi after matching estimates to references by SI-SNR.

    `permutation[j]` is the index of the estimate matched to reference j.
    """
    # estimates, references: (n_src, samples), mixture: (samples,) -> dict of floats
    estimates, references, mixture = map(_float64_tensor, (estimates, references, mixture))
    if estimates.ndim != 2 or estimates.shape != references.shape or mixture.shape != estimates.shape[-1:]:
        raise ValueError(
            "expected estimates and references of shape (n_src, samples) and mixture (samples,), got "
            f"{tuple(estimates.shape)}, {tuple(references.shape)} and {tuple(mixture.shape)}"
        )
    _, perm = losses.best_permutation(losses.pairwise_neg_si_snr(estimates[None], references[None]))
    matched = losses.reorder_sources(estimates[None], perm)[0]
    return {
        "si_snr": float(np.mean(si_snr(matched, references))),
        "si_snri": float(np.mean(si_snri(matched, references, mixture))),
        "sdr": float(np.mean(sdr(matched, references))),
        "sdri": float(np.mean(sdri(matched, references, mixture))),
        "permutation": perm[0].tolist(),
    }
