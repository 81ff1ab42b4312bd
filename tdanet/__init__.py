"""TDANet (Li, Yang, Hu, ICLR 2023): network and import of the authors' checkpoints."""
from tdanet.model import TDANet

__all__ = ["TDANet"]
