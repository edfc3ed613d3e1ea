"""Helpers shared by the test suite: free ports, polling with a deadline, a real test broker."""
