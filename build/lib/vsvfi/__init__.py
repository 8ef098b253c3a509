"""vsvfi: video frame interpolation for VapourSynth with ONNX Runtime.

``vsvfi.Interpolate(clip, ratio=None, fps=None, ...)`` returns a lazy higher-frame-rate
clip. Importing this package does not import torch.
"""

from .filter import (PROP_SCENE_CHANGE, PROP_SOURCE, PROP_SYNTHESIZED, PROP_TIMESTEP, SC_THRESHOLD,
                     Interpolate)
from .models import MODELS

__version__ = "0.1.0"
__all__ = ["Interpolate", "MODELS", "SC_THRESHOLD", "PROP_SYNTHESIZED", "PROP_TIMESTEP", "PROP_SOURCE",
           "PROP_SCENE_CHANGE"]
