"""Rendering: embeds and texts members see, built from service results."""
