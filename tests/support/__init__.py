"""Helpers the tests share: real server processes on loopback, free ports."""
