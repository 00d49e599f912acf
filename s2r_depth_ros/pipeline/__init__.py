"""Per-frame depth processing without ROS: decode, infer, scale, validity, outputs."""

from .decode import ImageFormatError, compressed_to_rgb, decode_image, image_to_depth, image_to_rgb
from .frame_processor import DepthFrame, FrameProcessor, FrameSettings
from .sparse_inputs import SparseInputs

__all__ = ["DepthFrame", "FrameProcessor", "FrameSettings", "ImageFormatError", "SparseInputs",
           "compressed_to_rgb", "decode_image", "image_to_depth", "image_to_rgb"]
