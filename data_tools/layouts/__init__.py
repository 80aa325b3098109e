"""Readers of the upstream layouts that copies of public datasets come in; importing this registers them."""

from data_tools.layouts import dense, kinetics, modelnet, scanobjectnn

__all__ = ["dense", "kinetics", "modelnet", "scanobjectnn"]
