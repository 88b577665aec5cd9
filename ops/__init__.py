"""Operational checks that run the service for real: load, faults, start-up."""
