"""Reliability and security: soak under load with faults, hostile input, fuzzing (issue 8)."""
