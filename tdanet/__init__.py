"""TDANet (Li, Yang, Hu, ICLR 2023): network, import of the authors' checkpoints, and separation."""
from tdanet.inference import separate
from tdanet.model import TDANet

__all__ = ["TDANet", "separate"]
