"""AWSSDR blind T60 estimation: spectral decay rates, attentive pooling, and an MLP mapping to seconds."""
from awssdr.features import SDRParams, SilentInputError, spectral_decay_rates
from awssdr.inference import estimate_t60
from awssdr.model import AWSSDR, pad_sdr_batch

__all__ = ["AWSSDR", "SDRParams", "SilentInputError", "estimate_t60", "pad_sdr_batch", "spectral_decay_rates"]
