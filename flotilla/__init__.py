"""Flotilla: independent health and care organisations acting as one system."""
