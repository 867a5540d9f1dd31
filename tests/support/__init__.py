"""Helpers the tests share: imported by test modules and fixtures, never a test module itself."""
