"""Sharing: the one policy point that decides whose data a viewer may read."""
