"""Test helpers for cstoolkit and its plugins (published with the ``testing`` extra)."""
