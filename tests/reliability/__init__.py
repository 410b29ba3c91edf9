"""Fault suite: crafted and corrupted inputs, interrupted work, determinism."""
