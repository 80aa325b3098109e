"""Modality-specific tokenizers: each turns one modality's input into ``[B,N,D]`` tokens."""

from m2pt.tokenizers.audio import AudioTokenizer
from m2pt.tokenizers.image import ImageTokenizer
from m2pt.tokenizers.point import PointTokenizer
from m2pt.tokenizers.video import VideoTokenizer

__all__ = ["AudioTokenizer", "ImageTokenizer", "PointTokenizer", "VideoTokenizer"]
