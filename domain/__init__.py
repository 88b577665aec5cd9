"""Isotretinoin clinical knowledge as typed, cited, dated rules: pure Python, standard library only.

Entry point: :func:`domain.engine.evaluate`. Nothing here reads a clock, the environment, a file
or the network, and nothing logs; the API hands the settings in (style.md §0).
"""
